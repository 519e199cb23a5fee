//! Differentiating a user's own force (not the PM solve) through the reverse adjoint: a
//! `Forces` + `ForcesVjp` implementation defined here, integrated by the stock FastPM and
//! leapfrog steppers and differentiated by `pm_adjoint::reverse`, against central
//! differences (f64, 1e-6 relative as the other gradient checks).

use std::f64::consts::TAU;

use pm_adjoint::{Integration, StateCotangent, reverse};
use pm_cosmo::{Cosmology, GrowthTable};
use pm_decomp::{Comm, SerialComm};
use pm_integrate::{
    FastPm, ForceParamsVjp, Forces, ForcesVjp, IntegrateError, Leapfrog, State, Stepper, TimeSteps,
    kdk_step,
};
use pm_mesh::{Lattice, Positions};
use pm_testkit::{dot3, signed};

/// A periodic restoring force towards the planes `x_a = 0 mod L` plus a weak coupling of the
/// axes, with a strength `kappa` (the one parameter):
///
/// ```text
/// F_a(x) = -kappa (L / 2 pi) [sin(2 pi x_a / L) + 0.3 sin(2 pi x_{a+1} / L)]
/// ```
///
/// smooth and periodic, so central differences are exact to O(h^2).
struct Waves {
    kappa: f64,
    box_size: f64,
}

impl Waves {
    fn force(&self, x: [f64; 3]) -> [f64; 3] {
        let k = TAU / self.box_size;
        std::array::from_fn(|a| {
            -self.kappa / k * ((k * x[a]).sin() + 0.3 * (k * x[(a + 1) % 3]).sin())
        })
    }
}

impl Forces<f64> for Waves {
    fn accelerations(
        &self,
        _: &dyn Comm,
        positions: &Positions<'_, f64>,
        out: &mut [[f64; 3]],
    ) -> Result<(), IntegrateError> {
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.force(positions.position(i));
        }
        Ok(())
    }
}

impl ForcesVjp<f64> for Waves {
    fn n_params(&self) -> usize {
        1
    }

    /// `dF_a/dx_a = -kappa cos(k x_a)`, `dF_a/dx_{a+1} = -0.3 kappa cos(k x_{a+1})`,
    /// `dF/dkappa = F / kappa`.
    fn accelerations_vjp(
        &self,
        _: &dyn Comm,
        positions: &Positions<'_, f64>,
        cotangent: &[[f64; 3]],
        acc: Option<&mut [[f64; 3]]>,
        grad: &mut [[f64; 3]],
    ) -> Result<ForceParamsVjp, IntegrateError> {
        let k = TAU / self.box_size;
        let mut dkappa = 0.0;
        let mut forces = Vec::with_capacity(cotangent.len());
        for (i, (v, g)) in cotangent.iter().zip(grad.iter_mut()).enumerate() {
            let x = positions.position(i);
            let f = self.force(x);
            for a in 0..3 {
                g[a] -= self.kappa * v[a] * (k * x[a]).cos();
                let b = (a + 1) % 3;
                g[b] -= 0.3 * self.kappa * v[a] * (k * x[b]).cos();
                dkappa += v[a] * f[a] / self.kappa;
            }
            forces.push(f);
        }
        if let Some(acc) = acc {
            acc.copy_from_slice(&forces);
        }
        Ok(ForceParamsVjp {
            prefactor: 0.0,
            params: vec![dkappa],
        })
    }
}

fn vectors(n: usize, seed: u64) -> Vec<[f64; 3]> {
    (0..n)
        .map(|i| std::array::from_fn(|a| signed((3 * i + a) as u64, seed)))
        .collect()
}

/// `L = <w, disp_N> + <v, mom_N>` of the run of `start` with `forces`.
fn objective(
    stepper: &dyn Stepper,
    forces: &Waves,
    a: &[f64],
    start: &State<f64>,
    (w, v): (&[[f64; 3]], &[[f64; 3]]),
) -> f64 {
    let mut state = start.clone();
    for &a1 in &a[1..] {
        kdk_step(&SerialComm, stepper, forces, &mut state, a1, None).unwrap();
    }
    dot3(w, &state.disp) + dot3(v, &state.mom)
}

#[test]
fn a_custom_force_is_differentiated_through_the_reverse_adjoint() {
    let cosmology = Cosmology::planck18();
    let growth = std::sync::Arc::new(GrowthTable::new(&cosmology).unwrap());
    let steppers: [(&str, Box<dyn Stepper>); 2] = [
        ("fastpm", Box::new(FastPm::new(growth.clone()))),
        ("leapfrog", Box::new(Leapfrog::new(growth))),
    ];
    let box_size = 10.0;
    let lattice = Lattice::cubic(3, box_size).unwrap();
    let n = lattice.len();
    let a = TimeSteps::LinearA {
        a_start: 0.2,
        a_end: 1.0,
        steps: 4,
    }
    .scale_factors()
    .unwrap();
    let disp: Vec<[f64; 3]> = vectors(n, 1).iter().map(|v| v.map(|x| 2.0 * x)).collect();
    let start = State::new(lattice, a[0], disp, vectors(n, 2)).unwrap();
    let (w, v) = (vectors(n, 3), vectors(n, 4));
    let (u, s) = (vectors(n, 5), vectors(n, 6));
    let kappa = 0.8;
    for (name, stepper) in &steppers {
        let forces = Waves { kappa, box_size };
        let mut end = start.clone();
        for &a1 in &a[1..] {
            kdk_step(&SerialComm, stepper.as_ref(), &forces, &mut end, a1, None).unwrap();
        }
        let run = Integration {
            stepper: stepper.as_ref(),
            forces: &forces,
            scale_factors: &a,
        };
        let cotangent = StateCotangent::new(w.clone(), v.clone());
        let back = reverse(&SerialComm, run, end, cotangent).unwrap();
        // The initial state recovered, and the gradient along a random direction of it.
        let recovered = back
            .initial
            .disp
            .iter()
            .flatten()
            .zip(start.disp.iter().flatten())
            .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
        assert!(recovered < 1e-12, "{name}: reversibility {recovered:e}");
        let h = 1e-6;
        let moved = |t: f64| {
            let mut st = start.clone();
            for i in 0..n {
                for k in 0..3 {
                    st.disp[i][k] += t * u[i][k];
                    st.mom[i][k] += t * s[i][k];
                }
            }
            objective(stepper.as_ref(), &forces, &a, &st, (&w, &v))
        };
        let fd = (moved(h) - moved(-h)) / (2.0 * h);
        let adjoint = dot3(&back.cotangent.disp, &u) + dot3(&back.cotangent.mom, &s);
        let rel = (adjoint - fd).abs() / fd.abs();
        println!("{name}: dL/dstate0 . u: adjoint {adjoint:.12e}, fd {fd:.12e}, rel {rel:.1e}");
        assert!(rel < 1e-6, "{name}: {rel:e}");
        // The force's parameter.
        let at = |t: f64| {
            let forces = Waves {
                kappa: kappa + t,
                box_size,
            };
            objective(stepper.as_ref(), &forces, &a, &start, (&w, &v))
        };
        let fd = (at(h) - at(-h)) / (2.0 * h);
        let rel = (back.kernel_params[0] - fd).abs() / fd.abs();
        println!(
            "{name}: dL/dkappa: adjoint {:.12e}, fd {fd:.12e}, rel {rel:.1e}",
            back.kernel_params[0]
        );
        assert!(rel < 1e-6, "{name}: {rel:e}");
        assert_eq!(back.prefactor, 0.0);
    }
}
