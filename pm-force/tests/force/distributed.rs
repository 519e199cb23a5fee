//! The gravity solve on 1-4 thread ranks (uneven splits) against the one-rank solve on
//! `SerialComm`: forward and VJP, f64 and f32. The same `Gravity`, one code path: on more
//! ranks it paints padded slabs, exchanges ghost planes and runs the slab FFT.
//!
//! Particles start spread over the ranks (every `size`-th one), are migrated to the rank
//! owning their x-plane, solved, and the results migrated back with `Migration::reverse`.
//! Agreement is measured as `max |distributed - serial| / max |serial|` over all particles
//! and components.

use pm_decomp::{Comm, Migration, SerialComm, ThreadComm};
use pm_force::{FastPmKernel, ForceError, ForceKernel, Gravity, NaiveKernel, SharpenedKernel};
use pm_mesh::{Mesh, MeshError, Positions, Real, Scheme};
use pm_testkit::{max_rel_diff, uniform};

/// Random particles over the box and a little beyond (wrapped), a few on plane boundaries.
fn particles<T: Real>(n: usize, mesh: &Mesh) -> Vec<[T; 3]> {
    let l = mesh.box_size();
    let cell = mesh.cell_size()[0];
    (0..n)
        .map(|i| {
            let mut x: [f64; 3] =
                std::array::from_fn(|a| l[a] * (1.2 * uniform((3 * i + a) as u64, 7) - 0.1));
            if i < 8 {
                x[0] = (3 * i) as f64 * cell;
            }
            x.map(T::lit)
        })
        .collect()
}

/// `max |a - b| / max |b|`.
fn rel_diff<T: Real>(a: &[[T; 3]], b: &[[T; 3]]) -> f64 {
    assert_eq!(a.len(), b.len());
    max_rel_diff(
        a.iter().flatten().map(|v| v.as_f64()),
        b.iter().flatten().map(|v| v.as_f64()),
    )
}

/// What one rank returns: original indices with accelerations and position gradients, and
/// the parameter gradients.
type RankOut<T> = (Vec<usize>, Vec<[T; 3]>, Vec<[T; 3]>, Vec<f64>);

/// A solver's settings.
struct Setup<'k, K> {
    mesh: Mesh,
    kernel: &'k K,
    scheme: Scheme,
    compensate: bool,
}

impl<K: ForceKernel> Setup<'_, K> {
    /// The solver of the calling rank of `comm`.
    fn gravity<T: Real>(&self, comm: &dyn Comm) -> Gravity<T, &K> {
        Gravity::<T, _>::on(self.mesh, self.kernel, comm)
            .unwrap()
            .with_scheme(self.scheme)
            .unwrap()
            .with_window_compensation(self.compensate)
    }
}

/// Solves (and, with a cotangent, differentiates) on `ranks` thread ranks (`0`: on
/// `SerialComm`); returns the accelerations and position gradients in the original order
/// and `[dL/dc, dL/dtheta...]` of rank 0 (checked equal on every rank).
fn distributed<T: Real, K: ForceKernel>(
    ranks: usize,
    setup: &Setup<'_, K>,
    x: &[[T; 3]],
    c: f64,
    cotangent: Option<&[[T; 3]]>,
) -> (Vec<[T; 3]>, Vec<[T; 3]>, Vec<f64>) {
    let n = x.len();
    let mesh = setup.mesh;
    let body = |comm: &dyn Comm| -> RankOut<T> {
        let (size, rank) = (comm.size(), comm.rank());
        let g = setup.gravity::<T>(comm);
        let decomp = g.block().decomposition().clone();
        let mine: Vec<usize> = (rank..n).step_by(size).collect();
        let xs: Vec<f64> = mine.iter().map(|&i| x[i][0].as_f64()).collect();
        let mig = Migration::for_slab_x(comm, &decomp, mesh.box_size()[0], &xs).unwrap();
        let local: Vec<[T; 3]> = mine.iter().map(|&i| x[i]).collect();
        let local = mig.forward(comm, &local).unwrap();
        let pos = Positions::Absolute(&local);
        let mut acc = vec![[T::zero(); 3]; local.len()];
        let mut grad = vec![[T::zero(); 3]; local.len()];
        let params = match cotangent {
            None => {
                g.accelerations(comm, &pos, c, &mut acc).unwrap();
                Vec::new()
            }
            Some(v) => {
                let v: Vec<[T; 3]> = mine.iter().map(|&i| v[i]).collect();
                let v = mig.forward(comm, &v).unwrap();
                let vjp = g
                    .accelerations_and_vjp(
                        comm,
                        &pos,
                        c,
                        pm_force::VjpArrays {
                            cotangent: &v,
                            grad_pos: &mut grad,
                            acc: Some(&mut acc),
                        },
                    )
                    .unwrap();
                std::iter::once(vjp.prefactor).chain(vjp.params).collect()
            }
        };
        let acc = mig.reverse(comm, &acc).unwrap();
        let grad = mig.reverse(comm, &grad).unwrap();
        (mine, acc, grad, params)
    };
    let parts: Vec<RankOut<T>> = if ranks == 0 {
        vec![body(&SerialComm)]
    } else {
        ThreadComm::run(ranks, |comm| body(comm)).unwrap()
    };
    let mut acc = vec![[T::zero(); 3]; n];
    let mut grad = vec![[T::zero(); 3]; n];
    for (ids, a, g, p) in &parts {
        assert_eq!(p, &parts[0].3, "parameter gradients differ between ranks");
        for (k, &i) in ids.iter().enumerate() {
            acc[i] = a[k];
            grad[i] = g[k];
        }
    }
    (acc, grad, parts[0].3.clone())
}

