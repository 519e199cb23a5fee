//! The distributed slab FFT ([`SlabFft`]) on 1-4 thread ranks (uneven splits) against the
//! serial transform's definition ([`NaiveDft3d`], plain DFTs): blocks of the forward and
//! inverse transforms, round trips, determinism, the adjoints' dot-product tests, f32, and
//! bad buffers and communicators.

use pm_decomp::{
    Comm, CommExt, DecompError, Decomposition, SerialComm, SlabDecomposition, ThreadComm,
};
use pm_fft::{Complex, Fft3d, NaiveDft3d, SlabFft};

/// Shapes with uneven splits over 1-4 ranks, odd and tiny axes.
const SHAPES: [[usize; 3]; 5] = [[16, 12, 10], [17, 8, 6], [5, 3, 8], [4, 7, 2], [9, 9, 4]];

/// Runs `f` on `n` thread ranks and unwraps every rank's result.
fn on_ranks<R: Send>(n: usize, f: impl Fn(&ThreadComm) -> Result<R, DecompError> + Sync) -> Vec<R> {
    ThreadComm::run(n, f)
        .expect("threads start")
        .into_iter()
        .enumerate()
        .map(|(r, v)| v.unwrap_or_else(|e| panic!("rank {r}: {e}")))
        .collect()
}

/// A deterministic value in [-1, 1) for index `i` (an LCG-scrambled fraction).
fn value(i: usize, seed: u64) -> f64 {
    let z = (i as u64 + 1)
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(seed.wrapping_mul(1_442_695_040_888_963_407));
    ((z >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
}

fn global_real(shape: [usize; 3], seed: u64) -> Vec<f64> {
    (0..shape.iter().product::<usize>())
        .map(|i| value(i, seed))
        .collect()
}

fn global_complex(shape: [usize; 3], seed: u64) -> Vec<Complex<f64>> {
    (0..shape[0] * shape[1] * (shape[2] / 2 + 1))
        .map(|i| Complex::new(value(2 * i, seed), value(2 * i + 1, seed)))
        .collect()
}

/// The C-order sub-block `ranges` of a global array of shape `dims`.
fn block<T: Copy>(global: &[T], dims: [usize; 3], ranges: &[std::ops::Range<usize>; 3]) -> Vec<T> {
    let rows = ranges[0]
        .clone()
        .flat_map(|x| ranges[1].clone().map(move |y| (x * dims[1] + y) * dims[2]));
    rows.flat_map(|row| {
        global[row + ranges[2].start..row + ranges[2].end]
            .iter()
            .copied()
    })
    .collect()
}

fn fourier_dims(shape: [usize; 3]) -> [usize; 3] {
    [shape[0], shape[1], shape[2] / 2 + 1]
}

fn serial_forward(shape: [usize; 3], real: &[f64]) -> Vec<Complex<f64>> {
    let plan = NaiveDft3d::new(shape).unwrap();
    let mut x = real.to_vec();
    let mut out = vec![Complex::new(0.0, 0.0); plan.complex_len()];
    plan.forward(&mut x, &mut out).unwrap();
    out
}

fn serial_inverse(shape: [usize; 3], spectrum: &[Complex<f64>]) -> Vec<f64> {
    let plan = NaiveDft3d::new(shape).unwrap();
    let mut s = spectrum.to_vec();
    let mut out = vec![0.0; plan.real_len()];
    plan.inverse(&mut s, &mut out).unwrap();
    out
}

/// `max |a - b|`.
fn max_abs_diff(a: &[Complex<f64>], b: &[Complex<f64>]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).norm())
        .fold(0.0, f64::max)
}

/// `max |a|`.
fn max_norm(a: &[Complex<f64>]) -> f64 {
    a.iter().map(|x| x.norm()).fold(0.0, f64::max)
}

#[test]
fn distributed_fft_equals_serial_on_1_to_4_ranks() {
    for shape in SHAPES {
        let real = global_real(shape, 7);
        let serial = serial_forward(shape, &real);
        let scale = max_norm(&serial);
        for n in 1..=4.min(shape[0]).min(shape[1]) {
            let blocks = on_ranks(n, |comm| {
                let d = SlabDecomposition::for_comm(shape, comm)?;
                let plan = SlabFft::<f64>::new(d.clone())?;
                let mut local = block(&real, shape, &d.real_range());
                let mut spec = vec![Complex::new(0.0, 0.0); plan.complex_len()];
                plan.forward(comm, &mut local, &mut spec)?;
                Ok((d.fourier_range(), spec))
            });
            for (ranges, spec) in blocks {
                let expect = block(&serial, fourier_dims(shape), &ranges);
                let err = max_abs_diff(&spec, &expect) / scale;
                assert!(
                    err <= 1e-12,
                    "{shape:?} on {n} ranks: relative error {err:e}"
                );
            }
        }
    }
}

