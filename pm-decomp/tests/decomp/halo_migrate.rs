//! Integration tests of the slab halo exchange and of particle migration, on `SerialComm`
//! and on 1-4 thread ranks with uneven splits and halos wider than a slab.

use pm_decomp::{
    Comm, CommExt, DecompError, Migration, SerialComm, SlabDecomposition, SlabHalo, ThreadComm,
    widths_for_support,
};

use pm_testkit::{dot, signed};

/// Runs `f` on `n` thread ranks (and, for `n == 1`, also on `SerialComm`, checking that both
/// give the same result) and unwraps every rank's result.
fn on_ranks<R: Send + PartialEq + std::fmt::Debug>(
    n: usize,
    f: impl Fn(&dyn Comm) -> Result<R, DecompError> + Sync,
) -> Vec<R> {
    let got: Vec<R> = ThreadComm::run(n, |c| f(c))
        .expect("threads start")
        .into_iter()
        .enumerate()
        .map(|(r, v)| v.unwrap_or_else(|e| panic!("rank {r} of {n}: {e}")))
        .collect();
    if n == 1 {
        let serial = f(&SerialComm).unwrap_or_else(|e| panic!("serial: {e}"));
        assert_eq!(got[0], serial, "SerialComm and 1 thread rank differ");
    }
    got
}

/// An integer-valued pseudo-random value in `[-50, 50)` (sums stay exact in f64).
fn int_noise(i: u64, seed: u64) -> f64 {
    (signed(i, seed) * 50.0).floor()
}

/// Global plane of padded plane `p` on a rank whose slab starts at `x0`, derived
/// independently of the library: `(x0 - lo + p) mod nx`.
fn wrap_plane(x0: usize, lo: usize, p: usize, nx: usize) -> usize {
    (x0 as i64 - lo as i64 + p as i64).rem_euclid(nx as i64) as usize
}

/// Shapes with uneven splits and slabs of one plane, and halo widths up to wider than the
/// whole box.
const SHAPES: [[usize; 3]; 5] = [[8, 3, 4], [7, 2, 2], [5, 3, 2], [4, 4, 2], [3, 3, 2]];
const WIDTHS: [(usize, usize); 8] = [
    (0, 0),
    (0, 1),
    (1, 1),
    (1, 2),
    (3, 3),
    (2, 0),
    (0, 4),
    (5, 9),
];

// ---------------------------------------------------------------- halo

#[test]
fn widths_follow_the_stencil_rule() {
    assert_eq!(widths_for_support(0), (0, 0));
    assert_eq!(widths_for_support(1), (0, 1)); // NGP
    assert_eq!(widths_for_support(2), (0, 1)); // CIC
    assert_eq!(widths_for_support(3), (1, 2)); // TSC
    assert_eq!(widths_for_support(4), (1, 2)); // PCS
    // Brute force: for particles anywhere in cell c, the stencil of support s
    // (first = floor(u + 1 - s/2), grid points at integers) stays within [c - lo, c + hi],
    // and both bounds are reached.
    for s in 1..=6usize {
        let (lo, hi) = widths_for_support(s);
        let (mut min, mut max) = (i64::MAX, i64::MIN);
        for k in 0..1000 {
            let u = 10.0 + k as f64 / 1000.0;
            let first = (u + 1.0 - s as f64 / 2.0).floor() as i64;
            min = min.min(first - 10);
            max = max.max(first + s as i64 - 1 - 10);
        }
        assert_eq!((-min, max), (lo as i64, hi as i64), "support {s}");
    }
    let d = SlabDecomposition::new([8, 4, 2], 2, 1).unwrap();
    let h = SlabHalo::for_support(d, 3).unwrap();
    assert_eq!(
        (h.lo(), h.hi(), h.padded_planes(), h.plane_len()),
        (1, 2, 7, 8)
    );
    assert_eq!(h.owned_elements(), 8..40);
    assert_eq!(
        (0..7).map(|p| h.global_plane(p)).collect::<Vec<_>>(),
        vec![3, 4, 5, 6, 7, 0, 1]
    );
}

