//! Integration tests of pm-decomp: communicators on 1-4 thread ranks, decompositions and the
//! slab transpose (the distributed FFT built on it is tested in pm-fft, `tests/slab.rs`).

use pm_decomp::{
    BlockSplit, Comm, CommExt, Complex, DecompError, Decomposition, PencilDecomposition,
    SerialComm, SlabDecomposition, SlabTranspose, ThreadComm,
};

use pm_testkit::signed;

/// Runs `f` on `n` thread ranks and unwraps every rank's result.
fn on_ranks<R: Send>(n: usize, f: impl Fn(&ThreadComm) -> Result<R, DecompError> + Sync) -> Vec<R> {
    ThreadComm::run(n, f)
        .expect("threads start")
        .into_iter()
        .enumerate()
        .map(|(r, v)| v.unwrap_or_else(|e| panic!("rank {r}: {e}")))
        .collect()
}

fn global_real(shape: [usize; 3], seed: u64) -> Vec<f64> {
    (0..shape.iter().product::<usize>())
        .map(|i| signed(i as u64, seed))
        .collect()
}

/// The local block `ranges` of a global C-order array of shape `dims`.
fn block<T: Copy>(global: &[T], dims: [usize; 3], ranges: &[std::ops::Range<usize>; 3]) -> Vec<T> {
    let mut out = Vec::with_capacity(ranges.iter().map(|r| r.len()).product());
    for x in ranges[0].clone() {
        for y in ranges[1].clone() {
            let row = (x * dims[1] + y) * dims[2];
            out.extend_from_slice(&global[row + ranges[2].start..row + ranges[2].end]);
        }
    }
    out
}

const SHAPES: [[usize; 3]; 5] = [[16, 12, 10], [17, 8, 6], [5, 3, 8], [4, 7, 2], [9, 9, 4]];

// ---------------------------------------------------------------- communicators

#[test]
fn all_reduce_is_rank_ordered_and_identical_on_every_rank() {
    for n in 1..=4 {
        // Values where the summation order matters in f64.
        let vals = |r: usize| {
            [
                1e16 * if r.is_multiple_of(2) { 1.0 } else { -1.0 },
                1.0 + r as f64 * 0.1,
                (r as f64).sqrt(),
            ]
        };
        let got = on_ranks(n, |comm| {
            let mut v = vals(comm.rank());
            comm.all_reduce_sum(&mut v)?;
            let mut mx = [comm.rank() as i64 - 1, -(comm.rank() as i64)];
            comm.all_reduce_max(&mut mx)?;
            let mut mn = [comm.rank() as f32 + 0.5];
            comm.all_reduce_min(&mut mn)?;
            let mut rows = [[comm.rank() as u64, 1, 2]];
            comm.all_reduce_with(&mut rows, |a, b| [a[0] + b[0], a[1] * b[1], a[2] + b[2]])?;
            Ok((
                v,
                mx,
                mn,
                rows,
                comm.sum_f64(0.25)?,
                comm.sum_u64(comm.rank() as u64)?,
            ))
        });
        let mut expect = vals(0);
        for r in 1..n {
            for (e, v) in expect.iter_mut().zip(vals(r)) {
                *e += v;
            }
        }
        for (v, mx, mn, rows, s, su) in got {
            assert_eq!(v.map(f64::to_bits), expect.map(f64::to_bits), "{n} ranks");
            assert_eq!(mx, [n as i64 - 2, 0]);
            assert_eq!(mn, [0.5]);
            assert_eq!(rows, [[(n * (n - 1) / 2) as u64, 1, 2 * n as u64]]);
            assert_eq!(s, 0.25 * n as f64);
            assert_eq!(su, (n * (n - 1) / 2) as u64);
        }
    }
}