#[test]
fn distributed_fft_round_trips_and_is_deterministic() {
    for shape in SHAPES {
        let real = global_real(shape, 11);
        for n in 1..=4.min(shape[0]).min(shape[1]) {
            let run = || {
                on_ranks(n, |comm| {
                    let d = SlabDecomposition::for_comm(shape, comm)?;
                    let plan = SlabFft::<f64>::new(d.clone())?;
                    let orig = block(&real, shape, &d.real_range());
                    let mut local = orig.clone();
                    let mut spec = vec![Complex::new(0.0, 0.0); plan.complex_len()];
                    plan.forward(comm, &mut local, &mut spec)?;
                    let kept = spec.clone();
                    let mut back = vec![0.0; plan.real_len()];
                    plan.inverse(comm, &mut spec, &mut back)?;
                    let err = back
                        .iter()
                        .zip(&orig)
                        .map(|(a, b)| (a - b).abs())
                        .fold(0.0, f64::max);
                    Ok((err, kept))
                })
            };
            let (first, second) = (run(), run());
            for ((err, a), (_, b)) in first.iter().zip(&second) {
                assert!(*err <= 1e-13, "{shape:?} on {n}: round trip {err:e}");
                assert!(
                    a.iter()
                        .zip(b)
                        .all(|(p, q)| p.re.to_bits() == q.re.to_bits()
                            && p.im.to_bits() == q.im.to_bits())
                );
            }
        }
    }
}

#[test]
fn distributed_inverse_equals_serial_for_non_hermitian_input() {
    // The inverse projects out what a real field cannot hold, exactly as pm-fft does.
    for shape in [[16, 12, 10], [17, 8, 6]] {
        let spec = global_complex(shape, 3);
        let serial = serial_inverse(shape, &spec);
        let scale = serial.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for n in 1..=4 {
            let got = on_ranks(n, |comm| {
                let d = SlabDecomposition::for_comm(shape, comm)?;
                let fft = SlabFft::<f64>::new(d.clone())?;
                let mut local = block(&spec, fourier_dims(shape), &d.fourier_range());
                let mut real = vec![0.0; fft.real_len()];
                fft.inverse(comm, &mut local, &mut real)?;
                Ok((d.real_range(), real))
            });
            for (ranges, real) in got {
                let expect = block(&serial, shape, &ranges);
                let err = real
                    .iter()
                    .zip(&expect)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max);
                assert!(err <= 1e-12 * scale, "{shape:?} on {n}: {err:e}");
            }
        }
    }
}

#[test]
fn distributed_fft_adjoints_pass_the_dot_product_test() {
    for shape in SHAPES {
        let x = global_real(shape, 21);
        let y = global_complex(shape, 22);
        let x2 = global_real(shape, 23);
        let y2 = global_complex(shape, 24);
        for n in 1..=4.min(shape[0]).min(shape[1]) {
            let got = on_ranks(n, |comm| {
                let d = SlabDecomposition::for_comm(shape, comm)?;
                let fft = SlabFft::<f64>::new(d.clone())?;
                let dot_c = |a: &[Complex<f64>], b: &[Complex<f64>]| -> f64 {
                    a.iter()
                        .map(|p| p.conj())
                        .zip(b)
                        .map(|(p, q)| (p * q).re)
                        .sum()
                };
                let dot_r =
                    |a: &[f64], b: &[f64]| -> f64 { a.iter().zip(b).map(|(p, q)| p * q).sum() };
                let xl = block(&x, shape, &d.real_range());
                let yl = block(&y, fourier_dims(shape), &d.fourier_range());
                // <y, F x> = <F^T y, x>
                let mut fx = vec![Complex::new(0.0, 0.0); fft.complex_len()];
                fft.forward(comm, &mut xl.clone(), &mut fx)?;
                let mut fty = vec![0.0; fft.real_len()];
                fft.forward_adjoint(comm, &mut yl.clone(), &mut fty)?;
                let a = (
                    comm.sum_f64(dot_c(&yl, &fx))?,
                    comm.sum_f64(dot_r(&fty, &xl))?,
                );
                // <x2, F^{-1} y2> = <F^{-T} x2, y2>
                let x2l = block(&x2, shape, &d.real_range());
                let y2l = block(&y2, fourier_dims(shape), &d.fourier_range());
                let mut finv = vec![0.0; fft.real_len()];
                fft.inverse(comm, &mut y2l.clone(), &mut finv)?;
                let mut fit = vec![Complex::new(0.0, 0.0); fft.complex_len()];
                fft.inverse_adjoint(comm, &mut x2l.clone(), &mut fit)?;
                let b = (
                    comm.sum_f64(dot_r(&x2l, &finv))?,
                    comm.sum_f64(dot_c(&fit, &y2l))?,
                );
                Ok((a, b))
            });
            for ((l1, r1), (l2, r2)) in got {
                assert!(
                    (l1 - r1).abs() <= 1e-12 * l1.abs().max(r1.abs()),
                    "{shape:?} {n}: {l1} vs {r1}"
                );
                assert!(
                    (l2 - r2).abs() <= 1e-12 * l2.abs().max(r2.abs()),
                    "{shape:?} {n}: {l2} vs {r2}"
                );
            }
        }
    }
}

