//! Mass assignment: paint / readout, their VJPs, window compensation and interlacing.
//!
//! Every tolerance is stated with its reason beside the assertion.

use pm_fft::{CpuFft3d, Fft3d};
use pm_mesh::{
    FourierField, Lattice, Mesh, MeshError, Positions, Real, RealField, Scheme, VectorReadout,
    deconvolve, mean_particle_mass, paint, paint_interlaced, paint_vjp, readout, readout_vector,
    readout_vector_and_vjp, readout_vector_vjp, readout_vjp,
};
use pm_testkit::SplitMix64;

// ---------------------------------------------------------------------------------------------
// Helpers

fn random_field<T: Real>(mesh: Mesh, rng: &mut SplitMix64) -> RealField<T> {
    let mut f = RealField::zeros(mesh);
    for v in f.as_slice_mut() {
        *v = T::lit(rng.range(-1.0, 1.0));
    }
    f
}

/// Random absolute positions, a quarter of them outside `[0, L)` (up to one box away) and a
/// few within 1e-9 of the faces, to exercise the periodic wrap.
fn random_positions<T: Real>(mesh: &Mesh, n: usize, rng: &mut SplitMix64) -> Vec<[T; 3]> {
    let l = mesh.box_size();
    (0..n)
        .map(|i| {
            std::array::from_fn(|a| {
                let x = match i % 16 {
                    0..=3 => rng.range(-l[a], 2.0 * l[a]),
                    4 => l[a] * (1.0 - 1e-9 * rng.uniform()),
                    5 => -1e-9 * rng.uniform(),
                    6 => 1e-9 * rng.uniform(),
                    _ => rng.range(0.0, l[a]),
                };
                T::lit(x)
            })
        })
        .collect()
}

/// Uniformly random absolute positions (a quarter of them drawn from `[-L, 2L)`, which wrap
/// to uniform positions in the box).
fn uniform_positions<T: Real>(mesh: &Mesh, n: usize, rng: &mut SplitMix64) -> Vec<[T; 3]> {
    let l = mesh.box_size();
    (0..n)
        .map(|i| {
            std::array::from_fn(|a| {
                T::lit(if i % 4 == 0 {
                    rng.range(-l[a], 2.0 * l[a])
                } else {
                    rng.range(0.0, l[a])
                })
            })
        })
        .collect()
}

/// Neumaier-compensated f64 sum of a grid (the plain f64 sum of 32^3 values ~1 already
/// errs by ~1e-9, more than the painting itself).
fn exact_sum<T: Real>(v: &[T]) -> f64 {
    let (mut s, mut c) = (0.0f64, 0.0f64);
    for x in v {
        let x = x.as_f64();
        let t = s + x;
        c += if s.abs() >= x.abs() {
            (s - t) + x
        } else {
            (x - t) + s
        };
        s = t;
    }
    s + c
}

fn dot<T: Real>(a: &[T], b: &[T]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x.as_f64() * y.as_f64()).sum()
}

/// Straightforward sequential f64 paint (no chunking) used as a reference.
fn reference_paint<T: Real>(
    mesh: &Mesh,
    positions: &Positions<'_, T>,
    weights: Option<&[T]>,
    scheme: Scheme,
) -> Vec<f64> {
    let [nx, ny, nz] = mesh.shape();
    let mut grid = vec![0.0; nx * ny * nz];
    for i in 0..positions.len() {
        let u = positions.mesh_coords(i, mesh);
        let w = weights.map_or(1.0, |w| w[i].as_f64());
        let st: [(i64, [f64; 3], [f64; 3]); 3] = std::array::from_fn(|a| scheme.weights(u[a]));
        let s = scheme.support();
        for a in 0..s {
            for b in 0..s {
                for c in 0..s {
                    let ix = (st[0].0 + a as i64).rem_euclid(nx as i64) as usize;
                    let iy = (st[1].0 + b as i64).rem_euclid(ny as i64) as usize;
                    let iz = (st[2].0 + c as i64).rem_euclid(nz as i64) as usize;
                    grid[(ix * ny + iy) * nz + iz] += w * st[0].1[a] * st[1].1[b] * st[2].1[c];
                }
            }
        }
    }
    grid
}