#[test]
fn all_to_all_v_gather_broadcast_send_recv_on_1_to_4_ranks() {
    for n in 1..=4 {
        let got = on_ranks(n, |comm| {
            let (me, size) = (comm.rank(), comm.size());
            // Rank r sends (r + d) % 3 elements to rank d (some parts are empty).
            let send: Vec<Vec<[f64; 3]>> = (0..size)
                .map(|d| {
                    (0..(me + d) % 3)
                        .map(|i| [me as f64, d as f64, i as f64])
                        .collect()
                })
                .collect();
            let recv = comm.all_to_all_v(&send)?;
            for (s, part) in recv.iter().enumerate() {
                let expect: Vec<[f64; 3]> = (0..(s + me) % 3)
                    .map(|i| [s as f64, me as f64, i as f64])
                    .collect();
                assert_eq!(part, &expect, "{size} ranks, rank {me} from {s}");
            }
            // Equal counts.
            let send: Vec<u32> = (0..size * 2).map(|i| (me * 1000 + i) as u32).collect();
            let mut recv = vec![0u32; size * 2];
            comm.all_to_all(&send, &mut recv)?;
            for s in 0..size {
                assert_eq!(
                    &recv[2 * s..2 * s + 2],
                    &[(s * 1000 + 2 * me) as u32, (s * 1000 + 2 * me + 1) as u32]
                );
            }
            // Gather with different lengths.
            let g = comm.all_gather(&vec![me as u16; me])?;
            for (s, v) in g.iter().enumerate() {
                assert_eq!(v, &vec![s as u16; s]);
            }
            // Broadcast from the last rank.
            let mut b = if me == size - 1 {
                vec![Complex::new(1.5f32, -2.0)]
            } else {
                Vec::new()
            };
            comm.broadcast(size - 1, &mut b)?;
            assert_eq!(b, vec![Complex::new(1.5f32, -2.0)]);
            // Ring shifts both ways with two tags.
            let right = comm.send_recv(&[me as i32], (me + 1) % size, (me + size - 1) % size, 1)?;
            let left =
                comm.send_recv(&[me as i32; 2], (me + size - 1) % size, (me + 1) % size, 2)?;
            assert_eq!(right, vec![((me + size - 1) % size) as i32]);
            assert_eq!(left, vec![((me + 1) % size) as i32; 2]);
            comm.barrier()?;
            Ok(())
        });
        assert_eq!(got.len(), n);
    }
}

#[test]
fn split_makes_rows_and_columns() {
    // 2 x 3 process grid on 6 ranks: rows share r0 = rank / 3, columns r1 = rank % 3.
    let got = on_ranks(6, |comm| {
        let me = comm.rank();
        let row = comm.split(me / 3, me % 3)?;
        let col = comm.split(me % 3, me / 3)?;
        // Reversed key order inside the row communicator.
        let rev = comm.split(me / 3, 10 - me % 3)?;
        let row_members = row.all_gather(&[me as u64])?;
        let col_members = col.all_gather(&[me as u64])?;
        let rev_rank = rev.rank();
        // Collectives on the parent still work, interleaved with the children.
        let total = comm.sum_u64(1)?;
        let row_sum = row.sum_u64(me as u64)?;
        Ok((
            row.rank(),
            row.size(),
            row_members,
            col.rank(),
            col_members,
            rev_rank,
            total,
            row_sum,
        ))
    });
    for (me, (rr, rs, rm, cr, cm, rev, total, row_sum)) in got.into_iter().enumerate() {
        assert_eq!((rr, rs), (me % 3, 3));
        let base = (me / 3 * 3) as u64;
        assert_eq!(rm, vec![vec![base], vec![base + 1], vec![base + 2]]);
        assert_eq!(cr, me / 3);
        assert_eq!(cm, vec![vec![(me % 3) as u64], vec![(me % 3 + 3) as u64]]);
        assert_eq!(rev, 2 - me % 3);
        assert_eq!(total, 6);
        assert_eq!(row_sum, 3 * base + 3);
    }
}

#[test]
fn serial_comm_is_one_rank() {
    let c = SerialComm;
    assert_eq!((c.rank(), c.size(), c.kind()), (0, 1, "serial"));
    let mut v = [1.0, 2.0];
    c.all_reduce_sum(&mut v).unwrap();
    assert_eq!(v, [1.0, 2.0]);
    assert_eq!(c.all_to_all_v(&[vec![3u8, 4]]).unwrap(), vec![vec![3u8, 4]]);
    assert_eq!(c.send_recv(&[5u64], 0, 0, 0).unwrap(), vec![5]);
    assert!(matches!(
        c.send_recv(&[5u64], 1, 0, 0),
        Err(DecompError::RankOutOfRange { rank: 1, size: 1 })
    ));
    assert!(c.all_to_all_v::<u8>(&[vec![], vec![]]).is_err());
    assert_eq!(c.split(3, 0).unwrap().size(), 1);
}

