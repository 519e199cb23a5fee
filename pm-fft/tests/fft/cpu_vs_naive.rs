//! The CPU plan against the naive DFT, round trips, the adjoint identity, buffer checks and
//! thread-count independence.

use pm_fft::{Complex, CpuFft3d, CpuFftPlanner, Fft3d, FftError, NaiveDft3d, Real};
use pm_testkit::signed_spread;

const SHAPES: [[usize; 3]; 6] = [
    [4, 6, 8],
    [5, 3, 4],
    [8, 8, 8],
    [1, 1, 2],
    [7, 1, 6],
    [3, 20, 34],
];

/// splitmix64-based uniform numbers in [-1, 1), deterministic.
fn noise(n: usize, seed: u64) -> Vec<f64> {
    (0..n as u64).map(|i| signed_spread(i, seed)).collect()
}

fn max_abs_c(a: &[Complex<f64>]) -> f64 {
    a.iter().map(|v| v.norm()).fold(0.0, f64::max)
}

/// Max |fast - naive| relative to max |naive| for the forward transform.
fn forward_err<T: Real>(shape: [usize; 3]) -> f64 {
    let naive = NaiveDft3d::new(shape).unwrap();
    let fast = CpuFft3d::<T>::new(shape).unwrap();
    let x = noise(naive.real_len(), 1);
    let mut xr = x.clone();
    let mut want = vec![Complex::default(); naive.complex_len()];
    naive.forward(&mut xr, &mut want).unwrap();
    let mut xt: Vec<T> = x.iter().map(|&v| T::lit(v)).collect();
    let mut got = vec![Complex::<T>::default(); fast.complex_len()];
    fast.forward(&mut xt, &mut got).unwrap();
    let err = want
        .iter()
        .zip(&got)
        .map(|(w, g)| (w - Complex::new(g.re.as_f64(), g.im.as_f64())).norm())
        .fold(0.0, f64::max);
    err / max_abs_c(&want)
}

#[test]
fn forward_matches_naive() {
    for shape in SHAPES {
        let e64 = forward_err::<f64>(shape);
        let e32 = forward_err::<f32>(shape);
        println!("{shape:?}: f64 {e64:.2e}, f32 {e32:.2e}");
        assert!(e64 < 1e-12, "{shape:?} f64 {e64}");
        // f32: rounding of the input plus log2(N) stages of f32 arithmetic, eps = 6e-8.
        assert!(e32 < 1e-5, "{shape:?} f32 {e32}");
    }
}

#[test]
fn inverse_matches_naive() {
    for shape in SHAPES {
        let naive = NaiveDft3d::new(shape).unwrap();
        let fast = CpuFft3d::<f64>::new(shape).unwrap();
        // An arbitrary (non-Hermitian) spectrum: both must take the same projection.
        let re = noise(naive.complex_len(), 2);
        let im = noise(naive.complex_len(), 3);
        let y: Vec<Complex<f64>> = re
            .iter()
            .zip(&im)
            .map(|(&a, &b)| Complex::new(a, b))
            .collect();
        let (mut y1, mut y2) = (y.clone(), y);
        let mut want = vec![0.0; naive.real_len()];
        let mut got = vec![0.0; naive.real_len()];
        naive.inverse(&mut y1, &mut want).unwrap();
        fast.inverse(&mut y2, &mut got).unwrap();
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let err = want
            .iter()
            .zip(&got)
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        println!("{shape:?}: inverse rel err {:.2e}", err / scale);
        assert!(err / scale < 1e-12, "{shape:?} {err}");
    }
}

fn round_trip_err<T: Real>(shape: [usize; 3]) -> f64 {
    let plan = CpuFft3d::<T>::new(shape).unwrap();
    let x: Vec<T> = noise(plan.real_len(), 4)
        .iter()
        .map(|&v| T::lit(v))
        .collect();
    let mut work = x.clone();
    let mut c = vec![Complex::<T>::default(); plan.complex_len()];
    plan.forward(&mut work, &mut c).unwrap();
    let mut back = vec![T::zero(); plan.real_len()];
    plan.inverse(&mut c, &mut back).unwrap();
    x.iter()
        .zip(&back)
        .map(|(a, b)| (a.as_f64() - b.as_f64()).abs())
        .fold(0.0, f64::max)
}

