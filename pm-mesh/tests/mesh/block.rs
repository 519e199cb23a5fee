//! Paint and readout on a rank's [`MeshBlock`] (its padded x-slab) against the whole-mesh
//! paint and readout, on `SerialComm` and 1-4 thread ranks with uneven splits, NGP/CIC/TSC,
//! f64.
//!
//! Tolerance `1e-12` (absolute on O(1) values): both use the same weights and stencils (one
//! body over the rows of the mesh or of the slab); only the order in which the contributions
//! to a cell are summed differs (particle order after migration, then the ghost exchange), a
//! few ulps.

use std::sync::atomic::{AtomicU64, Ordering};

use pm_decomp::{Comm, Migration, SerialComm, SlabHalo, ThreadComm};
use pm_mesh::{
    FieldGrads, Mesh, MeshBlock, MeshError, ParticleGrads, Positions, RealField, Scheme,
    VectorReadout, paint, paint_vjp, readout, readout_vector_and_vjp, readout_vjp,
};
use pm_testkit::uniform;

/// Particles over the whole box and a little beyond (wrapped by the paint), plus some on and
/// near plane boundaries and the box edges.
fn particles(n: usize, box_size: [f64; 3], nx: usize) -> Vec<[f64; 3]> {
    let cell = box_size[0] / nx as f64;
    let mut x: Vec<[f64; 3]> = (0..n)
        .map(|i| {
            std::array::from_fn(|a| box_size[a] * (1.2 * uniform((3 * i + a) as u64, 1) - 0.1))
        })
        .collect();
    for (k, p) in x.iter_mut().take(12).enumerate() {
        p[0] = match k % 4 {
            0 => (k / 4) as f64 * cell,
            1 => (k / 4) as f64 * cell - 1e-13,
            2 => box_size[0] - 1e-14,
            _ => -1e-15,
        };
    }
    x
}

/// The largest difference seen by any rank of any case (non-negative f64 bits order like
/// the values).
static WORST: AtomicU64 = AtomicU64::new(0);

fn record(d: f64) -> f64 {
    WORST.fetch_max(d.to_bits(), Ordering::Relaxed);
    d
}

/// Runs `f` on `n` thread ranks and, for `n == 1`, on `SerialComm` too.
fn on_ranks(n: usize, f: impl Fn(&dyn Comm) + Sync) {
    ThreadComm::run(n, |c| f(c)).expect("threads start");
    if n == 1 {
        f(&SerialComm);
    }
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    record(
        a.iter()
            .zip(b)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0, f64::max),
    )
}

const SHAPES: [[usize; 3]; 3] = [[7, 5, 4], [8, 6, 6], [5, 4, 2]];