#[test]
fn bad_calls_are_errors_not_hangs() {
    assert!(matches!(
        ThreadComm::run(0, |_| ()),
        Err(DecompError::RankCount { .. })
    ));
    // Different lengths in an all-reduce: every rank gets an error.
    let got = ThreadComm::run(3, |comm| {
        let mut v = vec![1.0f64; comm.rank() + 1];
        comm.all_reduce_sum(&mut v)
    })
    .unwrap();
    assert!(
        got.iter()
            .all(|r| matches!(r, Err(DecompError::Collective(_))))
    );
    // A rank that returns without sending: the waiting rank gets PeerExited.
    let got = ThreadComm::run(2, |comm| {
        if comm.rank() == 0 {
            comm.send_recv(&[1u8], 0, 1, 9).map(|_| ())
        } else {
            Ok(())
        }
    })
    .unwrap();
    assert_eq!(got[0], Err(DecompError::PeerExited { rank: 1 }));
    // Wrong part count, out-of-range ranks.
    let got = ThreadComm::run(2, |comm| {
        let a = comm.all_to_all_v::<u8>(&[vec![]]).is_err();
        let b = comm.send_recv(&[1u8], 2, 0, 0).is_err();
        let c = comm.broadcast(5, &mut vec![0u8]).is_err();
        a && b && c
    })
    .unwrap();
    assert_eq!(got, vec![true, true]);
    // A panicking rank aborts the others and the panic reaches the caller.
    let res = std::panic::catch_unwind(|| {
        ThreadComm::run(3, |comm| {
            if comm.rank() == 1 {
                panic!("rank one fails");
            }
            comm.barrier()
        })
    });
    let msg = res.unwrap_err();
    assert_eq!(msg.downcast_ref::<&str>(), Some(&"rank one fails"));
}

// ---------------------------------------------------------------- decompositions

#[test]
fn slab_decomposition_covers_every_plane_once() {
    for shape in SHAPES {
        let nzc = shape[2] / 2 + 1;
        for size in 1..=shape[0].min(shape[1]) {
            let ds: Vec<_> = (0..size)
                .map(|r| SlabDecomposition::new(shape, size, r).unwrap())
                .collect();
            let mut real = vec![0u8; shape[0]];
            let mut four = vec![0u8; shape[1]];
            for (r, d) in ds.iter().enumerate() {
                let [x, y, z] = d.real_range();
                assert_eq!((y, z), (0..shape[1], 0..shape[2]));
                x.clone().for_each(|i| real[i] += 1);
                assert!(x.len() == shape[0] / size || x.len() == shape[0] / size + 1);
                assert_eq!(x.len() == shape[0] / size + 1, r < shape[0] % size);
                let [kx, ky, kz] = d.fourier_range();
                assert_eq!((kx, kz), (0..shape[0], 0..nzc));
                ky.clone().for_each(|j| four[j] += 1);
                assert_eq!(d.real_local_len(), x.len() * shape[1] * shape[2]);
                assert_eq!(d.fourier_local_shape(), [shape[0], ky.len(), nzc]);
                for i in x.clone() {
                    assert_eq!(d.real_owner([i, shape[1] - 1, 0]).unwrap(), r);
                    assert_eq!(d.position_owner([i as f64 + 0.99, -3.0, 1e6]).unwrap(), r);
                    assert_eq!(
                        d.position_owner([(i + shape[0]) as f64 + 0.5, 0.0, 0.0])
                            .unwrap(),
                        r
                    );
                }
                for j in ky {
                    assert_eq!(d.fourier_owner([shape[0] - 1, j, nzc - 1]).unwrap(), r);
                }
            }
            assert!(real.iter().all(|&c| c == 1), "{shape:?} on {size}");
            assert!(four.iter().all(|&c| c == 1), "{shape:?} on {size}");
            let d = &ds[0];
            assert!(d.real_owner([shape[0], 0, 0]).is_err());
            assert!(d.fourier_owner([0, 0, nzc]).is_err());
            assert!(d.position_owner([f64::NAN, 0.0, 0.0]).is_err());
        }
    }
    assert!(matches!(
        SlabDecomposition::new([4, 8, 4], 5, 0),
        Err(DecompError::RankCount { .. })
    ));
    assert!(matches!(
        SlabDecomposition::new([8, 4, 4], 5, 0),
        Err(DecompError::RankCount { .. })
    ));
    assert!(matches!(
        SlabDecomposition::new([8, 8, 4], 0, 0),
        Err(DecompError::RankCount { .. })
    ));
    assert!(matches!(
        SlabDecomposition::new([8, 8, 4], 2, 2),
        Err(DecompError::RankOutOfRange { .. })
    ));
    assert!(matches!(
        SlabDecomposition::new([8, 8, 5], 2, 0),
        Err(DecompError::Shape { .. })
    ));
    assert!(matches!(
        SlabDecomposition::new([0, 8, 4], 1, 0),
        Err(DecompError::Shape { .. })
    ));
}

