//! Growth against analytic limits: Einstein-de Sitter, the LCDM D2 approximation, the
//! Meszaros solution of a matter + radiation universe, and the table's own convergence.

use pm_cosmo::{Amplitude, Background, Cosmology, GrowthTable};

/// In Einstein-de Sitter D1 = a and D2 = -3/7 a^2 exactly; the ODE solution must reproduce it.
#[test]
fn einstein_de_sitter_growth_is_analytic() {
    let c = Cosmology::einstein_de_sitter();
    let g = GrowthTable::new(&c).unwrap();
    let mut worst = (0.0f64, 0.0f64);
    for i in 0..=60 {
        let a = (0.001f64.ln() * (1.0 - i as f64 / 60.0)).exp();
        let at = g.at(a).unwrap();
        worst.0 = worst.0.max((at.d1 / a - 1.0).abs());
        worst.1 = worst
            .1
            .max((at.d2 / (-3.0 / 7.0 * at.d1 * at.d1) - 1.0).abs());
        assert!((at.f1 - 1.0).abs() < 1e-8 && (at.f2 - 2.0).abs() < 1e-8);
        // gp1 = a^3 E dD1/da = a^(3/2), gf1 = 3/2 D1.
        assert!((at.gp1 / a.powf(1.5) - 1.0).abs() < 1e-8);
        assert!((at.gf1 / (1.5 * a) - 1.0).abs() < 1e-8);
        assert!(at.d2d1_da2.abs() < 1e-6 && (at.d2d2_da2 / (-6.0 / 7.0) - 1.0).abs() < 1e-6);
    }
    println!(
        "EdS: max |D1/a - 1| = {:.1e}, max |D2/(-3/7 D1^2) - 1| = {:.1e}",
        worst.0, worst.1
    );
    assert!(worst.0 < 1e-6 && worst.1 < 1e-6, "{worst:?}");
}

/// Largest |D2 / (-3/7 D1^2 Omega_m(a)^(-1/143)) - 1| over 41 scale factors in [a_lo, 1].
fn worst_bouchet_deviation(c: &Cosmology, a_lo: f64) -> f64 {
    let g = GrowthTable::new(c).unwrap();
    let bg = Background::new(c);
    (0..=40)
        .map(|i| {
            let a = (a_lo.ln() * (1.0 - i as f64 / 40.0)).exp();
            let at = g.at(a).unwrap();
            let approx = -3.0 / 7.0 * at.d1 * at.d1 * bg.omega_m_at(a).powf(-1.0 / 143.0);
            (at.d2 / approx - 1.0).abs()
        })
        .fold(0.0, f64::max)
}

/// Bouchet et al. (1995): in flat LCDM D2 ~ -3/7 D1^2 Omega_m(a)^(-1/143), to better than 1%.
#[test]
fn lcdm_second_order_growth_follows_bouchet() {
    let mut c = Cosmology::planck18();
    c.include_radiation = false;
    let worst = worst_bouchet_deviation(&c, 0.01);
    println!("LCDM (no radiation): max |D2 / Bouchet - 1| = {worst:.1e} for a in [0.01, 1]");
    assert!(worst < 0.01, "{worst}");
    // Bouchet's formula is for matter + Lambda; with radiation the same holds once matter
    // dominates well (a >= 0.1, a_eq / a < 0.3%). At a = 0.01 radiation delays D2 by ~2%.
    let worst = worst_bouchet_deviation(&Cosmology::planck18(), 0.1);
    println!("LCDM with radiation: max |D2 / Bouchet - 1| = {worst:.1e} for a in [0.1, 1]");
    assert!(worst < 0.01, "{worst}");
}

