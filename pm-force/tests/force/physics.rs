//! Physics of the PM force: a point mass against the periodic (Ewald) force, and a
//! small-amplitude plane wave against linear theory.

use pm_decomp::SerialComm;
use std::f64::consts::PI;

use pm_force::ewald::ewald_force;
use pm_force::{FastPmKernel, ForceKernel, Gravity, NaiveKernel, SharpenedKernel};
use pm_mesh::{Lattice, Mesh, Positions, RealField, paint, readout_vector};
use pm_testkit::SplitMix64;

/// Mean ratio of the PM radial force to the Ewald radial force, and the rms scatter of the
/// ratio, at separations `r` (cells), averaged over random source positions in a cell and
/// random directions.
fn radial_force_curve<K: ForceKernel>(
    gravity: &Gravity<f64, K>,
    radii: &[f64],
    sources: usize,
    directions: usize,
) -> Vec<(f64, f64, f64)> {
    let mesh = *gravity.mesh();
    let n = mesh.shape()[0];
    let box_size = mesh.box_size()[0];
    let cell = box_size / n as f64;
    let mut rng = SplitMix64::new(42);
    let mut sum = vec![0.0; radii.len()];
    let mut sum2 = vec![0.0; radii.len()];
    let mut count = vec![0.0; radii.len()];
    for _ in 0..sources {
        let src: [f64; 3] = std::array::from_fn(|_| (n as f64 / 2.0 + rng.uniform()) * cell);
        let mut rho = RealField::<f64>::zeros(mesh);
        paint(
            &mut rho,
            &Positions::Absolute(&[src]),
            None,
            gravity.scheme(),
        )
        .unwrap();
        let mut rho_k = gravity.block().zeros_fourier();
        gravity
            .block()
            .forward(&SerialComm, rho.as_slice_mut(), &mut rho_k)
            .unwrap();
        // Prefactor c = 4 pi / cell^3 makes the PM force of a unit weight equal the Ewald
        // force of a unit mass: nabla^2 psi = c w cell^3 delta_D.
        let fields = gravity
            .force_fields(&SerialComm, &rho_k, 4.0 * PI / cell.powi(3))
            .unwrap()
            .map(|f| RealField::from_vec(mesh, f).unwrap());
        let mut tests = Vec::new();
        let mut seps = Vec::new();
        for &r in radii {
            for _ in 0..directions {
                let u = rng.unit_vector();
                let sep: [f64; 3] = std::array::from_fn(|a| u[a] * r * cell);
                tests.push(std::array::from_fn(|a| src[a] + sep[a]));
                seps.push(sep);
            }
        }
        let mut f = vec![[0.0; 3]; tests.len()];
        readout_vector(
            &fields,
            &Positions::Absolute(&tests),
            gravity.scheme(),
            &mut f,
        )
        .unwrap();
        for (t, (sep, fpm)) in seps.iter().zip(&f).enumerate() {
            let b = t / directions;
            let fe = ewald_force(*sep, mesh.box_size());
            let r = sep.iter().map(|v| v * v).sum::<f64>().sqrt();
            let radial_pm: f64 = (0..3).map(|a| fpm[a] * sep[a] / r).sum();
            let radial_e: f64 = (0..3).map(|a| fe[a] * sep[a] / r).sum();
            let ratio = radial_pm / radial_e;
            sum[b] += ratio;
            sum2[b] += ratio * ratio;
            count[b] += 1.0;
        }
    }
    radii
        .iter()
        .enumerate()
        .map(|(b, &r)| {
            let mean = sum[b] / count[b];
            (r, mean, (sum2[b] / count[b] - mean * mean).max(0.0).sqrt())
        })
        .collect()
}

#[test]
fn point_mass_force_matches_ewald_from_4_cells_to_a_quarter_box() {
    let n = 64;
    let mesh = Mesh::cubic(n, 64.0).unwrap();
    let radii: Vec<f64> = (0..=10).map(|i| 2f64.powf(i as f64 * 0.5)).collect(); // 1 .. 32 cells
    let kernels: Vec<Box<dyn ForceKernel>> = vec![
        Box::new(NaiveKernel),
        Box::new(FastPmKernel),
        Box::new(SharpenedKernel::new([0.02, 0.02, 0.0])),
        Box::new(SharpenedKernel::with_base(NaiveKernel, [0.02, 0.02, 0.0])),
    ];
    let mut curves = Vec::new();
    for kernel in kernels {
        let name = kernel.name();
        let gravity = Gravity::<f64, _>::cpu(mesh, kernel).unwrap();
        let curve = radial_force_curve(&gravity, &radii, 8, 64);
        println!("{name} (CIC, {n}^3): r [cells], <F_PM/F_Ewald> radial, rms scatter");
        for &(r, mean, rms) in &curve {
            println!("  {r:7.3} {mean:9.5} {rms:9.5}");
        }
        curves.push((name, curve));
    }
    // The naive kernel (and anything built on it) jumps from `k_Ny / k^2` to zero at the
    // Nyquist frequency (an odd operator has no real value there), which rings in real space
    // as `(-1)^j / j` along the axes: its direction-averaged force wanders by 3-4% between
    // 4 and 16 cells with a 10-25% scatter. Its curve is printed, and the 2% requirement is
    // asserted for the kernels that are smooth at the Nyquist frequency.
    for (name, curve) in curves.iter().filter(|(name, _)| !name.contains("naive")) {
        for &(r, mean, _) in curve {
            if (4.0..=n as f64 / 4.0).contains(&r) {
                assert!(
                    (mean - 1.0).abs() < 0.02,
                    "{name}: r = {r} cells, ratio {mean}"
                );
            }
        }
    }
}

