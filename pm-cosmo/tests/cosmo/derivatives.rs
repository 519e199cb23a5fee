//! Every parameter derivative carried by the dual numbers agrees with a central finite
//! difference to 1e-6 relative (f64).
//!
//! The finite differences are Richardson-extrapolated central differences (error O(step^4));
//! with step 2e-3 the truncation error is ~1e-11 relative and rounding ~1e-13, far below the
//! 1e-6 asked. Because the tables use fixed steps, the dual derivative is the exact derivative
//! of the very function the finite difference samples.

use pm_cosmo::{
    Amplitude, Background, Cosmology, DistanceTable, GrowthTable, Param, ParamDual, derivative,
};

const STEP: f64 = 2e-3;

/// Richardson-extrapolated central difference of f along parameter p.
fn fd(c: &Cosmology, p: Param, f: &dyn Fn(&Cosmology) -> f64) -> f64 {
    let central = |h: f64| (f(&c.shifted(p, h)) - f(&c.shifted(p, -h))) / (2.0 * h);
    (4.0 * central(STEP / 2.0) - central(STEP)) / 3.0
}

/// Checks one quantity: `dual` computes it with dual numbers, `plain` with f64.
fn check(
    label: &str,
    c: &Cosmology,
    dual: &dyn Fn(&Cosmology<ParamDual>) -> ParamDual,
    plain: &dyn Fn(&Cosmology) -> f64,
) -> f64 {
    let v = dual(&c.with_gradients());
    let value = plain(c);
    assert!(
        (v.re - value).abs() <= 1e-10 * value.abs(),
        "{label}: value {} vs {value}",
        v.re
    );
    let mut worst = 0.0f64;
    for p in Param::ALL {
        let exact = derivative(&v, p);
        let approx = fd(c, p, plain);
        // Relative to the derivative, with a floor of 1e-9 |value| for derivatives that vanish.
        let scale = approx.abs().max(1e-9 * value.abs());
        let err = (exact - approx).abs() / scale;
        assert!(
            err < 1e-6,
            "{label}: d/d{} dual {exact:e} vs finite difference {approx:e} (rel. error {err:.1e})",
            p.name()
        );
        worst = worst.max(err);
    }
    worst
}

fn cosmologies() -> Vec<(&'static str, Cosmology)> {
    let w0wa = Cosmology {
        w0: -0.8,
        wa: -0.3,
        omega_k: 0.03,
        amplitude: Amplitude::Sigma8(0.8),
        ..Cosmology::planck18()
    };
    vec![("planck18", Cosmology::planck18()), ("w0wa_open", w0wa)]
}

#[test]
fn growth_derivatives_match_finite_differences() {
    for (name, c) in cosmologies() {
        let mut worst = 0.0f64;
        for &a in &[0.02, 0.1, 0.37, 0.8, 1.0, 1.5] {
            type Get = fn(&pm_cosmo::GrowthAt<ParamDual>) -> ParamDual;
            type GetF = fn(&pm_cosmo::GrowthAt<f64>) -> f64;
            let quantities: [(&str, Get, GetF); 10] = [
                ("D1", |g| g.d1, |g| g.d1),
                ("D2", |g| g.d2, |g| g.d2),
                ("f1", |g| g.f1, |g| g.f1),
                ("f2", |g| g.f2, |g| g.f2),
                ("dD1/da", |g| g.dd1_da, |g| g.dd1_da),
                ("gp1", |g| g.gp1, |g| g.gp1),
                ("gp2", |g| g.gp2, |g| g.gp2),
                ("gf1", |g| g.gf1, |g| g.gf1),
                ("gf2", |g| g.gf2, |g| g.gf2),
                ("d2D1/da2", |g| g.d2d1_da2, |g| g.d2d1_da2),
            ];
            for (q, get, getf) in quantities {
                if a == 1.0 && q == "D1" {
                    continue; // D1(1) = 1 by construction: all derivatives vanish exactly.
                }
                let w = check(
                    &format!("{name} {q}(a={a})"),
                    &c,
                    &|c| get(&GrowthTable::new(c).unwrap().at(a).unwrap()),
                    &|c| getf(&GrowthTable::new(c).unwrap().at(a).unwrap()),
                );
                worst = worst.max(w);
            }
        }
        println!("{name}: growth derivatives, worst rel. error vs finite differences {worst:.1e}");
    }
}

#[test]
fn background_and_distance_derivatives_match_finite_differences() {
    for (name, c) in cosmologies() {
        let mut worst = 0.0f64;
        for &a in &[0.02, 0.3, 0.9] {
            worst = worst.max(check(
                &format!("{name} E({a})"),
                &c,
                &|c| Background::new(c).e(a),
                &|c| Background::new(c).e(a),
            ));
            worst = worst.max(check(
                &format!("{name} chi({a})"),
                &c,
                &|c| DistanceTable::new(c).unwrap().chi(a).unwrap(),
                &|c| DistanceTable::new(c).unwrap().chi(a).unwrap(),
            ));
            worst = worst.max(check(
                &format!("{name} d_M({a})"),
                &c,
                &|c| DistanceTable::new(c).unwrap().transverse(a).unwrap(),
                &|c| DistanceTable::new(c).unwrap().transverse(a).unwrap(),
            ));
        }
        for &chi in &[100.0, 1500.0, 5000.0] {
            worst = worst.max(check(
                &format!("{name} a(chi={chi})"),
                &c,
                &|c| DistanceTable::new(c).unwrap().a_of_chi(chi).unwrap(),
                &|c| DistanceTable::new(c).unwrap().a_of_chi(chi).unwrap(),
            ));
        }
        println!("{name}: background/distance derivatives, worst rel. error {worst:.1e}");
    }
}
