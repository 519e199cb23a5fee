//! Property tests over random valid cosmologies: D1 grows with a, chi grows with redshift
//! (falls with a), and a(chi(a)) = a to 1e-10.

use pm_cosmo::{Amplitude, Cosmology, DistanceTable, GrowthTable};
use proptest::prelude::*;

prop_compose! {
    fn cosmology()(
        omega_c in 0.05f64..0.6,
        omega_b in 0.01f64..0.08,
        h in 0.5f64..0.9,
        n_s in 0.85f64..1.1,
        sigma8 in 0.5f64..1.1,
        w0 in -1.5f64..-0.5,
        wa in -1.0f64..0.4,
        omega_k in -0.1f64..0.1,
        include_radiation in any::<bool>(),
    ) -> Cosmology {
        Cosmology {
            omega_c, omega_b, h, n_s, amplitude: Amplitude::Sigma8(sigma8), w0,
            // Keep w0 + wa < 0 (validation requires it).
            wa: wa.min(-w0 - 0.05),
            omega_k, t_cmb: 2.7255, n_eff: 3.044, include_radiation,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn growth_and_distance_are_monotone_and_invertible(c in cosmology()) {
        prop_assume!(c.validate().is_ok());
        let g = GrowthTable::new(&c).unwrap();
        let d = DistanceTable::new(&c).unwrap();
        let n = 200;
        let mut prev: Option<(f64, f64)> = None;
        for i in 0..=n {
            let a = (0.01f64.ln() * (1.0 - i as f64 / n as f64)).exp();
            let d1 = g.d1(a);
            let chi = d.chi(a).unwrap();
            if let Some((d1_prev, chi_prev)) = prev {
                prop_assert!(d1 > d1_prev, "D1 not increasing at a = {a}");
                prop_assert!(chi < chi_prev, "chi not increasing with redshift at a = {a}");
            }
            prev = Some((d1, chi));
            if a < 1.0 {
                let back = d.a_of_chi(chi).unwrap();
                prop_assert!((back - a).abs() <= 1e-10 * a, "a(chi(a)) = {back} for a = {a}");
            }
        }
    }
}