#[test]
fn block_paint_readout_and_vjps_equal_whole_mesh() {
    for shape in SHAPES {
        let box_size = [14.0, 10.0, 8.0];
        let mesh = Mesh::new(shape, box_size).unwrap();
        let all = particles(300, box_size, shape[0]);
        let weights: Vec<f64> = (0..all.len()).map(|i| 0.5 + uniform(i as u64, 2)).collect();
        let field_cot: Vec<f64> = (0..mesh.n_cells())
            .map(|i| uniform(i as u64, 3) - 0.5)
            .collect();
        let fields: Vec<Vec<f64>> = (0..3)
            .map(|a| {
                (0..mesh.n_cells())
                    .map(|i| uniform(i as u64, 10 + a) - 0.5)
                    .collect()
            })
            .collect();
        for scheme in Scheme::ALL {
            // Serial references.
            let pos = Positions::Absolute(&all);
            let mut rho = RealField::<f64>::zeros(mesh);
            paint(&mut rho, &pos, Some(&weights), scheme).unwrap();
            let cot = RealField::from_array(
                mesh,
                ndarray::Array3::from_shape_vec(shape, field_cot.clone()).unwrap(),
            )
            .unwrap();
            let field_arr: Vec<RealField<f64>> = fields
                .iter()
                .map(|f| {
                    RealField::from_array(
                        mesh,
                        ndarray::Array3::from_shape_vec(shape, f.clone()).unwrap(),
                    )
                    .unwrap()
                })
                .collect();
            let fields3: [RealField<f64>; 3] = field_arr.try_into().unwrap();
            for ranks in 1..=4 {
                on_ranks(ranks, |comm| {
                    let size = comm.size();
                    let rank = comm.rank();
                    let block = MeshBlock::<f64>::new(mesh, comm)
                        .unwrap()
                        .with_ghosts_for(scheme)
                        .unwrap();
                    let decomp = block.decomposition().clone();
                    let halo: &SlabHalo = block.halo();
                    // Start with every size-th particle, migrate to the owners.
                    let mine: Vec<usize> = (rank..all.len()).step_by(size).collect();
                    let xs: Vec<f64> = mine.iter().map(|&i| all[i][0]).collect();
                    let mig = Migration::for_slab_x(comm, &decomp, box_size[0], &xs).unwrap();
                    let ids: Vec<u64> = mine.iter().map(|&i| i as u64).collect();
                    let ids = mig.forward(comm, &ids).unwrap();
                    let x: Vec<[f64; 3]> = ids.iter().map(|&i| all[i as usize]).collect();
                    let w: Vec<f64> = ids.iter().map(|&i| weights[i as usize]).collect();
                    let pos = Positions::Absolute(&x);
                    let owned = halo.owned_elements();
                    let plane = shape[1] * shape[2];
                    let x0 = decomp.x_range(rank).start;
                    let serial_owned = |g: &[f64]| g[x0 * plane..][..owned.len()].to_vec();

                    // Paint + halo_add == serial paint's owned planes.
                    let mut padded = vec![0.0; block.padded_len()];
                    block.paint(&mut padded, &pos, Some(&w), scheme).unwrap();
                    block.add_ghosts(comm, &mut padded).unwrap();
                    let d = max_diff(&padded[owned.clone()], &serial_owned(rho.as_slice()));
                    assert!(d < 1e-12, "paint {shape:?} {scheme:?} {size} ranks: {d:e}");

                    // halo_fill + readout == serial readout.
                    let mut padded = halo.pad(&serial_owned(cot.as_slice())).unwrap();
                    block.fill_ghosts(comm, &mut padded).unwrap();
                    let mut got = vec![0.0; x.len()];
                    block.readout(&padded, &pos, scheme, &mut got).unwrap();
                    let mut want = vec![0.0; x.len()];
                    readout(&cot, &pos, scheme, &mut want).unwrap();
                    let d = max_diff(&got, &want);
                    assert!(d < 1e-12, "readout {shape:?} {scheme:?} {size}: {d:e}");

                    // The block's paint_vjp on the filled cotangent == whole-mesh paint_vjp.
                    let mut gp = vec![[0.0; 3]; x.len()];
                    let mut gw = vec![0.0; x.len()];
                    let grads = ParticleGrads {
                        pos: Some(&mut gp),
                        weights: Some(&mut gw),
                    };
                    block
                        .paint_vjp(&padded, &pos, Some(&w), scheme, grads)
                        .unwrap();
                    let mut gp_s = vec![[0.0; 3]; x.len()];
                    let mut gw_s = vec![0.0; x.len()];
                    paint_vjp(
                        &cot,
                        &pos,
                        Some(&w),
                        scheme,
                        Some(&mut gp_s),
                        Some(&mut gw_s),
                    )
                    .unwrap();
                    assert!(max_diff(gp.as_flattened(), gp_s.as_flattened()) < 1e-12);
                    assert!(max_diff(&gw, &gw_s) < 1e-12);

                    // The block's readout_vjp: field gradient after add_ghosts == whole mesh, and
                    // position gradients.
                    let v: Vec<f64> = ids.iter().map(|&i| uniform(i, 4) - 0.5).collect();
                    let mut gf = vec![0.0; block.padded_len()];
                    let mut gp = vec![[0.0; 3]; x.len()];
                    block
                        .readout_vjp(
                            &padded,
                            &pos,
                            scheme,
                            &v,
                            FieldGrads {
                                field: Some(&mut gf),
                                pos: Some(&mut gp),
                            },
                        )
                        .unwrap();
                    block.add_ghosts(comm, &mut gf).unwrap();
                    let mut gp_s = vec![[0.0; 3]; x.len()];
                    readout_vjp(&cot, &pos, scheme, &v, None, Some(&mut gp_s)).unwrap();
                    assert!(max_diff(gp.as_flattened(), gp_s.as_flattened()) < 1e-12);
                    // The field gradient summed over ranks is the serial one of all particles.
                    let mut all_gf = RealField::<f64>::zeros(mesh);
                    let all_pos = Positions::Absolute(&all);
                    let v_all: Vec<f64> =
                        (0..all.len()).map(|i| uniform(i as u64, 4) - 0.5).collect();
                    readout_vjp(&cot, &all_pos, scheme, &v_all, Some(&mut all_gf), None).unwrap();
                    let d = max_diff(&gf[owned.clone()], &serial_owned(all_gf.as_slice()));
                    assert!(
                        d < 1e-12,
                        "readout_vjp field {shape:?} {scheme:?} {size}: {d:e}"
                    );

                    // Vector readout and its VJP.
                    let padded3: Vec<Vec<f64>> = fields3
                        .iter()
                        .map(|f| {
                            let mut p = halo.pad(&serial_owned(f.as_slice())).unwrap();
                            block.fill_ghosts(comm, &mut p).unwrap();
                            p
                        })
                        .collect();
                    let refs = [&padded3[0][..], &padded3[1][..], &padded3[2][..]];
                    let mut vals = vec![[0.0; 3]; x.len()];
                    let values = VectorReadout {
                        values: Some(&mut vals),
                        ..VectorReadout::default()
                    };
                    block
                        .readout_vector_and_vjp(refs, &pos, scheme, &[], values)
                        .unwrap();
                    let cv: Vec<[f64; 3]> = ids
                        .iter()
                        .map(|&i| std::array::from_fn(|a| uniform(3 * i + a as u64, 5) - 0.5))
                        .collect();
                    let mut vals2 = vec![[0.0; 3]; x.len()];
                    let mut g3: Vec<Vec<f64>> = vec![vec![0.0; block.padded_len()]; 3];
                    let mut gp = vec![[0.0; 3]; x.len()];
                    {
                        let [a, b, c] = &mut g3[..] else {
                            unreachable!()
                        };
                        let outputs = VectorReadout {
                            values: Some(&mut vals2),
                            grad_fields: Some([&mut a[..], &mut b[..], &mut c[..]]),
                            grad_pos: Some(&mut gp),
                        };
                        block
                            .readout_vector_and_vjp(refs, &pos, scheme, &cv, outputs)
                            .unwrap();
                    }
                    let mut vals_s = vec![[0.0; 3]; x.len()];
                    let mut gp_s = vec![[0.0; 3]; x.len()];
                    let outputs = VectorReadout {
                        values: Some(&mut vals_s),
                        grad_fields: None,
                        grad_pos: Some(&mut gp_s),
                    };
                    readout_vector_and_vjp(&fields3, &pos, scheme, &cv, outputs).unwrap();
                    assert!(max_diff(vals.as_flattened(), vals_s.as_flattened()) < 1e-12);
                    assert_eq!(vals, vals2);
                    assert!(max_diff(gp.as_flattened(), gp_s.as_flattened()) < 1e-12);
                    // Field gradients summed over ranks: the paint of cv, checked by
                    // painting cv[.][a] serially over every rank's particles.
                    for (a, g) in g3.iter_mut().enumerate() {
                        block.add_ghosts(comm, g).unwrap();
                        let cv_all: Vec<f64> = (0..all.len())
                            .map(|i| uniform(3 * i as u64 + a as u64, 5) - 0.5)
                            .collect();
                        let mut want = RealField::<f64>::zeros(mesh);
                        paint(&mut want, &all_pos, Some(&cv_all), scheme).unwrap();
                        let d = max_diff(&g[owned.clone()], &serial_owned(want.as_slice()));
                        assert!(
                            d < 1e-12,
                            "vector vjp field {a} {shape:?} {scheme:?}: {d:e}"
                        );
                    }
                });
            }
        }
    }
    eprintln!(
        "block paint/readout/VJPs vs whole mesh: worst abs diff {:.2e}",
        f64::from_bits(WORST.load(Ordering::Relaxed))
    );
}