/// Matter + radiation, no dark energy (Omega_m + Omega_r = 1): the growing mode is
/// D ∝ a + 2/3 a_eq (Meszaros 1974) at all a, which tests the radiation terms of the ODE.
#[test]
fn matter_plus_radiation_follows_meszaros() {
    let mut c = Cosmology::einstein_de_sitter();
    c.include_radiation = true;
    // Put all that is not radiation into matter so that Omega_de = 0.
    let or = c.omega_r();
    c.omega_c -= or;
    c.w0 = -1.0;
    let g = GrowthTable::new(&c).unwrap();
    let aeq = Background::new(&c).a_equality();
    let mut worst = 0.0f64;
    for i in 0..=40 {
        let a = (1e-4f64.ln() * (1.0 - i as f64 / 40.0)).exp();
        let exact = (a + 2.0 / 3.0 * aeq) / (1.0 + 2.0 / 3.0 * aeq);
        worst = worst.max((g.d1(a) / exact - 1.0).abs());
    }
    println!("Meszaros: max rel. error {worst:.1e} for a in [1e-4, 1]");
    assert!(worst < 1e-8, "{worst}");
}

/// The tabulated growth converges: a table at 1/4 of the default spacing agrees with the
/// default one to 1e-9 at arbitrary a (midpoints included), which bounds the combined
/// integration and interpolation error of the default table.
#[test]
fn growth_interpolation_error() {
    for c in [Cosmology::planck18(), w0wa()] {
        let g = GrowthTable::new(&c).unwrap();
        let fine = GrowthTable::with_spacing(&c, pm_cosmo::DEFAULT_DLNA / 4.0).unwrap();
        let mut worst = 0.0f64;
        for i in 0..=997 {
            let a = (0.005f64.ln() + (2.0f64.ln() - 0.005f64.ln()) * i as f64 / 997.0).exp();
            let (x, y) = (g.at(a).unwrap(), fine.at(a).unwrap());
            for (p, q) in [
                (x.d1, y.d1),
                (x.d2, y.d2),
                (x.f1, y.f1),
                (x.f2, y.f2),
                (x.gp1, y.gp1),
            ] {
                worst = worst.max((p / q - 1.0).abs());
            }
        }
        println!("growth table: max rel. deviation from a 4x finer table = {worst:.1e}");
        assert!(worst < 1e-9, "{worst}");
    }
}

#[test]
fn out_of_range_scale_factor_is_an_error() {
    let g = GrowthTable::new(&Cosmology::planck18()).unwrap();
    let e = g.at(10.0).unwrap_err().to_string();
    assert!(e.contains("a = 10") && e.contains("outside"), "{e}");
    assert!(g.check_range(0.01, 1.0).is_ok() && g.check_range(0.0, 1.0).is_err());
}

fn w0wa() -> Cosmology {
    Cosmology {
        w0: -0.8,
        wa: -0.3,
        amplitude: Amplitude::Sigma8(0.8),
        ..Cosmology::planck18()
    }
}

/// Deep in the radiation era D2 follows the power-series solution of its equation in
/// y = a / a_eq, D2 = a_eq^2 sum c_n y^n with c = (0, -2/3, -1/2, 1/36, -1/64, 33/3200)
/// (recursion 2 (n+1)^2 c_{n+1} + (2n^2 + n - 3) c_n = source_n), up to the common
/// normalisation that D1 = a_eq (y + 2/3) fixes. This checks the radiation terms of the D2
/// equation, integrated from a = 1e-8 to where the table starts.
#[test]
fn radiation_era_second_order_growth_follows_its_series() {
    let c = Cosmology::planck18();
    let g = GrowthTable::new(&c).unwrap();
    let aeq = Background::new(&c).a_equality();
    let coef = [
        0.0,
        -2.0 / 3.0,
        -0.5,
        1.0 / 36.0,
        -1.0 / 64.0,
        33.0 / 3200.0,
    ];
    let mut worst = 0.0f64;
    for y in [0.04, 0.05, 0.07] {
        let a = y * aeq;
        let at = g.at(a).unwrap();
        // Normalisation of the table: D1 = norm * a_eq (y + 2/3).
        let norm = at.d1 / (aeq * (y + 2.0 / 3.0));
        let series: f64 = coef
            .iter()
            .enumerate()
            .map(|(n, c)| c * y.powi(n as i32))
            .sum();
        let expect = norm * norm * aeq * aeq * series;
        worst = worst.max((at.d2 / expect - 1.0).abs());
    }
    println!("radiation era: max |D2 / series - 1| = {worst:.1e}");
    assert!(worst < 1e-6, "{worst}");
}