fn paint_new<T: Real>(
    mesh: Mesh,
    positions: &Positions<'_, T>,
    weights: Option<&[T]>,
    scheme: Scheme,
) -> RealField<T> {
    let mut f = RealField::zeros(mesh);
    paint(&mut f, positions, weights, scheme).unwrap();
    f
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Correctness against a naive painter, on meshes that exercise both the chunked and the
// sequential (small nx, support larger than the mesh) code paths.

#[test]
fn paint_and_readout_match_naive_reference() {
    let mut rng = SplitMix64::new(1);
    let meshes = [
        Mesh::new([12, 10, 8], [24.0, 15.0, 12.0]).unwrap(), // chunked for all schemes
        Mesh::new([5, 3, 4], [10.0, 6.0, 8.0]).unwrap(),     // CIC chunked, TSC sequential
        Mesh::new([2, 1, 2], [3.0, 2.0, 5.0]).unwrap(),      // support > n: multiple wraps
        Mesh::new([40, 6, 4], [80.0, 12.0, 8.0]).unwrap(),
    ];
    for mesh in meshes {
        let x = random_positions::<f64>(&mesh, 2000, &mut rng);
        let w: Vec<f64> = (0..x.len()).map(|_| rng.range(0.5, 1.5)).collect();
        let pos = Positions::Absolute(&x);
        let g = random_field::<f64>(mesh, &mut rng);
        for scheme in Scheme::ALL {
            let got = paint_new(mesh, &pos, Some(&w), scheme);
            let want = reference_paint(&mesh, &pos, Some(&w), scheme);
            // Same terms summed in another order: differences of a few ulp of the cell
            // values (<= ~2000 * 1.5), far below 1e-12 of the total mass.
            let total: f64 = w.iter().sum();
            let err = got
                .as_slice()
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(err <= 1e-12 * total, "{mesh:?} {scheme:?} err {err}");

            // Readout against the naive gather.
            let mut r = vec![0.0; x.len()];
            readout(&g, &pos, scheme, &mut r).unwrap();
            for (i, ri) in r.iter().enumerate() {
                let xi = [x[i]];
                let single = reference_paint(&mesh, &Positions::Absolute(&xi), None, scheme);
                let want: f64 = single.iter().zip(g.as_slice()).map(|(a, b)| a * b).sum();
                // Sums of <= 27 products of O(1) numbers: agreement to 1e-14 absolute.
                assert!((ri - want).abs() < 1e-14, "{scheme:?} particle {i}");
                if i > 50 {
                    break;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Dot-product (adjoint) identities

#[test]
fn dot_product_identities() {
    let mut rng = SplitMix64::new(2);
    let mesh = Mesh::new([16, 12, 10], [32.0, 18.0, 25.0]).unwrap();
    let n = 5000;
    let x = random_positions::<f64>(&mesh, n, &mut rng);
    let pos = Positions::Absolute(&x);
    let w: Vec<f64> = (0..n).map(|_| rng.range(-1.0, 1.0)).collect();
    let g = random_field::<f64>(mesh, &mut rng);
    for scheme in Scheme::ALL {
        // <paint(x, w), g> = <w, readout(g, x)>.
        let p = paint_new(mesh, &pos, Some(&w), scheme);
        let mut r = vec![0.0; n];
        readout(&g, &pos, scheme, &mut r).unwrap();
        let lhs = dot(p.as_slice(), g.as_slice());
        let rhs = dot(&w, &r);
        let scale: f64 = w.iter().zip(&r).map(|(a, b)| (a * b).abs()).sum();
        let rel = (lhs - rhs).abs() / scale;
        println!(
            "{scheme:?}: <paint(w), g> = {lhs:.15e}, <w, readout(g)> = {rhs:.15e}, rel {rel:.1e}"
        );
        // Both are the same ~1e5 terms summed in different orders in f64: ~1e-16 relative
        // per term, so 1e-10 relative to the sum of |terms| is a very safe bound.
        assert!(rel < 1e-10, "{scheme:?} rel {rel}");

        // paint_vjp's grad_weights is the readout of the cotangent, accumulated: twice = 2x.
        let mut gw = vec![0.0; n];
        paint_vjp(&g, &pos, Some(&w), scheme, None, Some(&mut gw)).unwrap();
        assert_eq!(gw, r, "{scheme:?}: grad_weights == readout(g) exactly");
        paint_vjp(&g, &pos, Some(&w), scheme, None, Some(&mut gw)).unwrap();
        assert!(gw.iter().zip(&r).all(|(a, b)| *a == 2.0 * b));

        // readout_vjp's grad_field is a paint with weights = cotangent (bitwise: same code).
        let v: Vec<f64> = (0..n).map(|_| rng.range(-1.0, 1.0)).collect();
        let mut gf = RealField::zeros(mesh);
        readout_vjp(&g, &pos, scheme, &v, Some(&mut gf), None).unwrap();
        let pv = paint_new(mesh, &pos, Some(&v), scheme);
        assert_eq!(gf, pv, "{scheme:?}: readout_vjp grad_field == paint(v)");

        // readout_vector equals three scalar readouts (the same f64 gathers: bitwise).
        let fields = [
            random_field::<f64>(mesh, &mut rng),
            random_field::<f64>(mesh, &mut rng),
            random_field::<f64>(mesh, &mut rng),
        ];
        let mut rv = vec![[0.0; 3]; n];
        readout_vector(&fields, &pos, scheme, &mut rv).unwrap();
        for (a, f) in fields.iter().enumerate() {
            readout(f, &pos, scheme, &mut r).unwrap();
            assert!(
                rv.iter().zip(&r).all(|(v3, s)| v3[a] == *s),
                "{scheme:?} component {a}"
            );
        }

        // readout_vector_vjp equals the sum of three scalar readout_vjp's.
        let cv: Vec<[f64; 3]> = (0..n)
            .map(|_| std::array::from_fn(|_| rng.range(-1.0, 1.0)))
            .collect();
        let mut gfs = [
            RealField::zeros(mesh),
            RealField::zeros(mesh),
            RealField::zeros(mesh),
        ];
        let mut gp = vec![[0.0; 3]; n];
        readout_vector_vjp(&fields, &pos, scheme, &cv, Some(&mut gfs), Some(&mut gp)).unwrap();
        let mut gp_sum = vec![[0.0; 3]; n];
        for a in 0..3 {
            let ca: Vec<f64> = cv.iter().map(|c| c[a]).collect();
            let mut gfa = RealField::zeros(mesh);
            readout_vjp(
                &fields[a],
                &pos,
                scheme,
                &ca,
                Some(&mut gfa),
                Some(&mut gp_sum),
            )
            .unwrap();
            assert_eq!(gfa, gfs[a], "{scheme:?} grad_fields[{a}]");
        }
        // The vector VJP sums the three components in f64 before rounding once, the scalar
        // ones round after each component: agreement to a few ulp of |terms| <= ~10.
        for (a, b) in gp.iter().zip(&gp_sum) {
            for k in 0..3 {
                assert!((a[k] - b[k]).abs() < 1e-13, "{scheme:?}");
            }
        }

        // The fused readout + VJP gives bitwise the readout and the VJP of the two calls.
        let mut gfs2 = [
            RealField::zeros(mesh),
            RealField::zeros(mesh),
            RealField::zeros(mesh),
        ];
        let mut gp2 = vec![[0.0; 3]; n];
        let mut rv2 = vec![[0.0; 3]; n];
        let outputs = VectorReadout {
            values: Some(&mut rv2),
            grad_fields: Some(gfs2.each_mut().map(RealField::as_slice_mut)),
            grad_pos: Some(&mut gp2),
        };
        readout_vector_and_vjp(&fields, &pos, scheme, &cv, outputs).unwrap();
        assert_eq!(rv2, rv, "{scheme:?}: fused values");
        assert_eq!(gfs2, gfs, "{scheme:?}: fused grad_fields");
        assert_eq!(gp2, gp, "{scheme:?}: fused grad_pos");
        let mut rv3 = vec![[0.0; 3]; n];
        let outputs = VectorReadout {
            values: Some(&mut rv3),
            ..VectorReadout::default()
        };
        readout_vector_and_vjp(&fields, &pos, scheme, &cv, outputs).unwrap();
        assert_eq!(rv3, rv, "{scheme:?}: fused values alone");

        // Dot-product identity for the readout_vector pair:
        // <cv, readout_vector(F)> = sum_a <grad_fields[a], F[a]>.
        let lhs: f64 = rv
            .iter()
            .zip(&cv)
            .map(|(o, c)| (0..3).map(|a| o[a] * c[a]).sum::<f64>())
            .sum();
        let rhs: f64 = (0..3)
            .map(|a| dot(gfs[a].as_slice(), fields[a].as_slice()))
            .sum();
        let rel = (lhs - rhs).abs() / lhs.abs().max(1.0);
        println!("{scheme:?}: readout_vector dot-product identity rel {rel:.1e}");
        assert!(rel < 1e-10, "{scheme:?} rel {rel}");
    }
}

// ---------------------------------------------------------------------------------------------
// Finite differences of the position gradients

#[derive(Clone, Copy, Debug)]
enum Kind {
    Absolute,
    Displaced,
}

fn make_positions<'a>(kind: Kind, lattice: &Lattice, p: &'a [[f64; 3]]) -> Positions<'a, f64> {
    match kind {
        Kind::Absolute => Positions::Absolute(p),
        Kind::Displaced => Positions::Displaced {
            lattice: *lattice,
            disp: p,
        },
    }
}

/// Particles whose cell coordinates have fractional parts in (0.05, 0.45) or (0.55, 0.95),
/// i.e. at least 0.05 cells from the kinks of CIC (integers) and TSC (half-integers); as
/// absolute positions or as displacements from `lattice` (sometimes a box away, to wrap).
fn smooth_particles(
    mesh: &Mesh,
    lattice: &Lattice,
    kind: Kind,
    rng: &mut SplitMix64,
) -> Vec<[f64; 3]> {
    let shape = mesh.shape();
    let cell = mesh.cell_size();
    let l = mesh.box_size();
    (0..lattice.len())
        .map(|i| {
            let q = lattice.q(i);
            std::array::from_fn(|a| {
                let j = (rng.uniform() * shape[a] as f64).floor();
                let mut f = rng.range(0.05, 0.45);
                if rng.uniform() < 0.5 {
                    f += 0.5;
                }
                let x = (j + f) * cell[a] + l[a] * (rng.uniform() * 3.0).floor() - l[a];
                match kind {
                    Kind::Absolute => x,
                    Kind::Displaced => x - q[a],
                }
            })
        })
        .collect()
}

fn shifted(p: &[[f64; 3]], d: &[[f64; 3]], eps: f64) -> Vec<[f64; 3]> {
    p.iter()
        .zip(d)
        .map(|(p, d)| std::array::from_fn(|a| p[a] + eps * d[a]))
        .collect()
}

fn directional(grad: &[[f64; 3]], d: &[[f64; 3]]) -> (f64, f64) {
    let terms = grad
        .iter()
        .zip(d)
        .map(|(g, d)| g[0] * d[0] + g[1] * d[1] + g[2] * d[2]);
    let sum = terms.clone().sum();
    let scale = terms.map(f64::abs).sum();
    (sum, scale)
}

#[test]
fn position_gradients_match_finite_differences() {
    let mut rng = SplitMix64::new(3);
    let mesh = Mesh::new([12, 10, 8], [24.0, 15.0, 12.0]).unwrap(); // cells 2, 1.5, 1.5
    let lattice = Lattice::new([6, 5, 4], mesh.box_size()).unwrap();
    let n = lattice.len();
    let g = random_field::<f64>(mesh, &mut rng);
    let fields = [
        random_field::<f64>(mesh, &mut rng),
        random_field::<f64>(mesh, &mut rng),
        random_field::<f64>(mesh, &mut rng),
    ];
    let w: Vec<f64> = (0..n).map(|_| rng.range(0.5, 1.5)).collect();
    let v: Vec<f64> = (0..n).map(|_| rng.range(-1.0, 1.0)).collect();
    let v3: Vec<[f64; 3]> = (0..n)
        .map(|_| std::array::from_fn(|_| rng.range(-1.0, 1.0)))
        .collect();
    // Step 1e-6 Mpc/h times a direction of O(1 cell): the particles move < 1e-5 cells, so
    // they stay 0.05 cells away from the kinks and every objective is a polynomial of
    // degree <= 6 along the path; the central-difference truncation error is ~eps^2 and the
    // rounding error ~1e-16 * |L| / eps ~ 1e-9 relative. Tolerance 1e-6 relative to the
    // sum of |per-particle terms|.
    let eps = 1e-6;
    for kind in [Kind::Absolute, Kind::Displaced] {
        let p = smooth_particles(&mesh, &lattice, kind, &mut rng);
        let d: Vec<[f64; 3]> = (0..n)
            .map(|_| std::array::from_fn(|a| rng.range(-1.0, 1.0) * mesh.cell_size()[a]))
            .collect();
        let (pp, pm) = (shifted(&p, &d, eps), shifted(&p, &d, -eps));
        let pos = make_positions(kind, &lattice, &p);
        let pos_p = make_positions(kind, &lattice, &pp);
        let pos_m = make_positions(kind, &lattice, &pm);
        for scheme in [Scheme::Cic, Scheme::Tsc] {
            // L = <g, paint(x, w)>.
            let obj = |q: &Positions<'_, f64>| {
                dot(
                    paint_new(mesh, q, Some(&w), scheme).as_slice(),
                    g.as_slice(),
                )
            };
            let fd = (obj(&pos_p) - obj(&pos_m)) / (2.0 * eps);
            let mut grad = vec![[0.0; 3]; n];
            paint_vjp(&g, &pos, Some(&w), scheme, Some(&mut grad), None).unwrap();
            let (an, scale) = directional(&grad, &d);
            let rel = (fd - an).abs() / scale;
            println!("{kind:?} {scheme:?} paint_vjp: fd {fd:.12e} vjp {an:.12e} rel {rel:.1e}");
            assert!(rel < 1e-6, "{kind:?} {scheme:?} paint rel {rel}");

            // L = <v, readout(f, x)>.
            let obj = |q: &Positions<'_, f64>| {
                let mut r = vec![0.0; n];
                readout(&fields[0], q, scheme, &mut r).unwrap();
                dot(&r, &v)
            };
            let fd = (obj(&pos_p) - obj(&pos_m)) / (2.0 * eps);
            let mut grad = vec![[0.0; 3]; n];
            readout_vjp(&fields[0], &pos, scheme, &v, None, Some(&mut grad)).unwrap();
            let (an, scale) = directional(&grad, &d);
            let rel = (fd - an).abs() / scale;
            println!("{kind:?} {scheme:?} readout_vjp: rel {rel:.1e}");
            assert!(rel < 1e-6, "{kind:?} {scheme:?} readout rel {rel}");

            // L = sum_i v3_i . readout_vector(F, x)_i.
            let obj = |q: &Positions<'_, f64>| {
                let mut r = vec![[0.0; 3]; n];
                readout_vector(&fields, q, scheme, &mut r).unwrap();
                r.iter()
                    .zip(&v3)
                    .map(|(a, b)| a[0] * b[0] + a[1] * b[1] + a[2] * b[2])
                    .sum::<f64>()
            };
            let fd = (obj(&pos_p) - obj(&pos_m)) / (2.0 * eps);
            let mut grad = vec![[0.0; 3]; n];
            readout_vector_vjp(&fields, &pos, scheme, &v3, None, Some(&mut grad)).unwrap();
            let (an, scale) = directional(&grad, &d);
            let rel = (fd - an).abs() / scale;
            println!("{kind:?} {scheme:?} readout_vector_vjp: rel {rel:.1e}");
            assert!(rel < 1e-6, "{kind:?} {scheme:?} readout_vector rel {rel}");
        }
        // NGP: piecewise constant, the position gradient is zero (buffers left at 0).
        let mut grad = vec![[0.0; 3]; n];
        paint_vjp(&g, &pos, Some(&w), Scheme::Ngp, Some(&mut grad), None).unwrap();
        readout_vjp(&g, &pos, Scheme::Ngp, &v, None, Some(&mut grad)).unwrap();
        readout_vector_vjp(&fields, &pos, Scheme::Ngp, &v3, None, Some(&mut grad)).unwrap();
        assert!(grad.iter().flatten().all(|&x| x == 0.0));
    }
}

// ---------------------------------------------------------------------------------------------
// Uniform lattices and mass conservation

#[test]
fn uniform_lattice_paints_to_zero_delta_exactly() {
    // Cell 3 Mpc/h and lattice spacings 3 or 1.5 Mpc/h: every coordinate in cells is a
    // multiple of 1/4, every weight a dyadic rational with <= 5 fractional bits, so every
    // product and partial sum is exact in f32 and f64 and the result is exactly 1.
    let mesh = Mesh::new([8, 6, 4], [24.0, 18.0, 12.0]).unwrap();
    for scheme in Scheme::ALL {
        for offset in [0.0, 0.5] {
            // One particle per cell.
            let lattice = Lattice::new(mesh.shape(), mesh.box_size())
                .unwrap()
                .with_offset([offset; 3]);
            let m = mean_particle_mass(&mesh, lattice.len());
            assert_eq!(m, 1.0);
            check_lattice::<f64>(&mesh, &lattice, m, scheme);
            check_lattice::<f32>(&mesh, &lattice, m, scheme);
            // Two particles per cell side, mass 1/8.
            let shape2 = mesh.shape().map(|s| 2 * s);
            let lattice2 = Lattice::new(shape2, mesh.box_size())
                .unwrap()
                .with_offset([offset; 3]);
            let m2 = mean_particle_mass(&mesh, lattice2.len());
            assert_eq!(m2, 0.125);
            check_lattice::<f64>(&mesh, &lattice2, m2, scheme);
            check_lattice::<f32>(&mesh, &lattice2, m2, scheme);
        }
    }
    // A generic offset: the CIC weights 1 - t and t no longer sum exactly; delta = 0 holds
    // to a few ulp (measured: below 1e-15).
    let lattice = Lattice::new(mesh.shape(), mesh.box_size())
        .unwrap()
        .with_offset([0.3, 0.71, 0.13]);
    for scheme in Scheme::ALL {
        let disp = vec![[0.0f64; 3]; lattice.len()];
        let pos = Positions::Displaced {
            lattice,
            disp: &disp,
        };
        let w = vec![1.0; lattice.len()];
        let f = paint_new(mesh, &pos, Some(&w), scheme);
        let err = f
            .as_slice()
            .iter()
            .map(|v| (v - 1.0).abs())
            .fold(0.0, f64::max);
        println!("{scheme:?} generic offset: max |delta| = {err:.1e}");
        assert!(err < 1e-14, "{scheme:?} {err}");
    }
}

fn check_lattice<T: Real>(mesh: &Mesh, lattice: &Lattice, mass: f64, scheme: Scheme) {
    let disp = vec![[T::zero(); 3]; lattice.len()];
    let pos = Positions::Displaced {
        lattice: *lattice,
        disp: &disp,
    };
    let w = vec![T::lit(mass); lattice.len()];
    let f = paint_new(*mesh, &pos, Some(&w), scheme);
    assert!(
        f.as_slice().iter().all(|&v| v == T::one()),
        "{scheme:?} {} lattice {:?} offset {:?}",
        T::NAME,
        lattice.shape(),
        lattice.offset()
    );
}

#[test]
fn mass_is_conserved() {
    let mesh = Mesh::cubic(32, 100.0).unwrap();
    let n = 200_000;
    let mut rng = SplitMix64::new(4);
    let x64 = uniform_positions::<f64>(&mesh, n, &mut rng);
    let x32: Vec<[f32; 3]> = x64.iter().map(|p| p.map(|v| v as f32)).collect();
    let m = mean_particle_mass(&mesh, n);
    for scheme in Scheme::ALL {
        let s3 = (scheme.support() as f64).powi(3);
        let f64_sum = {
            let w = vec![m; n];
            exact_sum(paint_new(mesh, &Positions::Absolute(&x64), Some(&w), scheme).as_slice())
        };
        let f32_sum = {
            let w = vec![m as f32; n];
            exact_sum(paint_new(mesh, &Positions::Absolute(&x32), Some(&w), scheme).as_slice())
        };
        // Each of the n S^3 additions into a cell (values ~1, at most ~3) rounds by at most
        // eps/2 of the running value, independently with zero mean: the total error is a
        // random walk of size ~eps sqrt(n S^3). Allow 10x that. The reference is n times the
        // weight as stored in T (for f32, m rounded to f32). The grid is summed with a
        // compensated sum so that the measurement adds no error of its own.
        for (name, got, eps, m_t) in [
            ("f64", f64_sum, f64::EPSILON, m),
            ("f32", f32_sum, f32::EPSILON as f64, m as f32 as f64),
        ] {
            let want = n as f64 * m_t;
            let tol = 10.0 * eps * (n as f64 * s3).sqrt() * 3.0;
            let err = (got - want).abs();
            println!("{scheme:?} {name}: |sum - n m| = {err:.2e} (tol {tol:.2e}, total {want})");
            assert!(err < tol, "{scheme:?} {name} err {err} tol {tol}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Determinism over thread counts

fn check_threads<T: Real>(mesh: Mesh, n: usize, seed: u64) {
    let mut rng = SplitMix64::new(seed);
    let x = random_positions::<T>(&mesh, n, &mut rng);
    let w: Vec<T> = (0..n).map(|_| T::lit(rng.range(0.5, 1.5))).collect();
    let lattice = Lattice::new([n, 1, 1], mesh.box_size()).unwrap();
    let disp: Vec<[T; 3]> = (0..n)
        .map(|i| {
            let q = lattice.q(i);
            std::array::from_fn(|a| T::lit(x[i][a].as_f64() - q[a]))
        })
        .collect();
    let variants = [
        Positions::Absolute(&x),
        Positions::Displaced {
            lattice,
            disp: &disp,
        },
    ];
    for pos in &variants {
        for scheme in Scheme::ALL {
            let grids: Vec<Vec<u64>> = [1, 2, 3]
                .iter()
                .map(|&k| {
                    pool(k).install(|| {
                        let f = paint_new(mesh, pos, Some(&w), scheme);
                        f.as_slice().iter().map(|v| v.as_f64().to_bits()).collect()
                    })
                })
                .collect();
            assert!(
                grids[0] == grids[1],
                "{scheme:?} {} 1 vs 2 threads",
                T::NAME
            );
            assert!(
                grids[0] == grids[2],
                "{scheme:?} {} 1 vs 3 threads",
                T::NAME
            );
            // Readout gradient of the painted field: also thread-independent.
            let g = RealField::from_array(
                mesh,
                ndarray::Array3::from_shape_vec(
                    mesh.shape(),
                    grids[0]
                        .iter()
                        .map(|b| T::lit(f64::from_bits(*b)))
                        .collect(),
                )
                .unwrap(),
            )
            .unwrap();
            let grads: Vec<Vec<[T; 3]>> = [1, 3]
                .iter()
                .map(|&k| {
                    pool(k).install(|| {
                        let mut gp = vec![[T::zero(); 3]; n];
                        paint_vjp(&g, pos, Some(&w), scheme, Some(&mut gp), None).unwrap();
                        gp
                    })
                })
                .collect();
            assert!(grads[0] == grads[1]);
        }
    }
}

#[test]
fn paint_is_bitwise_independent_of_thread_count() {
    // nx = 40: 20 CIC/NGP chunks of 2 slabs, 12 TSC chunks of 3-4 slabs; nx = 64 likewise.
    check_threads::<f64>(
        Mesh::new([40, 24, 16], [80.0, 48.0, 32.0]).unwrap(),
        50_000,
        5,
    );
    check_threads::<f32>(
        Mesh::new([40, 24, 16], [80.0, 48.0, 32.0]).unwrap(),
        50_000,
        6,
    );
    check_threads::<f64>(Mesh::cubic(64, 128.0).unwrap(), 50_000, 7);
    check_threads::<f32>(Mesh::cubic(64, 128.0).unwrap(), 50_000, 8);
}

// ---------------------------------------------------------------------------------------------
// Periodic wrap

#[test]
fn periodic_wrap() {
    let mesh = Mesh::cubic(8, 8.0).unwrap(); // 1 cell = 1 Mpc/h
    let l = 8.0_f64;
    // Just below L along x: CIC weight 1e-9 on cell 7, the rest on cell 0.
    let tiny = 1e-9_f64;
    let x = [[l - tiny, 2.0, 3.0]];
    let f = paint_new(mesh, &Positions::Absolute(&x), None, Scheme::Cic);
    let d = f.data();
    // u = 8 - 1e-9 in cells; the weights are 1 - t and t with t = 1 - 1e-9 (rounding ~1e-16).
    assert!((d[[7, 2, 3]] - tiny).abs() < 1e-15, "{}", d[[7, 2, 3]]);
    assert!((d[[0, 2, 3]] - (1.0 - tiny)).abs() < 1e-15);
    assert!((f.sum() - 1.0).abs() < 1e-15);
    // Along every axis at once.
    let x = [[l - tiny, l - tiny, l - tiny]];
    let f = paint_new(mesh, &Positions::Absolute(&x), None, Scheme::Cic);
    assert!(f.data()[[0, 0, 0]] > 1.0 - 4.0 * tiny);
    assert!((f.data()[[7, 7, 7]] - tiny.powi(3)).abs() < 1e-20);
    // TSC at x = 0.1 touches cells 7, 0, 1 along x.
    let x = [[0.1, 4.0, 4.0]];
    let f = paint_new(mesh, &Positions::Absolute(&x), None, Scheme::Tsc);
    let (_, w, _) = Scheme::Tsc.weights(0.1);
    let d = f.data();
    assert_eq!(
        [d[[7, 4, 4]], d[[0, 4, 4]], d[[1, 4, 4]]],
        [w[0] * 0.75 * 0.75, w[1] * 0.75 * 0.75, w[2] * 0.75 * 0.75]
    );
    // Positions outside [0, L) wrap: -0.25 == 7.75, 9.25 == 1.25, -8.5 == 7.5 (exact in binary),
    // and a tiny negative number lands in cell 0.
    for scheme in Scheme::ALL {
        let outside = [[-0.25, 9.25, -8.5], [-1e-18, 16.0, 3.0]];
        let inside = [[7.75, 1.25, 7.5], [0.0, 0.0, 3.0]];
        let a = paint_new(mesh, &Positions::Absolute(&outside), None, scheme);
        let b = paint_new(mesh, &Positions::Absolute(&inside), None, scheme);
        assert_eq!(a, b, "{scheme:?}");
        let mut ra = [0.0; 2];
        let mut rb = [0.0; 2];
        readout(&a, &Positions::Absolute(&outside), scheme, &mut ra).unwrap();
        readout(&a, &Positions::Absolute(&inside), scheme, &mut rb).unwrap();
        assert_eq!(ra, rb);
    }
}

// ---------------------------------------------------------------------------------------------
// Window compensation and interlacing

fn sinc(u: f64) -> f64 {
    if u == 0.0 { 1.0 } else { u.sin() / u }
}

#[test]
fn deconvolve_divides_by_the_analytic_window() {
    let mesh = Mesh::new([8, 6, 4], [16.0, 9.0, 10.0]).unwrap();
    let [nx, ny, nzc] = mesh.complex_shape();
    let cell = mesh.cell_size();
    let two_pi = 2.0 * std::f64::consts::PI;
    for scheme in Scheme::ALL {
        for times in [0u32, 1, 2] {
            let mut f = FourierField::<f64>::zeros(mesh);
            for v in f.as_slice_mut() {
                *v = pm_mesh::Complex::new(1.0, -2.0);
            }
            deconvolve(&mut f, scheme, times);
            for jx in 0..nx {
                for jy in 0..ny {
                    for jz in 0..nzc {
                        let k = [
                            two_pi / 16.0 * Mesh::frequency(nx, jx) as f64,
                            two_pi / 9.0 * Mesh::frequency(ny, jy) as f64,
                            two_pi / 10.0 * jz as f64,
                        ];
                        let w: f64 = (0..3)
                            .map(|a| sinc(0.5 * k[a] * cell[a]).powi(scheme.order()))
                            .product();
                        let want = 1.0 / w.powi(times as i32);
                        let got = f.data()[[jx, jy, jz]];
                        // One division chain in f64: 1e-13 relative.
                        assert!((got.re - want).abs() < 1e-13 * want, "{scheme:?} {times}");
                        assert!((got.im + 2.0 * want).abs() < 2e-13 * want);
                    }
                }
            }
        }
    }
}

/// Mean of `|F_k|^2 / (N_p W(k)^2)` over the modes in bins of `|k| / k_Ny` (edges 0.5, 0.75,
/// 1.0, 1.5), with the prediction `sum_n W(k + 2 pi n / dx)^2 / W(k)^2` over the aliases `n`
/// in `[-3, 3]^3` (all of them, or only those with even `n_x + n_y + n_z`).
fn shot_noise_bins(f: &FourierField<f64>, n_p: usize, even_only: bool) -> Vec<(f64, f64, f64)> {
    let mesh = *f.mesh();
    let [nx, ny, nzc] = mesh.complex_shape();
    let dx = mesh.cell_size()[0];
    let kny = mesh.nyquist()[0];
    let kw = [
        mesh.wavenumbers(0),
        mesh.wavenumbers(1),
        mesh.wavenumbers(2),
    ];
    let edges = [0.5, 0.75, 1.0, 1.5];
    let mut acc = vec![(0.0, 0.0, 0.0); edges.len() - 1];
    let w2 = |k: f64| sinc(0.5 * k * dx).powi(4);
    for jx in 0..nx {
        for jy in 0..ny {
            for jz in 0..nzc {
                let k = [kw[0][jx], kw[1][jy], kw[2][jz]];
                let kmag = (k[0] * k[0] + k[1] * k[1] + k[2] * k[2]).sqrt() / kny;
                let Some(b) = edges.windows(2).position(|e| e[0] <= kmag && kmag < e[1]) else {
                    continue;
                };
                let win: f64 = k.iter().map(|&ka| w2(ka)).product();
                let mut pred = 0.0;
                for n0 in -3i32..=3 {
                    for n1 in -3i32..=3 {
                        for n2 in -3i32..=3 {
                            if even_only && (n0 + n1 + n2).rem_euclid(2) != 0 {
                                continue;
                            }
                            let kn = [n0, n1, n2].map(|n| 2.0 * kny * n as f64);
                            pred += (0..3).map(|a| w2(k[a] + kn[a])).product::<f64>();
                        }
                    }
                }
                let h = mesh.hermitian_weight(jz);
                acc[b].0 += h * f.data()[[jx, jy, jz]].norm_sqr() / (n_p as f64 * win);
                acc[b].1 += h * pred / win;
                acc[b].2 += h;
            }
        }
    }
    acc.into_iter().map(|(m, p, c)| (m / c, p / c, c)).collect()
}

#[test]
fn interlacing_cancels_odd_aliases() {
    let mesh = Mesh::cubic(32, 64.0).unwrap();
    let n_p = 100_000;
    let mut rng = SplitMix64::new(9);
    let x = uniform_positions::<f64>(&mesh, n_p, &mut rng);
    let pos = Positions::Absolute(&x);
    let plan = CpuFft3d::<f64>::new(mesh.shape()).unwrap();
    let plain = paint_new(mesh, &pos, None, Scheme::Cic)
        .forward(&plan as &dyn Fft3d<f64>)
        .unwrap();
    let inter = paint_interlaced(&mesh, &pos, None, Scheme::Cic, &plan).unwrap();
    // The k = 0 mode is the total mass in both.
    assert!((inter.data()[[0, 0, 0]].re - n_p as f64).abs() < 1e-8 * n_p as f64);
    let bp = shot_noise_bins(&plain, n_p, false);
    let bi = shot_noise_bins(&inter, n_p, true);
    for ((mp, pp, c), (mi, pi, _)) in bp.iter().zip(&bi) {
        // Uniform particles: |F_k|^2 is exponentially distributed about its mean N_p sum_n
        // W^2(k_n) (fixed N_p, k != 0), so a bin mean of c modes has a relative scatter
        // ~1/sqrt(c / 2) (Hermitian pairs are counted twice); allow 5 sigma.
        let tol = 5.0 / (c / 2.0).sqrt();
        println!(
            "modes {c}: plain {mp:.4} (predicted {pp:.4}), interlaced {mi:.4} (predicted {pi:.4}), tol {tol:.3}"
        );
        assert!((mp / pp - 1.0).abs() < tol, "plain {mp} vs {pp}");
        assert!((mi / pi - 1.0).abs() < tol, "interlaced {mi} vs {pi}");
        assert!(mi < mp);
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

#[test]
fn errors() {
    let mesh = Mesh::cubic(8, 16.0).unwrap();
    let x = vec![[1.0f64, 2.0, 3.0]; 4];
    let pos = Positions::Absolute(&x);
    let mut f = RealField::<f64>::zeros(mesh);

    let e = paint(&mut f, &pos, Some(&[1.0; 3]), Scheme::Cic).unwrap_err();
    assert!(
        matches!(
            e,
            MeshError::Length {
                what: "weights",
                expected: 4,
                got: 3
            }
        ),
        "{e}"
    );

    let e = readout(&f, &pos, Scheme::Cic, &mut [0.0; 5]).unwrap_err();
    assert!(
        matches!(
            e,
            MeshError::Length {
                what: "out",
                expected: 4,
                got: 5
            }
        ),
        "{e}"
    );

    let mut rv = vec![[0.0; 3]; 3];
    let fields = [f.clone(), f.clone(), f.clone()];
    let e = readout_vector(&fields, &pos, Scheme::Cic, &mut rv).unwrap_err();
    assert!(matches!(e, MeshError::Length { .. }), "{e}");

    let lattice = Lattice::new([4, 1, 1], [16.0; 3]).unwrap();
    let mut disp = vec![[0.0f64; 3]; 4];
    disp[2][1] = f64::NAN;
    let bad = Positions::Displaced {
        lattice,
        disp: &disp,
    };
    let e = paint(&mut f, &bad, None, Scheme::Tsc).unwrap_err();
    assert!(matches!(e, MeshError::NonFinite { index: 2, .. }), "{e}");
    let e = readout(&f, &bad, Scheme::Tsc, &mut [0.0; 4]).unwrap_err();
    assert!(matches!(e, MeshError::NonFinite { index: 2, .. }), "{e}");

    // A lattice over another box.
    let other_lattice = Lattice::new([4, 1, 1], [17.0; 3]).unwrap();
    let disp = vec![[0.0f64; 3]; 4];
    let e = paint(
        &mut f,
        &Positions::Displaced {
            lattice: other_lattice,
            disp: &disp,
        },
        None,
        Scheme::Cic,
    )
    .unwrap_err();
    assert!(matches!(e, MeshError::MeshMismatch { .. }), "{e}");

    // Gradient fields on another mesh.
    let other = Mesh::cubic(4, 16.0).unwrap();
    let mut g_other = RealField::<f64>::zeros(other);
    let e = readout_vjp(&f, &pos, Scheme::Cic, &[1.0; 4], Some(&mut g_other), None).unwrap_err();
    assert!(matches!(e, MeshError::MeshMismatch { .. }), "{e}");
    let e = readout_vjp(&f, &pos, Scheme::Cic, &[1.0; 3], None, None).unwrap_err();
    assert!(
        matches!(
            e,
            MeshError::Length {
                what: "cotangent",
                ..
            }
        ),
        "{e}"
    );
    let mixed = [f.clone(), g_other.clone(), f.clone()];
    let e = readout_vector(&mixed, &pos, Scheme::Cic, &mut [[0.0; 3]; 4]).unwrap_err();
    assert!(matches!(e, MeshError::MeshMismatch { .. }), "{e}");
    let mut gfs = [f.clone(), f.clone(), g_other];
    let e = readout_vector_vjp(
        &fields,
        &pos,
        Scheme::Cic,
        &[[1.0; 3]; 4],
        Some(&mut gfs),
        None,
    )
    .unwrap_err();
    assert!(matches!(e, MeshError::MeshMismatch { .. }), "{e}");
    let e = paint_vjp(&f, &pos, None, Scheme::Cic, Some(&mut [[0.0; 3]; 2]), None).unwrap_err();
    assert!(
        matches!(
            e,
            MeshError::Length {
                what: "grad_pos",
                ..
            }
        ),
        "{e}"
    );

    // An FFT plan of another shape.
    let plan = CpuFft3d::<f64>::new([4, 4, 4]).unwrap();
    let e = paint_interlaced(&mesh, &pos, None, Scheme::Cic, &plan).unwrap_err();
    assert!(matches!(e, MeshError::MeshMismatch { .. }), "{e}");
}