#[test]
fn halo_add_gives_the_global_sum_of_the_painted_contributions() {
    for shape in SHAPES {
        let [nx, ny, nz] = shape;
        let plane = ny * nz;
        for (lo, hi) in WIDTHS {
            for n in 1..=4.min(nx).min(ny) {
                let ds: Vec<_> = (0..n)
                    .map(|r| SlabDecomposition::new(shape, n, r).unwrap())
                    .collect();
                // Rank r's contribution at padded plane p, cell c of the plane.
                let contrib =
                    |r: usize, p: usize, c: usize| int_noise((r * 1000 + p * 50 + c) as u64, 3);
                // The global array: every padded plane added into its wrapped global plane.
                let mut g = vec![0.0; nx * plane];
                for (r, d) in ds.iter().enumerate() {
                    let x = d.x_range(r);
                    for p in 0..lo + x.len() + hi {
                        let gp = wrap_plane(x.start, lo, p, nx);
                        for c in 0..plane {
                            g[gp * plane + c] += contrib(r, p, c);
                        }
                    }
                }
                let got = on_ranks(n, |comm| {
                    let d = SlabDecomposition::for_comm(shape, comm)?;
                    let h = SlabHalo::new(d, lo, hi)?;
                    let me = comm.rank();
                    let mut a: Vec<f64> = (0..h.padded_len())
                        .map(|i| contrib(me, i / plane, i % plane))
                        .collect();
                    h.halo_add(comm, &mut a)?;
                    Ok(a)
                });
                for (r, a) in got.iter().enumerate() {
                    let x = ds[r].x_range(r);
                    let owned = &a[lo * plane..(lo + x.len()) * plane];
                    assert_eq!(
                        owned,
                        &g[x.start * plane..x.end * plane],
                        "{shape:?} lo {lo} hi {hi} on {n}: rank {r}"
                    );
                    assert!(a[..lo * plane].iter().all(|&v| v == 0.0));
                    assert!(a[(lo + x.len()) * plane..].iter().all(|&v| v == 0.0));
                }
            }
        }
    }
}