/// The one-rank solve on `SerialComm`, of the particles in their original order.
fn serial<T: Real, K: ForceKernel>(
    setup: &Setup<'_, K>,
    x: &[[T; 3]],
    c: f64,
    cotangent: Option<&[[T; 3]]>,
) -> (Vec<[T; 3]>, Vec<[T; 3]>, Vec<f64>) {
    let g = setup.gravity::<T>(&SerialComm);
    let pos = Positions::Absolute(x);
    let mut acc = vec![[T::zero(); 3]; x.len()];
    let mut grad = vec![[T::zero(); 3]; x.len()];
    let params = match cotangent {
        None => {
            g.accelerations(&SerialComm, &pos, c, &mut acc).unwrap();
            Vec::new()
        }
        Some(v) => {
            let vjp = g
                .accelerations_and_vjp(
                    &SerialComm,
                    &pos,
                    c,
                    pm_force::VjpArrays {
                        cotangent: v,
                        grad_pos: &mut grad,
                        acc: Some(&mut acc),
                    },
                )
                .unwrap();
            std::iter::once(vjp.prefactor).chain(vjp.params).collect()
        }
    };
    (acc, grad, params)
}

/// Meshes with even and odd x, uneven splits on 3 and 4 ranks.
fn meshes() -> [Mesh; 2] {
    [
        Mesh::cubic(16, 64.0).unwrap(),
        Mesh::new([15, 10, 8], [60.0, 40.0, 32.0]).unwrap(),
    ]
}

#[test]
fn forward_equals_serial_f64() {
    let c = 1.5 * 0.3;
    for mesh in meshes() {
        let x = particles::<f64>(1500, &mesh);
        let cases: [(Scheme, bool); 4] = [
            (Scheme::Cic, false),
            (Scheme::Tsc, false),
            (Scheme::Ngp, false),
            (Scheme::Tsc, true),
        ];
        for (scheme, comp) in cases {
            let setup = Setup {
                mesh,
                kernel: &FastPmKernel,
                scheme,
                compensate: comp,
            };
            let (want, _, _) = serial(&setup, &x, c, None);
            let mut worst = 0.0f64;
            for ranks in 0..=4 {
                let (got, _, _) = distributed(ranks, &setup, &x, c, None);
                let d = rel_diff(&got, &want);
                worst = worst.max(d);
                assert!(
                    d < 1e-10,
                    "{mesh:?} {scheme:?} comp={comp} {ranks} ranks: {d:e}"
                );
            }
            eprintln!(
                "f64 forward {:?} {scheme:?} compensate={comp}: worst rel diff {worst:.2e}",
                mesh.shape()
            );
        }
        // The naive kernel too (its tables differ).
        let setup = Setup {
            mesh,
            kernel: &NaiveKernel,
            scheme: Scheme::Cic,
            compensate: false,
        };
        let (want, _, _) = serial(&setup, &x, c, None);
        for ranks in [0, 3] {
            let (got, _, _) = distributed(ranks, &setup, &x, c, None);
            let d = rel_diff(&got, &want);
            assert!(d < 1e-10, "naive {ranks} ranks: {d:e}");
        }
    }
}

