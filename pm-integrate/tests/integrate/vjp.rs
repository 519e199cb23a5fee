//! Vector-Jacobian products of the initial conditions (`Lpt::vjp`, `linear_modes_vjp`): the
//! dot-product identity `<y, J x> = <J^T y, x>` in f64, with complex cotangents in the
//! stored-element convention (`<a, b> = sum_stored Re(conj(a_k) b_k)`).

use pm_cosmo::{Cosmology, LinearPower};
use pm_decomp::SerialComm;
use pm_fft::Complex;
use pm_integrate::{
    Lpt, LptCotangent, LptOrder, ModeOptions, linear_modes, linear_modes_vjp, white_noise,
};
use pm_mesh::{FourierField, Mesh, RealField};
use pm_testkit::{SplitMix64, dot3};

/// An arbitrary (not Hermitian) half-complex array, uniform in [-1, 1) per component.
fn random_modes(rng: &mut SplitMix64, mesh: Mesh) -> FourierField<f64> {
    let mut f = FourierField::zeros(mesh);
    for v in f.as_slice_mut() {
        *v = Complex::new(rng.signed(), rng.signed());
    }
    f
}

/// A real field uniform in [-1, 1) per cell.
fn random_real(rng: &mut SplitMix64, mesh: Mesh) -> RealField<f64> {
    let mut f = RealField::zeros(mesh);
    for v in f.as_slice_mut() {
        *v = rng.signed();
    }
    f
}

/// `sum_stored Re(conj(a) b)`.
fn dot_c(a: &FourierField<f64>, b: &FourierField<f64>) -> f64 {
    a.as_slice()
        .iter()
        .zip(b.as_slice())
        .map(|(x, y)| x.re * y.re + x.im * y.im)
        .sum()
}

fn dot_r(a: &RealField<f64>, b: &RealField<f64>) -> f64 {
    a.as_slice()
        .iter()
        .zip(b.as_slice())
        .map(|(x, y)| x * y)
        .sum()
}

fn combine(a: &FourierField<f64>, s: f64, b: &FourierField<f64>) -> FourierField<f64> {
    let mut out = a.clone();
    for (o, v) in out.as_slice_mut().iter_mut().zip(b.as_slice()) {
        *o += v * s;
    }
    out
}

fn meshes() -> [Mesh; 3] {
    [
        Mesh::cubic(8, 64.0).unwrap(),
        // Odd y (no Nyquist frequency along y), non-cubic box.
        Mesh::new([8, 5, 6], [64.0, 40.0, 48.0]).unwrap(),
        Mesh::new([6, 10, 4], [30.0, 50.0, 20.0]).unwrap(),
    ]
}

#[test]
fn lpt_vjp_passes_the_dot_product_test() {
    // psi1 is linear in the modes and psi2 quadratic, so the exact JVP at d along x is the
    // polarisation (Lpt(d + x) - Lpt(d - x)) / 2 (no truncation error). Both sides are sums
    // of O(n) terms of size O(1) that agree to rounding: 1e-10 relative.
    for mesh in meshes() {
        let n = mesh.n_cells();
        let mut rng = SplitMix64::new(11);
        let d = random_modes(&mut rng, mesh);
        let x = random_modes(&mut rng, mesh);
        // (order, whether the psi1 cotangent is zero: the last checks the 2LPT part alone).
        for (order, psi2_only) in [
            (LptOrder::First, false),
            (LptOrder::Second, false),
            (LptOrder::Second, true),
        ] {
            let plus = Lpt::new(
                &SerialComm,
                &whole(combine(&d, 1.0, &x).mesh()),
                &combine(&d, 1.0, &x),
                order,
            )
            .unwrap();
            let minus = Lpt::new(
                &SerialComm,
                &whole(combine(&d, -1.0, &x).mesh()),
                &combine(&d, -1.0, &x),
                order,
            )
            .unwrap();
            let half_diff = |p: &[[f64; 3]], m: &[[f64; 3]]| -> Vec<[f64; 3]> {
                p.iter()
                    .zip(m)
                    .map(|(p, m)| std::array::from_fn(|a| 0.5 * (p[a] - m[a])))
                    .collect()
            };
            let jx1 = half_diff(plus.psi1(), minus.psi1());
            let y = LptCotangent {
                psi1: if psi2_only {
                    vec![[0.0; 3]; n]
                } else {
                    rng.vec3(n)
                },
                psi2: match order {
                    LptOrder::First => None,
                    LptOrder::Second => Some(rng.vec3(n)),
                },
            };
            let mut lhs = dot3(&y.psi1, &jx1);
            if let Some(y2) = &y.psi2 {
                let jx2 = half_diff(plus.psi2().unwrap(), minus.psi2().unwrap());
                lhs += dot3(y2, &jx2);
            }
            let jty = Lpt::vjp(&SerialComm, &whole(d.mesh()), &d, &y).unwrap();
            let rhs = dot_c(&jty, &x);
            let rel = (lhs - rhs).abs() / lhs.abs().max(rhs.abs());
            println!(
                "{:?} {order:?} (psi2 only: {psi2_only}): <y, J x> = {lhs:.12e}, <J^T y, x> = {rhs:.12e}, rel {rel:.1e}",
                mesh.shape()
            );
            assert!(rel < 1e-10, "{rel}");
        }
    }
}