#[test]
fn distributed_fft_in_f32() {
    let shape = [16, 12, 10];
    let real = global_real(shape, 5);
    let serial = serial_forward(shape, &real);
    let scale = max_norm(&serial);
    let got = on_ranks(3, |comm| {
        let d = SlabDecomposition::for_comm(shape, comm)?;
        let fft = SlabFft::<f32>::new(d.clone())?;
        let mut local: Vec<f32> = block(&real, shape, &d.real_range())
            .iter()
            .map(|&v| v as f32)
            .collect();
        let mut spec = vec![Complex::new(0.0f32, 0.0); fft.complex_len()];
        fft.forward(comm, &mut local, &mut spec)?;
        Ok((d.fourier_range(), spec))
    });
    for (ranges, spec) in got {
        let expect = block(&serial, fourier_dims(shape), &ranges);
        let spec: Vec<Complex<f64>> = spec
            .iter()
            .map(|c| Complex::new(c.re as f64, c.im as f64))
            .collect();
        assert!(max_abs_diff(&spec, &expect) / scale < 1e-5);
    }
}

#[test]
fn fft_rejects_wrong_buffers_and_communicators() {
    let d = SlabDecomposition::new([8, 8, 4], 2, 0).unwrap();
    let fft = SlabFft::<f64>::new(d).unwrap();
    let mut r = vec![0.0; fft.real_len()];
    let mut c = vec![Complex::new(0.0, 0.0); fft.complex_len()];
    assert!(matches!(
        fft.forward(&SerialComm, &mut r, &mut c),
        Err(DecompError::CommMismatch { .. })
    ));
    let d = SlabDecomposition::new([8, 8, 4], 1, 0).unwrap();
    let fft = SlabFft::<f64>::new(d).unwrap();
    let mut short = vec![0.0; fft.real_len() - 1];
    let mut c = vec![Complex::new(0.0, 0.0); fft.complex_len()];
    assert!(matches!(
        fft.forward(&SerialComm, &mut short, &mut c),
        Err(DecompError::BufferSize {
            expected: 256,
            got: 255,
            ..
        })
    ));
    let mut r = vec![0.0; fft.real_len()];
    let mut long = vec![Complex::new(0.0, 0.0); fft.complex_len() + 1];
    assert!(fft.inverse(&SerialComm, &mut long, &mut r).is_err());
    // Ranks that disagree about the shape get an error, not a hang or a panic.
    let got = ThreadComm::run(2, |comm| {
        let shape = if comm.rank() == 0 {
            [8, 8, 4]
        } else {
            [9, 8, 4]
        };
        let d = SlabDecomposition::for_comm(shape, comm)?;
        let fft = SlabFft::<f64>::new(d)?;
        let mut r = vec![0.0; fft.real_len()];
        let mut c = vec![Complex::new(0.0, 0.0); fft.complex_len()];
        fft.forward(comm, &mut r, &mut c)
    })
    .unwrap();
    assert!(
        got.iter()
            .any(|r| matches!(r, Err(DecompError::Collective(_)))),
        "{got:?}"
    );
}