#[test]
fn particle_off_the_slab_is_an_error() {
    let mesh = Mesh::cubic(8, 8.0).unwrap();
    ThreadComm::run(2, |comm| {
        let block = MeshBlock::<f64>::new(mesh, comm)
            .unwrap()
            .with_ghosts_for(Scheme::Cic)
            .unwrap();
        // A block is used with its own communicator only.
        let mut padded = vec![0.0f64; block.padded_len()];
        assert!(matches!(
            block.add_ghosts(&SerialComm, &mut padded),
            Err(MeshError::Decomp(_))
        ));
        if comm.rank() != 0 {
            return;
        }
        // Rank 0 of 2 owns planes 0..4; with CIC (halo 0/1) a particle at x = 5.5 is outside.
        let x = [[1.0, 1.0, 1.0], [5.5, 1.0, 1.0]];
        let err = block
            .paint(&mut padded, &Positions::Absolute(&x), None, Scheme::Cic)
            .unwrap_err();
        assert!(
            matches!(
                err,
                MeshError::OutsideSlab {
                    index: 1,
                    plane: 5,
                    first: 0,
                    planes: 5
                }
            ),
            "{err:?}"
        );
        assert!(padded.iter().all(|&v| v == 0.0), "nothing written on error");
        // A particle on the last owned plane reaches the ghost plane: fine.
        let x = [[3.9, 1.0, 1.0]];
        block
            .paint(&mut padded, &Positions::Absolute(&x), None, Scheme::Cic)
            .unwrap();
        // Wrong lengths are errors, not panics.
        let mut short = vec![0.0f64; 3];
        assert!(matches!(
            block.paint(&mut short, &Positions::Absolute(&x), None, Scheme::Cic),
            Err(MeshError::Length { .. })
        ));
    })
    .unwrap();
}