/// Lattice of `np^3` particles with a plane-wave displacement `s_x = A sin(k q_x)` along x,
/// on a mesh of `nm^3` cells: the ratio of the PM acceleration to linear theory `c s_x` at
/// the particles, least-squares over all particles.
fn plane_wave_response<K: ForceKernel>(
    gravity: &Gravity<f64, K>,
    np: usize,
    offset: f64,
    mode: usize,
) -> f64 {
    let mesh = *gravity.mesh();
    let box_size = mesh.box_size()[0];
    let lattice = Lattice::cubic(np, box_size)
        .unwrap()
        .with_offset([offset; 3]);
    let k = 2.0 * PI * mode as f64 / box_size;
    let amplitude = 1e-5 * box_size / np as f64;
    let disp: Vec<[f64; 3]> = (0..lattice.len())
        .map(|i| [amplitude * (k * lattice.q(i)[0]).sin(), 0.0, 0.0])
        .collect();
    let mut acc = vec![[0.0; 3]; disp.len()];
    let c = 1.5 * 0.3;
    gravity
        .accelerations(
            &SerialComm,
            &Positions::Displaced {
                lattice,
                disp: &disp,
            },
            c,
            &mut acc,
        )
        .unwrap();
    let (mut num, mut den) = (0.0, 0.0);
    for (a, s) in acc.iter().zip(&disp) {
        num += a[0] * c * s[0];
        den += (c * s[0]) * (c * s[0]);
    }
    num / den
}

/// The exact linear response of one particle per cell (CIC) to a plane wave along x with
/// `w = k dx`: paint and readout of a lattice multiply the mode by `sin(w) / w` (the CIC
/// weights summed over the aliases of a lattice; identical for lattice offsets 0 and 1/2),
/// the kernel by `d(k) k / L(k)`, and window compensation by `sinc(w/2)^-4`.
fn discrete_response<K: ForceKernel>(kernel: &K, w: f64, dx: f64, compensate: bool) -> f64 {
    let k = w / dx;
    let lattice = w.sin() / w;
    let window = if compensate {
        ((0.5 * w).sin() / (0.5 * w)).powi(-4)
    } else {
        1.0
    };
    lattice * kernel.gradient_1d(k, dx) * k / kernel.laplacian_1d(k, dx) * window
}

#[test]
fn plane_wave_gives_the_linear_acceleration() {
    // Linear theory: s_x = A sin(k q), delta = -A k cos(k x), nabla^2 psi = c delta gives
    // F_x = c s_x exactly. On a mesh, one particle per cell, the PM response is the discrete
    // one above; the test asserts it to 1e-4 at every k below Nyquist (the amplitude, 1e-5
    // of a cell, makes second-order terms ~1e-5) and prints how far it is from continuum
    // linear theory, for 1 and 2 mesh cells per particle.
    let np = 32;
    let box_size = 100.0;
    let kernels: Vec<Box<dyn ForceKernel>> = vec![
        Box::new(NaiveKernel),
        Box::new(FastPmKernel),
        Box::new(SharpenedKernel::new([0.3, 0.1, 0.0])),
    ];
    for kernel in &kernels {
        for compensate in [false, true] {
            for offset in [0.0, 0.5] {
                let mesh = Mesh::cubic(np, box_size).unwrap();
                let g = Gravity::<f64, _>::cpu(mesh, kernel)
                    .unwrap()
                    .with_window_compensation(compensate);
                let dx = box_size / np as f64;
                let mut line = Vec::new();
                for m in 1..np / 2 {
                    let got = plane_wave_response(&g, np, offset, m);
                    let w = 2.0 * PI * m as f64 / np as f64;
                    let mut want = discrete_response(kernel, w, dx, compensate);
                    // The sharpening filter along x: f(k_x) g(k) with u_x^2 = (w/pi)^2.
                    if kernel.name().starts_with("sharpened") {
                        want *= kernel.filter([w / dx, 0.0, 0.0], [dx; 3], 0);
                    }
                    assert!(
                        (got - want).abs() < 1e-4,
                        "{} comp={compensate} offset={offset} m={m}: {got} vs {want}",
                        kernel.name()
                    );
                    line.push(format!("{got:.4}"));
                }
                if offset == 0.0 {
                    println!(
                        "1 cell/particle, {}, comp {compensate}: F/(c s) for k/k_Ny = 1/16..15/16: {}",
                        kernel.name(),
                        line.join(" ")
                    );
                }
            }
        }
    }
    // Continuum linear theory is reached only at k << k_Ny; best case (naive kernel with
    // window compensation): 1e-3 up to k = 3/16 k_Ny.
    let mesh = Mesh::cubic(np, box_size).unwrap();
    let g = Gravity::<f64, _>::cpu(mesh, NaiveKernel)
        .unwrap()
        .with_window_compensation(true);
    for m in 1..=3 {
        let r = plane_wave_response(&g, np, 0.0, m);
        assert!((r - 1.0).abs() < 1e-3, "mode {m}: {r}");
    }
    // Two cells per particle (FastPM's usual setting): the lattice's harmonics alias into
    // the force, an extra O(k dx / pi) response; printed for the record.
    let mesh = Mesh::cubic(2 * np, box_size).unwrap();
    for kernel in &kernels[..2] {
        let g = Gravity::<f64, _>::cpu(mesh, kernel).unwrap();
        let line: Vec<String> = (1..np / 2)
            .map(|m| format!("{:.4}", plane_wave_response(&g, np, 0.25, m)))
            .collect();
        println!("2 cells/particle, {}: {}", kernel.name(), line.join(" "));
    }
}