#[test]
fn lpt_vjp_checks_lengths() {
    let mesh = Mesh::cubic(4, 10.0).unwrap();
    let bad = LptCotangent {
        psi1: vec![[0.0; 3]; 63],
        psi2: None,
    };
    let err = Lpt::vjp(&SerialComm, &whole(&mesh), &FourierField::zeros(mesh), &bad).unwrap_err();
    assert!(err.to_string().contains("psi1 cotangent"), "{err}");
}

#[test]
fn linear_modes_vjp_passes_the_dot_product_test() {
    // Without fixed amplitudes the modes are linear in the noise: <y, modes(x)> =
    // <vjp(y), x> to rounding (1e-10). With fixed amplitudes, central differences with
    // h = 1e-6 on O(1) noise: truncation O(h^2), rounding O(1e-16 / h): 1e-7.
    let power = LinearPower::eisenstein_hu(&Cosmology::planck18()).unwrap();
    for mesh in meshes() {
        let mut rng = SplitMix64::new(5);
        let noise = RealField::from_array(mesh, white_noise::<f64>(mesh.shape(), 3)).unwrap();
        let x = random_real(&mut rng, mesh);
        let y = random_modes(&mut rng, mesh);
        for phase_flip in [false, true] {
            let options = ModeOptions {
                fixed_amplitude: false,
                phase_flip,
            };
            let lhs = dot_c(
                &y,
                &linear_modes(&SerialComm, &whole(x.mesh()), &x, &power, options).unwrap(),
            );
            let vjp = linear_modes_vjp(
                &SerialComm,
                &whole(noise.mesh()),
                &noise,
                &power,
                options,
                &y,
            )
            .unwrap();
            let rhs = dot_r(&vjp, &x);
            let rel = (lhs - rhs).abs() / lhs.abs().max(rhs.abs());
            println!(
                "{:?} flip {phase_flip}: <y, J x> = {lhs:.12e}, <J^T y, x> = {rhs:.12e}, rel {rel:.1e}",
                mesh.shape()
            );
            assert!(rel < 1e-10, "{rel}");

            let fixed = ModeOptions {
                fixed_amplitude: true,
                phase_flip,
            };
            let h = 1e-6;
            let at = |s: f64| {
                let mut shifted = noise.clone();
                for (v, dx) in shifted.as_slice_mut().iter_mut().zip(x.as_slice()) {
                    *v += s * dx;
                }
                dot_c(
                    &y,
                    &linear_modes(&SerialComm, &whole(shifted.mesh()), &shifted, &power, fixed)
                        .unwrap(),
                )
            };
            let fd = (at(h) - at(-h)) / (2.0 * h);
            let vjp =
                linear_modes_vjp(&SerialComm, &whole(noise.mesh()), &noise, &power, fixed, &y)
                    .unwrap();
            let adj = dot_r(&vjp, &x);
            let rel = (fd - adj).abs() / fd.abs();
            println!("  fixed amplitude: fd {fd:.12e}, vjp {adj:.12e}, rel {rel:.1e}");
            assert!(rel < 1e-7, "{rel}");
        }
    }
}

/// The one-rank block of `mesh` (the grid of a serial run).
fn whole<T: pm_fft::Real>(mesh: &pm_mesh::Mesh) -> pm_mesh::MeshBlock<T> {
    pm_mesh::MeshBlock::whole(*mesh).unwrap()
}