#[test]
fn round_trip() {
    for shape in SHAPES.into_iter().chain([[32, 48, 64], [64, 64, 64]]) {
        let e64 = round_trip_err::<f64>(shape);
        let e32 = round_trip_err::<f32>(shape);
        println!("{shape:?}: round trip f64 {e64:.2e}, f32 {e32:.2e}");
        assert!(e64 < 1e-13, "{shape:?} f64 {e64}");
        assert!(e32 < 1e-6, "{shape:?} f32 {e32}");
    }
}

/// <F x, y>_w = N <x, inverse(y)>, weights 1 at kz = 0, nz/2 and 2 in between.
#[test]
fn inverse_is_weighted_adjoint_of_forward() {
    for shape in SHAPES {
        let plan = CpuFft3d::<f64>::new(shape).unwrap();
        let nz = shape[2];
        let nzc = nz / 2 + 1;
        let n = plan.real_len() as f64;
        let x = noise(plan.real_len(), 5);
        let re = noise(plan.complex_len(), 6);
        let im = noise(plan.complex_len(), 7);
        let y: Vec<Complex<f64>> = re
            .iter()
            .zip(&im)
            .map(|(&a, &b)| Complex::new(a, b))
            .collect();
        let mut fx = vec![Complex::default(); plan.complex_len()];
        plan.forward(&mut x.clone(), &mut fx).unwrap();
        let lhs: f64 = fx
            .iter()
            .zip(&y)
            .enumerate()
            .map(|(i, (a, b))| {
                let k = i % nzc;
                let w = if k == 0 || 2 * k == nz { 1.0 } else { 2.0 };
                w * (a.conj() * b).re
            })
            .sum();
        let mut gy = vec![0.0; plan.real_len()];
        plan.inverse(&mut y.clone(), &mut gy).unwrap();
        let rhs: f64 = n * x.iter().zip(&gy).map(|(a, b)| a * b).sum::<f64>();
        let rel = (lhs - rhs).abs() / lhs.abs().max(rhs.abs());
        println!("{shape:?}: adjoint lhs {lhs:.6e} rhs {rhs:.6e} rel {rel:.2e}");
        assert!(rel < 1e-10, "{shape:?}: {lhs} vs {rhs}");
    }
}

#[test]
fn wrong_buffer_sizes_are_errors() {
    let plan = CpuFft3d::<f64>::new([4, 6, 8]).unwrap();
    let naive = NaiveDft3d::new([4, 6, 8]).unwrap();
    let plans: [&dyn Fft3d<f64>; 2] = [&plan, &naive];
    for p in plans {
        assert_eq!(p.complex_shape(), [4, 6, 5]);
        let mut r = vec![0.0; 191];
        let mut c = vec![Complex::default(); 120];
        let e = FftError::BufferSize {
            what: "real",
            expected: 192,
            got: 191,
        };
        assert_eq!(p.forward(&mut r, &mut c), Err(e.clone()));
        assert_eq!(p.inverse(&mut c, &mut r), Err(e));
        let mut r = vec![0.0; 192];
        let mut c = vec![Complex::default(); 121];
        let e = FftError::BufferSize {
            what: "complex",
            expected: 120,
            got: 121,
        };
        assert_eq!(p.forward(&mut r, &mut c), Err(e.clone()));
        assert_eq!(p.inverse(&mut c, &mut r), Err(e));
    }
}

#[test]
fn bad_shapes_are_errors() {
    // The last two overflow: (2^20)^3 complex f64 is 2^64 bytes (`particles = 1048576` in
    // a config), and 2^40 * 2^40 cells do not even have a count in 64 bits.
    for shape in [
        [0, 4, 4],
        [4, 0, 4],
        [4, 4, 0],
        [4, 4, 5],
        [2, 2, 1],
        [1 << 20; 3],
        [1 << 40, 1 << 40, 2],
    ] {
        assert!(
            matches!(CpuFft3d::<f32>::new(shape), Err(FftError::Shape { .. })),
            "{shape:?}"
        );
        assert!(
            matches!(NaiveDft3d::new(shape), Err(FftError::Shape { .. })),
            "{shape:?}"
        );
    }
}

