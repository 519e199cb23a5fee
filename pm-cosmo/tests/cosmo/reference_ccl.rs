//! Background, growth and distances against CCL (vectors made by
//! `ref/make_background_reference.py`): E, D1, f1, chi and d_M to 1e-4 relative for
//! a in [0.01, 1] at three cosmologies (Planck 2018, w0-wa, open wCDM).

use crate::common;

use pm_cosmo::{Background, DistanceTable, GrowthTable};

fn rel(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        a.abs()
    } else {
        (a / b - 1.0).abs()
    }
}

#[test]
fn background_growth_and_distances_match_ccl() {
    for (name, c) in common::reference_cosmologies() {
        let bg = Background::new(&c);
        let g = GrowthTable::new(&c).unwrap();
        let d = DistanceTable::new(&c).unwrap();
        let mut worst = [0.0f64; 5];
        for row in common::read_table(&format!("background_{name}.txt")) {
            let a = row[0];
            let at = g.at(a).unwrap();
            let errs = [
                rel(bg.e(a), row[1]),
                rel(at.d1, row[2]),
                rel(at.f1, row[3]),
                if a < 1.0 {
                    rel(d.chi(a).unwrap(), row[4])
                } else {
                    d.chi(a).unwrap().abs()
                },
                if a < 1.0 {
                    rel(d.transverse(a).unwrap(), row[5])
                } else {
                    0.0
                },
            ];
            for (w, e) in worst.iter_mut().zip(errs) {
                *w = w.max(e);
            }
        }
        println!(
            "{name}: max rel. error vs CCL  E {:.1e}  D1 {:.1e}  f1 {:.1e}  chi {:.1e}  d_M {:.1e}",
            worst[0], worst[1], worst[2], worst[3], worst[4]
        );
        for (q, w) in ["E", "D1", "f1", "chi", "d_M"].iter().zip(worst) {
            assert!(w < 1e-4, "{name}: {q} differs from CCL by {w:.2e} relative");
        }
    }
}
