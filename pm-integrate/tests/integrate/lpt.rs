//! 2LPT against perturbation theory: two crossed plane waves, whose displacements are known
//! in closed form and whose second-order density is the F2 kernel of Eulerian perturbation
//! theory.

use pm_decomp::SerialComm;
use std::f64::consts::PI;

use pm_cosmo::{Cosmology, GrowthTable};
use pm_fft::CpuFft3d;
use pm_integrate::{Lpt, LptOrder};
use pm_mesh::{Mesh, RealField};

/// `delta_L = eps [cos(k x) + cos(k y)]` at a = 1 on an `n^3` grid of side `box_size`.
fn crossed_waves(n: usize, box_size: f64, eps: f64) -> Lpt<f64> {
    let mesh = Mesh::cubic(n, box_size).unwrap();
    let k = 2.0 * PI / box_size;
    let cell = box_size / n as f64;
    let mut delta = RealField::<f64>::zeros(mesh);
    for ((i, j, _), v) in delta.data_mut().indexed_iter_mut() {
        *v = eps * ((k * i as f64 * cell).cos() + (k * j as f64 * cell).cos());
    }
    let plan = CpuFft3d::<f64>::new(mesh.shape()).unwrap();
    let modes = delta.forward(&plan).unwrap();
    Lpt::new(&SerialComm, &whole(modes.mesh()), &modes, LptOrder::Second).unwrap()
}

#[test]
fn displacements_match_the_closed_form() {
    // phi1 = -eps (cos kx + cos ky) / k^2, psi1 = -grad phi1 = -eps / k (sin kx, sin ky, 0);
    // nabla^2 phi2 = phi_xx phi_yy = eps^2 cos kx cos ky, psi2 = grad phi2
    //   = eps^2 / (2k) (sin kx cos ky, cos kx sin ky, 0).
    // Spectral derivatives of a band-limited field are exact: 1e-12 relative.
    let (n, box_size, eps) = (16, 100.0, 0.3);
    let lpt = crossed_waves(n, box_size, eps);
    let k = 2.0 * PI / box_size;
    let lattice = lpt.lattice();
    let psi2 = lpt.psi2().unwrap();
    let mut err1 = 0.0f64;
    let mut err2 = 0.0f64;
    for (i, (p1, p2)) in lpt.psi1().iter().zip(psi2).enumerate() {
        let q = lattice.q(i);
        let (sx, cx, sy, cy) = (
            (k * q[0]).sin(),
            (k * q[0]).cos(),
            (k * q[1]).sin(),
            (k * q[1]).cos(),
        );
        let want1 = [-eps * sx / k, -eps * sy / k, 0.0];
        let want2 = [
            eps * eps / (2.0 * k) * sx * cy,
            eps * eps / (2.0 * k) * cx * sy,
            0.0,
        ];
        for a in 0..3 {
            err1 = err1.max((p1[a] - want1[a]).abs());
            err2 = err2.max((p2[a] - want2[a]).abs());
        }
    }
    println!(
        "max |psi1 - exact| = {err1:.2e} (scale {:.2e}), max |psi2 - exact| = {err2:.2e} (scale {:.2e})",
        eps / k,
        eps * eps / (2.0 * k)
    );
    assert!(err1 < 1e-12 * eps / k);
    assert!(err2 < 1e-12 * eps * eps / k);
}

/// Fourier coefficient of the particle overdensity, `(2/N) sum_i cos(K . x_i)`: the
/// amplitude `C` of a `C cos(K . x)` term of delta, computed from the particles exactly (no
/// mesh, so no window or aliasing).
fn density_cosine(lpt: &Lpt<f64>, disp: &[[f64; 3]], kvec: [f64; 3]) -> f64 {
    let lattice = lpt.lattice();
    let sum: f64 = (0..lattice.len())
        .map(|i| {
            let q = lattice.q(i);
            let phase: f64 = (0..3).map(|a| kvec[a] * (q[a] + disp[i][a])).sum();
            phase.cos()
        })
        .sum();
    2.0 * sum / lattice.len() as f64
}

#[test]
fn second_order_density_is_the_perturbation_theory_one() {
    // Eulerian PT: the cos((k1+k2).x) amplitude of delta for delta_1 = A (cos k1.x + cos k2.x)
    // is F2(k1, k2) A^2, with F2 = 5/7 for orthogonal k1, k2 in Einstein-de Sitter. 2LPT in
    // any cosmology gives eps^2 (D1^2 - D2) / 2: D1^2/2 from the Zel'dovich mapping and
    // -D2/2 from psi2; with D2 = -3/7 D1^2 (EdS) that is (5/7) (D1 eps)^2. Third-order terms
    // are smaller by D1 eps <= 1e-3; the sum over particles is exact to ~1e-10 relative.
    let (n, box_size, eps) = (32, 200.0, 1e-3);
    let lpt = crossed_waves(n, box_size, eps);
    let k = 2.0 * PI / box_size;
    for cosmology in [Cosmology::einstein_de_sitter(), Cosmology::planck18()] {
        let growth = GrowthTable::new(&cosmology).unwrap();
        for a in [0.1, 1.0] {
            let state = lpt.state(a, &growth).unwrap();
            let g = growth.at(a).unwrap();
            let first = density_cosine(&lpt, &state.disp, [k, 0.0, 0.0]);
            let second = density_cosine(&lpt, &state.disp, [k, k, 0.0]);
            let want2 = eps * eps * (g.d1 * g.d1 - g.d2) / 2.0;
            println!(
                "a = {a}: first order {first:.9e} (want {:.9e}), second order {second:.9e} (want {want2:.9e}), F2 = {:.6}",
                eps * g.d1,
                second / (eps * g.d1).powi(2)
            );
            assert!((first / (eps * g.d1) - 1.0).abs() < 1e-5);
            assert!((second / want2 - 1.0).abs() < 2e-3, "a = {a}");
            if cosmology.omega_de() == 0.0 {
                assert!((second / (eps * g.d1).powi(2) - 5.0 / 7.0).abs() < 2e-3);
            }
            // Momenta: p = gp1 psi1 + gp2 psi2 (so that dx/da = p / (a^3 E)).
            let i = 77;
            let want_p = lpt.combine(i, g.gp1, g.gp2);
            for (got, want) in state.mom[i].iter().zip(want_p) {
                assert!((got - want).abs() <= 1e-14 * want.abs().max(1e-30));
            }
        }
    }
}

#[test]
fn first_order_lpt_has_no_second_order_term() {
    let mesh = Mesh::cubic(8, 50.0).unwrap();
    let plan = CpuFft3d::<f64>::new(mesh.shape()).unwrap();
    let modes = RealField::<f64>::zeros(mesh).forward(&plan).unwrap();
    let lpt = Lpt::new(&SerialComm, &whole(modes.mesh()), &modes, LptOrder::First).unwrap();
    assert!(lpt.psi2().is_none());
    let growth = GrowthTable::new(&Cosmology::planck18()).unwrap();
    let state = lpt.state(0.5, &growth).unwrap();
    assert!(state.disp.iter().flatten().all(|v| *v == 0.0));
}

/// The one-rank block of `mesh` (the grid of a serial run).
fn whole<T: pm_fft::Real>(mesh: &pm_mesh::Mesh) -> pm_mesh::MeshBlock<T> {
    pm_mesh::MeshBlock::whole(*mesh).unwrap()
}