#[test]
fn halo_fill_copies_the_owners_planes() {
    for shape in SHAPES {
        let [nx, ny, nz] = shape;
        let plane = ny * nz;
        let g: Vec<f64> = (0..nx * plane).map(|i| int_noise(i as u64, 5)).collect();
        for (lo, hi) in WIDTHS {
            for n in 1..=4.min(nx).min(ny) {
                let got = on_ranks(n, |comm| {
                    let d = SlabDecomposition::for_comm(shape, comm)?;
                    let x = d.x_range(comm.rank());
                    let h = SlabHalo::new(d, lo, hi)?;
                    let mut a = h.pad(&g[x.start * plane..x.end * plane])?;
                    // Garbage in the ghosts: it must be overwritten.
                    a[..lo * plane].fill(1e300);
                    a[(lo + x.len()) * plane..].fill(-7.5);
                    h.halo_fill(comm, &mut a)?;
                    Ok((x.start, a))
                });
                for (r, (x0, a)) in got.iter().enumerate() {
                    for (p, run) in a.chunks_exact(plane).enumerate() {
                        let gp = wrap_plane(*x0, lo, p, nx);
                        assert_eq!(
                            run,
                            &g[gp * plane..(gp + 1) * plane],
                            "{shape:?} lo {lo} hi {hi} on {n}: rank {r} padded plane {p}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn halo_add_and_fill_are_each_others_adjoint() {
    for shape in SHAPES {
        for (lo, hi) in WIDTHS {
            for n in 1..=4.min(shape[0]).min(shape[1]) {
                let got = on_ranks(n, |comm| {
                    let d = SlabDecomposition::for_comm(shape, comm)?;
                    let h = SlabHalo::new(d, lo, hi)?;
                    let me = comm.rank() as u64;
                    let x: Vec<f64> = (0..h.padded_len() as u64)
                        .map(|i| signed(i, 100 + me))
                        .collect();
                    let y: Vec<f64> = (0..h.padded_len() as u64)
                        .map(|i| signed(i, 200 + me))
                        .collect();
                    // <y, A x> = <A^T y, x>, A = add, A^T = fill (= add_adjoint).
                    let (mut ax, mut aty) = (x.clone(), y.clone());
                    h.halo_add(comm, &mut ax)?;
                    h.halo_add_adjoint(comm, &mut aty)?;
                    let add = (comm.sum_f64(dot(&y, &ax))?, comm.sum_f64(dot(&aty, &x))?);
                    // <y, B x> = <B^T y, x>, B = fill, B^T = add (= fill_adjoint).
                    let (mut bx, mut bty) = (x.clone(), y.clone());
                    h.halo_fill(comm, &mut bx)?;
                    h.halo_fill_adjoint(comm, &mut bty)?;
                    let fill = (comm.sum_f64(dot(&y, &bx))?, comm.sum_f64(dot(&bty, &x))?);
                    Ok((add, fill))
                });
                for ((l1, r1), (l2, r2)) in got {
                    for (l, r) in [(l1, r1), (l2, r2)] {
                        assert!(
                            (l - r).abs() <= 1e-12 * l.abs().max(r.abs()).max(1.0),
                            "{shape:?} lo {lo} hi {hi} on {n}: {l} vs {r}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn halo_add_is_bitwise_deterministic_and_works_in_f32() {
    let shape = [7, 4, 2];
    for n in 1..=4 {
        let run = || {
            on_ranks(n, |comm| {
                let d = SlabDecomposition::for_comm(shape, comm)?;
                let h = SlabHalo::new(d, 3, 4)?;
                let me = comm.rank() as u64;
                let mut a: Vec<f64> = (0..h.padded_len() as u64)
                    .map(|i| signed(i, me) * 1e8 + signed(i, 9 + me))
                    .collect();
                h.halo_add(comm, &mut a)?;
                let mut b: Vec<f32> = (0..h.padded_len()).map(|i| (i % 5) as f32).collect();
                h.halo_add(comm, &mut b)?;
                h.halo_fill(comm, &mut b)?;
                Ok((a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), b))
            })
        };
        assert_eq!(run(), run(), "{n} ranks");
    }
}

#[test]
fn halo_rejects_wrong_lengths_and_communicators() {
    let d = SlabDecomposition::new([8, 4, 2], 1, 0).unwrap();
    let h = SlabHalo::new(d, 1, 2).unwrap();
    assert_eq!(h.padded_len(), 11 * 8);
    let mut short = vec![0.0f64; h.padded_len() - 1];
    assert_eq!(
        h.halo_add(&SerialComm, &mut short),
        Err(DecompError::BufferSize {
            what: "padded slab",
            expected: 88,
            got: 87
        })
    );
    assert!(matches!(
        h.halo_fill(&SerialComm, &mut short),
        Err(DecompError::BufferSize { .. })
    ));
    assert!(matches!(
        h.pad(&[0.0f64; 3]),
        Err(DecompError::BufferSize {
            expected: 64,
            got: 3,
            ..
        })
    ));
    let d = SlabDecomposition::new([8, 4, 2], 2, 1).unwrap();
    let h = SlabHalo::new(d, 1, 1).unwrap();
    let mut a = vec![0.0f64; h.padded_len()];
    assert!(matches!(
        h.halo_add(&SerialComm, &mut a),
        Err(DecompError::CommMismatch { .. })
    ));
    let d = SlabDecomposition::new([8, 4, 2], 1, 0).unwrap();
    assert!(matches!(
        SlabHalo::new(d, usize::MAX / 2, usize::MAX / 2),
        Err(DecompError::Shape { .. })
    ));
}

// ---------------------------------------------------------------- migration

/// Rank `r`'s starting particles: ids `r * 1000 + i`, x spread over several box lengths
/// (jumps of many slab widths), including the edge cases `L`, `-0.0`, tiny negatives and
/// exact plane boundaries.
fn particles(r: usize, box_size: f64) -> (Vec<u64>, Vec<f64>) {
    let m = 17 + 5 * r;
    let ids: Vec<u64> = (0..m as u64).map(|i| r as u64 * 1000 + i).collect();
    let x: Vec<f64> = ids
        .iter()
        .map(|&id| match id % 9 {
            0 => box_size,
            1 => -0.0,
            2 => -1e-300,
            3 => box_size * 0.25,
            _ => signed(id, 77) * 2.5 * box_size + 0.5 * box_size,
        })
        .collect();
    (ids, x)
}

/// The owner of coordinate `x`, computed independently: pm-mesh's wrap of the mesh
/// coordinate `u = x / (L / nx)` into `[0, nx)` (a tiny negative `u` rounds to `nx` and
/// wraps to 0), its plane `floor(u)`, then the block split with the first `nx % P` ranks
/// one plane larger.
fn expected_owner(x: f64, box_size: f64, nx: usize, size: usize) -> usize {
    let n = nx as f64;
    let mut u = (x / (box_size / n)).rem_euclid(n);
    if u >= n {
        u -= n;
    }
    let plane = u.floor() as usize;
    let (b, rem) = (nx / size, nx % size);
    (0..size)
        .find(|&r| {
            let start = r * b + r.min(rem);
            (start..start + b + usize::from(r < rem)).contains(&plane)
        })
        .unwrap()
}

#[test]
fn migration_loses_and_duplicates_nothing_when_particles_jump_many_slabs() {
    let box_size = 100.0;
    for shape in [[13, 4, 2], [8, 8, 2], [4, 4, 2]] {
        let nx = shape[0];
        for n in 1..=4 {
            let got = on_ranks(n, |comm| {
                let d = SlabDecomposition::for_comm(shape, comm)?;
                let me = comm.rank();
                let (ids, x) = particles(me, box_size);
                let pay: Vec<[f64; 3]> = ids
                    .iter()
                    .zip(&x)
                    .map(|(&id, &xi)| [id as f64, xi, -(id as f64)])
                    .collect();
                let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
                let m = Migration::for_slab_x(comm, &d, box_size, &x)?;
                assert_eq!(m.len_before(), ids.len());
                let ids2 = m.forward(comm, &ids)?;
                let x2 = m.forward(comm, &x)?;
                let pay2 = m.forward(comm, &pay)?;
                let x32_2 = m.forward(comm, &x32)?;
                assert_eq!(ids2.len(), m.len_after());
                // Every particle is on its owner, its payload travelled with it.
                for (k, (&id, &xi)) in ids2.iter().zip(&x2).enumerate() {
                    assert_eq!(expected_owner(xi, box_size, nx, n), me, "x = {xi}");
                    assert_eq!(pay2[k], [id as f64, xi, -(id as f64)]);
                    assert_eq!(x32_2[k], xi as f32);
                }
                // Arrival order (source rank, original index) = ascending ids here.
                assert!(ids2.windows(2).all(|w| w[0] < w[1]), "{ids2:?}");
                // f32 positions route the same particles (none sits near a plane edge
                // where f32 rounding could move it, except the exact edge cases).
                let m32 = Migration::for_slab_x(comm, &d, box_size, &x32)?;
                let same32 = m32.forward(comm, &ids)? == ids2;
                // The reverse migration restores the original arrays exactly.
                assert_eq!(m.reverse(comm, &ids2)?, ids);
                assert_eq!(m.reverse(comm, &pay2)?, pay);
                assert_eq!(
                    m.reverse(comm, &x2)?
                        .iter()
                        .map(|v| v.to_bits())
                        .collect::<Vec<_>>(),
                    x.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
                );
                // Dot-product identity <y, M v> = <M^T y, v>, M^T = reverse.
                let v: Vec<f64> = ids.iter().map(|&i| signed(i, 1)).collect();
                let y: Vec<f64> = (0..m.len_after() as u64)
                    .map(|i| signed(i, 50 + me as u64))
                    .collect();
                let lhs = comm.sum_f64(dot(&y, &m.forward(comm, &v)?))?;
                let rhs = comm.sum_f64(dot(&m.forward_adjoint(comm, &y)?, &v))?;
                let all: Vec<u64> = comm.all_gather(&ids2)?.concat();
                Ok((
                    all,
                    lhs,
                    rhs,
                    m.send_counts().to_vec(),
                    m.recv_counts().to_vec(),
                    same32,
                ))
            });
            let mut expect: Vec<u64> = (0..n).flat_map(|r| particles(r, box_size).0).collect();
            expect.sort_unstable();
            // Every rank's send counts are the others' receive counts.
            for (r, (all, lhs, rhs, send, _, same32)) in got.iter().enumerate() {
                let mut all = all.clone();
                all.sort_unstable();
                assert_eq!(all, expect, "{shape:?} on {n}: ids lost or duplicated");
                assert!(
                    (lhs - rhs).abs() <= 1e-12 * lhs.abs().max(1.0),
                    "{lhs} vs {rhs}"
                );
                for (d, &c) in send.iter().enumerate() {
                    assert_eq!(got[d].4[r], c);
                }
                assert!(*same32);
            }
        }
    }
}

#[test]
fn migration_is_deterministic_and_serial_is_the_identity() {
    let (ids, x) = particles(0, 10.0);
    let d = SlabDecomposition::new([6, 6, 2], 1, 0).unwrap();
    let m = Migration::for_slab_x(&SerialComm, &d, 10.0, &x).unwrap();
    assert_eq!(m.forward(&SerialComm, &ids).unwrap(), ids);
    assert_eq!(m.send_order(), (0..ids.len()).collect::<Vec<_>>());
    // Owners given directly; two runs agree.
    let run = || {
        on_ranks(3, |comm| {
            let me = comm.rank();
            let owners: Vec<usize> = (0..10).map(|i| (i * 7 + me) % 3).collect();
            let m = Migration::from_owners(comm, &owners)?;
            let vals: Vec<(u64, f32)> = (0..10).map(|i| ((me * 10 + i) as u64, i as f32)).collect();
            m.forward(comm, &vals)
        })
    };
    let a = run();
    assert_eq!(a, run());
    for (me, v) in a.iter().enumerate() {
        // From each source rank s, its particles i with (7 i + s) % 3 == me, ascending i.
        let expect: Vec<(u64, f32)> = (0..3)
            .flat_map(|s| {
                (0..10)
                    .filter(move |i| (i * 7 + s) % 3 == me)
                    .map(move |i| ((s * 10 + i) as u64, i as f32))
            })
            .collect();
        assert_eq!(v, &expect);
    }
}

#[test]
fn migration_rejects_bad_input_on_every_rank() {
    let d = SlabDecomposition::new([8, 4, 2], 1, 0).unwrap();
    assert!(matches!(
        Migration::for_slab_x(&SerialComm, &d, 0.0, &[1.0f64]),
        Err(DecompError::Position { .. })
    ));
    assert!(matches!(
        Migration::for_slab_x(&SerialComm, &d, 10.0, &[f64::NAN]),
        Err(DecompError::Position { .. })
    ));
    let m = Migration::from_owners(&SerialComm, &[0, 0]).unwrap();
    assert_eq!(
        m.forward(&SerialComm, &[1u64]),
        Err(DecompError::BufferSize {
            what: "migration payload",
            expected: 2,
            got: 1
        })
    );
    assert!(matches!(
        m.reverse(&SerialComm, &[1u64; 3]),
        Err(DecompError::BufferSize {
            expected: 2,
            got: 3,
            ..
        })
    ));
    // One rank with a bad owner or position: every rank gets an error, none hangs.
    let got = ThreadComm::run(3, |comm| {
        let owner = if comm.rank() == 1 { 3 } else { 0 };
        Migration::from_owners(comm, &[owner]).map(|_| ())
    })
    .unwrap();
    assert_eq!(
        got[1],
        Err(DecompError::RankOutOfRange { rank: 3, size: 3 })
    );
    assert!(matches!(got[0], Err(DecompError::Collective(_))));
    assert!(matches!(got[2], Err(DecompError::Collective(_))));
    let got = ThreadComm::run(2, |comm| {
        let d = SlabDecomposition::for_comm([8, 4, 2], comm)?;
        let x = if comm.rank() == 0 { f64::INFINITY } else { 1.0 };
        Migration::for_slab_x(comm, &d, 8.0, &[x]).map(|_| ())
    })
    .unwrap();
    assert!(matches!(got[0], Err(DecompError::Position { .. })));
    assert!(matches!(got[1], Err(DecompError::Collective(_))));
    // A migration used on another communicator.
    let got = ThreadComm::run(2, |comm| {
        let m = Migration::from_owners(comm, &[0])?;
        m.forward(&SerialComm, &[1u8]).map(|_| ())
    })
    .unwrap();
    assert!(matches!(got[1], Err(DecompError::CommMismatch { .. })));
}