/// On slabs of many planes the block paints with the parallel binned schedule of the whole
/// mesh (chunks of padded rows); its result is bitwise the same on 1 and 2 threads, and after
/// the ghost exchange equals the whole-mesh paint to rounding.
#[test]
fn block_paint_is_parallel_and_thread_count_independent() {
    let shape = [32, 12, 10];
    let box_size = [64.0, 24.0, 20.0];
    let mesh = Mesh::new(shape, box_size).unwrap();
    let all = particles(20_000, box_size, shape[0]);
    for scheme in Scheme::ALL {
        let mut rho = RealField::<f64>::zeros(mesh);
        paint(&mut rho, &Positions::Absolute(&all), None, scheme).unwrap();
        for ranks in [1, 2, 3] {
            ThreadComm::run(ranks, |comm| {
                let block = MeshBlock::<f64>::new(mesh, comm)
                    .unwrap()
                    .with_ghosts_for(scheme)
                    .unwrap();
                let decomp = block.decomposition().clone();
                let xs: Vec<f64> = all.iter().map(|p| p[0]).collect();
                let mine: Vec<[f64; 3]> = if comm.rank() == 0 {
                    all.clone()
                } else {
                    Vec::new()
                };
                let xs: Vec<f64> = if comm.rank() == 0 { xs } else { Vec::new() };
                let mig = Migration::for_slab_x(comm, &decomp, box_size[0], &xs).unwrap();
                let x = mig.forward(comm, &mine).unwrap();
                let pos = Positions::Absolute(&x);
                let painted = |threads: usize| {
                    let pool = rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .build()
                        .unwrap();
                    let mut padded = vec![0.0; block.padded_len()];
                    pool.install(|| block.paint(&mut padded, &pos, None, scheme).unwrap());
                    padded
                };
                let one = painted(1);
                assert_eq!(one, painted(2), "{scheme:?} {ranks} ranks: thread count");
                let mut padded = one;
                block.add_ghosts(comm, &mut padded).unwrap();
                let plane = shape[1] * shape[2];
                let x0 = block.x_planes().start;
                let owned = block.owned_elements();
                let want = &rho.as_slice()[x0 * plane..][..owned.len()];
                let d = max_diff(&padded[owned], want);
                assert!(d < 1e-12, "{scheme:?} {ranks} ranks: {d:e}");
            })
            .unwrap();
        }
    }
}

/// The spectrum of a field held in ky-row blocks on 2 and 3 ranks (`power_spectrum_on`, the
/// per-bin sums added over ranks) equals the one-rank spectrum to rounding (1e-12 relative).
#[test]
fn power_spectrum_on_blocks_equals_the_whole_field_spectrum() {
    let mesh = Mesh::new([12, 10, 8], [60.0, 50.0, 40.0]).unwrap();
    let values: Vec<f64> = (0..mesh.n_cells())
        .map(|i| uniform(i as u64, 21) - 0.5)
        .collect();
    let options = pm_mesh::PowerOptions::default();
    let whole = {
        let block = MeshBlock::<f64>::whole(mesh).unwrap();
        let mut f = RealField::from_vec(mesh, values.clone()).unwrap();
        let modes = block.forward_field(&SerialComm, &mut f).unwrap();
        pm_mesh::power_spectrum(&modes, &options).unwrap()
    };
    for ranks in [2, 3] {
        let spectra = ThreadComm::run(ranks, |comm| {
            let block = MeshBlock::<f64>::new(mesh, comm).unwrap();
            let plane = mesh.shape()[1] * mesh.shape()[2];
            let xr = block.x_planes();
            let mine = values[xr.start * plane..xr.end * plane].to_vec();
            let mut f = RealField::from_block(mesh, xr, mine).unwrap();
            let modes = block.forward_field(comm, &mut f).unwrap();
            pm_mesh::power_spectrum_on(comm, &modes, &options).unwrap()
        })
        .unwrap();
        for p in spectra {
            assert_eq!(p.n_modes, whole.n_modes);
            for (a, b) in p.power.iter().zip(&whole.power) {
                // Empty bins are NaN in both.
                let same = (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-12 * b.abs();
                assert!(same, "{ranks} ranks: {a} vs {b}");
            }
        }
    }
}