#[test]
fn pencil_decomposition_covers_every_cell_once() {
    for shape in SHAPES {
        let nzc = shape[2] / 2 + 1;
        for size in 1..=6 {
            let Ok(grid) = PencilDecomposition::default_grid(shape, size) else {
                continue;
            };
            assert_eq!(grid[0] * grid[1], size);
            let ds: Vec<_> = (0..size)
                .map(|r| PencilDecomposition::new(shape, grid, r).unwrap())
                .collect();
            let mut real = vec![0u8; shape.iter().product()];
            let mut four = vec![0u8; shape[0] * shape[1] * nzc];
            for (r, d) in ds.iter().enumerate() {
                let [x, y, z] = d.real_range();
                for i in x.clone() {
                    for j in y.clone() {
                        for k in z.clone() {
                            real[(i * shape[1] + j) * shape[2] + k] += 1;
                            assert_eq!(d.real_owner([i, j, k]).unwrap(), r);
                        }
                    }
                }
                let [kx, ky, kz] = d.fourier_range();
                assert_eq!(kx, 0..shape[0]);
                for i in kx {
                    for j in ky.clone() {
                        for k in kz.clone() {
                            four[(i * shape[1] + j) * nzc + k] += 1;
                            assert_eq!(d.fourier_owner([i, j, k]).unwrap(), r);
                        }
                    }
                }
            }
            assert!(
                real.iter().all(|&c| c == 1) && four.iter().all(|&c| c == 1),
                "{shape:?} {grid:?}"
            );
        }
        // A P x 1 grid has the slab ranges.
        for p in 1..=shape[0].min(shape[1]) {
            for r in 0..p {
                let pen = PencilDecomposition::new(shape, [p, 1], r).unwrap();
                let slab = SlabDecomposition::new(shape, p, r).unwrap();
                assert_eq!(pen.real_range(), slab.real_range());
                assert_eq!(pen.fourier_range(), slab.fourier_range());
            }
        }
    }
    assert!(PencilDecomposition::new([8, 8, 4], [2, 4], 0).is_err()); // p1 = 4 > nz/2+1 = 3
    assert!(PencilDecomposition::new([8, 8, 8], [2, 2], 4).is_err());
    assert!(PencilDecomposition::for_comm([8, 8, 8], [2, 2], &SerialComm).is_err());
    assert_eq!(BlockSplit::new(10, 4).unwrap().range(1), 3..6);
}

// ---------------------------------------------------------------- transpose

#[test]
fn transpose_round_trips_and_is_its_own_adjoint() {
    for shape in SHAPES {
        for n in 1..=4.min(shape[0]).min(shape[1]) {
            let w = 3;
            let dims = [shape[0], shape[1], w];
            let a = global_real(dims, 1);
            let b = global_real(dims, 2);
            let got = on_ranks(n, |comm| {
                let d = SlabDecomposition::for_comm(shape, comm)?;
                let t = SlabTranspose::new(d.clone(), w)?;
                let xs = d.x_range(comm.rank());
                let ys = d.ky_range(comm.rank());
                let ax = block(&a, dims, &[xs.clone(), 0..shape[1], 0..w]);
                let mut ay = vec![0.0; t.y_slab_len()];
                t.x_to_y(comm, &ax, &mut ay)?;
                assert_eq!(ay, block(&a, dims, &[0..shape[0], ys.clone(), 0..w]));
                let mut back = vec![0.0; t.x_slab_len()];
                t.y_to_x(comm, &ay, &mut back)?;
                assert_eq!(back, ax);
                // <b_y, T a_x> = <T^T b_y, a_x> with T^T = y_to_x.
                let by = block(&b, dims, &[0..shape[0], ys, 0..w]);
                let mut bx = vec![0.0; t.x_slab_len()];
                t.y_to_x(comm, &by, &mut bx)?;
                let lhs = comm.sum_f64(by.iter().zip(&ay).map(|(p, q)| p * q).sum())?;
                let rhs = comm.sum_f64(bx.iter().zip(&ax).map(|(p, q)| p * q).sum())?;
                Ok((lhs, rhs))
            });
            for (l, r) in got {
                assert!((l - r).abs() <= 1e-12 * l.abs().max(1.0), "{l} {r}");
            }
        }
    }
}