fn run_in_pool<T: Real>(threads: usize, shape: [usize; 3]) -> (Vec<Complex<T>>, Vec<T>) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let plan = CpuFft3d::<T>::new(shape).unwrap();
        let mut x: Vec<T> = noise(plan.real_len(), 8)
            .iter()
            .map(|&v| T::lit(v))
            .collect();
        let mut c = vec![Complex::<T>::default(); plan.complex_len()];
        plan.forward(&mut x, &mut c).unwrap();
        let spectrum = c.clone();
        let mut back = vec![T::zero(); plan.real_len()];
        plan.inverse(&mut c, &mut back).unwrap();
        (spectrum, back)
    })
}

#[test]
fn bitwise_independent_of_thread_count() {
    for shape in [[8, 8, 8], [33, 17, 40], [64, 32, 64]] {
        let (c1, r1) = run_in_pool::<f64>(1, shape);
        let (c2, r2) = run_in_pool::<f64>(2, shape);
        let (c3, r3) = run_in_pool::<f64>(3, shape);
        let bits = |c: &[Complex<f64>]| -> Vec<(u64, u64)> {
            c.iter().map(|v| (v.re.to_bits(), v.im.to_bits())).collect()
        };
        let rbits = |r: &[f64]| -> Vec<u64> { r.iter().map(|v| v.to_bits()).collect() };
        assert_eq!(bits(&c1), bits(&c2), "{shape:?}");
        assert_eq!(bits(&c1), bits(&c3), "{shape:?}");
        assert_eq!(rbits(&r1), rbits(&r2), "{shape:?}");
        assert_eq!(rbits(&r1), rbits(&r3), "{shape:?}");
        let (c1, r1) = run_in_pool::<f32>(1, shape);
        let (c2, r2) = run_in_pool::<f32>(2, shape);
        let fb = |c: &[Complex<f32>]| -> Vec<(u32, u32)> {
            c.iter().map(|v| (v.re.to_bits(), v.im.to_bits())).collect()
        };
        assert_eq!(fb(&c1), fb(&c2), "{shape:?}");
        let rb = |r: &[f32]| -> Vec<u32> { r.iter().map(|v| v.to_bits()).collect() };
        assert_eq!(rb(&r1), rb(&r2), "{shape:?}");
    }
}

#[test]
fn planner_caches_and_is_object_safe() {
    let mut planner = CpuFftPlanner::<f32>::new();
    let a = planner.plan([8, 8, 8]).unwrap();
    let b = planner.plan([8, 8, 8]).unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    let c = planner.plan([4, 8, 16]).unwrap();
    assert!(!std::sync::Arc::ptr_eq(&a, &c));
    assert!(planner.plan([4, 4, 3]).is_err());
    let boxed: Box<dyn Fft3d<f32>> = Box::new(CpuFft3d::<f32>::new([2, 2, 2]).unwrap());
    assert_eq!(boxed.shape(), [2, 2, 2]);
    assert_eq!(boxed.real_len(), 8);
    assert_eq!(boxed.complex_len(), 8);
    assert_eq!(f32::NAME, "f32");
    assert_eq!(f64::NAME, "f64");
    assert_eq!(<f32 as Real>::lit(0.5), 0.5f32);
    assert_eq!(<f32 as Real>::as_f64(0.25), 0.25);
}

/// One plan reused (its worker scratch kept between calls) from pools of different sizes,
/// forward and inverse interleaved: every call gives the same bits as the first.
#[test]
fn plan_reuse_across_pools_is_bitwise_stable() {
    let shape = [12, 20, 70];
    let plan = CpuFft3d::<f32>::new(shape).unwrap();
    let x: Vec<f32> = noise(plan.real_len(), 9)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut r = x.clone();
            let mut c = vec![Complex::<f32>::default(); plan.complex_len()];
            plan.forward(&mut r, &mut c).unwrap();
            let spectrum: Vec<(u32, u32)> =
                c.iter().map(|v| (v.re.to_bits(), v.im.to_bits())).collect();
            plan.inverse(&mut c, &mut r).unwrap();
            let back: Vec<u32> = r.iter().map(|v| v.to_bits()).collect();
            (spectrum, back)
        })
    };
    let first = run(1);
    for threads in [3, 2, 1, 4, 2] {
        assert_eq!(run(threads), first, "{threads} threads");
    }
}