/// f32: both solves round every stored value to f32 (relative 6e-8) and apply the same 1D
/// FFTs in the same order; they differ in the order in which the paint's contributions to a
/// cell are summed (particle order after migration, then the halo sums), a few f32 ulps per
/// cell, which the linear solve carries to the forces. Measured up to 2.4e-7 (2 ulps of the
/// largest force); tolerance 2e-6 (16 ulps): a layout or halo bug gives O(1) errors.
#[test]
fn forward_equals_serial_f32() {
    let c = 1.5 * 0.3;
    for mesh in meshes() {
        let x = particles::<f32>(1500, &mesh);
        for scheme in [Scheme::Cic, Scheme::Tsc] {
            let setup = Setup {
                mesh,
                kernel: &FastPmKernel,
                scheme,
                compensate: false,
            };
            let (want, _, _) = serial(&setup, &x, c, None);
            let mut worst = 0.0f64;
            for ranks in 0..=4 {
                let (got, _, _) = distributed(ranks, &setup, &x, c, None);
                let d = rel_diff(&got, &want);
                worst = worst.max(d);
                assert!(d < 2e-6, "f32 {mesh:?} {scheme:?} {ranks} ranks: {d:e}");
            }
            eprintln!(
                "f32 forward {:?} {scheme:?}: worst rel diff {worst:.2e}",
                mesh.shape()
            );
        }
    }
}

#[test]
fn vjp_equals_serial_f64() {
    let c = 1.5 * 0.3;
    let kernel = SharpenedKernel::new([0.3, -0.2, 0.5]);
    for mesh in meshes() {
        let x = particles::<f64>(1000, &mesh);
        let v: Vec<[f64; 3]> = (0..x.len())
            .map(|i| std::array::from_fn(|a| uniform((3 * i + a) as u64, 9) - 0.5))
            .collect();
        for (scheme, comp) in [(Scheme::Cic, false), (Scheme::Tsc, true)] {
            let setup = Setup {
                mesh,
                kernel: &kernel,
                scheme,
                compensate: comp,
            };
            let (acc_s, grad_s, par_s) = serial(&setup, &x, c, Some(&v));
            let mut worst = [0.0f64; 3];
            for ranks in 0..=4 {
                let (acc, grad, par) = distributed(ranks, &setup, &x, c, Some(&v));
                let da = rel_diff(&acc, &acc_s);
                let dg = rel_diff(&grad, &grad_s);
                let dp = par
                    .iter()
                    .zip(&par_s)
                    .map(|(p, q)| (p - q).abs() / q.abs().max(1e-300))
                    .fold(0.0, f64::max);
                assert_eq!(par.len(), par_s.len());
                worst = [worst[0].max(da), worst[1].max(dg), worst[2].max(dp)];
                assert!(da < 1e-10, "acc {scheme:?} {ranks} ranks: {da:e}");
                assert!(dg < 1e-10, "grad_pos {scheme:?} {ranks} ranks: {dg:e}");
                assert!(
                    dp < 1e-10,
                    "dL/dc, dL/dtheta {scheme:?} {ranks} ranks: {dp:e}"
                );
            }
            eprintln!(
                "f64 vjp {:?} {scheme:?} compensate={comp}: worst rel diff acc {:.2e}, grad_pos {:.2e}, params {:.2e}",
                mesh.shape(),
                worst[0],
                worst[1],
                worst[2]
            );
        }
    }
}

#[test]
fn invalid_input_is_an_error_on_every_rank() {
    let mesh = Mesh::cubic(8, 8.0).unwrap();
    let results = ThreadComm::run(2, |comm| {
        let g = Gravity::<f64, _>::on(mesh, FastPmKernel, comm).unwrap();
        // Rank 0 passes a particle on rank 1's slab (not migrated); rank 1 is fine.
        let x = if comm.rank() == 0 {
            vec![[6.5, 1.0, 1.0]]
        } else {
            vec![[5.0, 1.0, 1.0]]
        };
        let mut acc = vec![[0.0; 3]; 1];
        g.accelerations(comm, &Positions::Absolute(&x), 1.0, &mut acc)
    })
    .unwrap();
    assert!(
        matches!(
            results[0],
            Err(ForceError::Mesh(MeshError::OutsideSlab { index: 0, .. }))
        ),
        "{:?}",
        results[0]
    );
    assert!(
        matches!(
            results[1],
            Err(ForceError::Decomp(pm_decomp::DecompError::Collective(_)))
        ),
        "{:?}",
        results[1]
    );
    // A solver is used with the communicator it was made for only.
    let results = ThreadComm::run(2, |_| {
        let g = Gravity::<f64, _>::cpu(mesh, FastPmKernel).unwrap();
        let mut acc = vec![[0.0; 3]; 1];
        let x = [[1.0, 1.0, 1.0]];
        let one_rank = g.accelerations(&SerialComm, &Positions::Absolute(&x), 1.0, &mut acc);
        assert!(one_rank.is_ok());
        ThreadComm::run(2, |comm| {
            g.accelerations(comm, &Positions::Absolute(&x), 1.0, &mut acc.clone())
        })
        .unwrap()
    })
    .unwrap();
    for r in results.into_iter().flatten() {
        assert!(
            matches!(r, Err(ForceError::Mesh(MeshError::Decomp(_)))),
            "{r:?}"
        );
    }
}
