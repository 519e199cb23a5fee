//! Harness shared by the interleaved timing binary (`src/main.rs`) and the criterion bench
//! (`benches/compare.rs`): one [`Case`] holds pm-fft's [`CpuFft3d`] and FFTW's r2c / c2r plans
//! for one cube size, precision and thread count, over the *same* work buffers.
//!
//! Both libraries are timed on identical work: forward = real `[n][n][n]` to half-complex
//! `[n][n][n/2+1]` (out of place), inverse = half-complex to real. Before every timed call the
//! input work buffer is refilled from a reference copy (untimed), because both libraries use
//! their input as scratch (pm-fft always; FFTW for multi-dimensional c2r). FFTW's inverse is
//! unnormalised while pm-fft's carries the `1/N` (one extra multiply per output element, done
//! while the row is in cache).
//!
//! Threads: pm-fft runs inside a dedicated rayon pool of `threads` threads; FFTW plans are made
//! after `fftw_plan_with_nthreads(threads)` (libfftw3_threads, linked by `build.rs`).

use std::sync::Once;
use std::time::{Duration, Instant};

use fftw::array::AlignedVec;
use fftw::plan::{C2RPlan, C2RPlan32, C2RPlan64, R2CPlan, R2CPlan32, R2CPlan64};
use fftw::types::Flag;
use pm_fft::{Complex, CpuFft3d, Fft3d, Real};

/// How hard FFTW searches for a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rigor {
    /// `FFTW_ESTIMATE`: no measurement (fast planning, slower transforms).
    Estimate,
    /// `FFTW_MEASURE`: the usual choice.
    Measure,
    /// `FFTW_PATIENT`: slower planning, sometimes faster transforms.
    Patient,
}

impl Rigor {
    fn flag(self) -> Flag {
        match self {
            Rigor::Estimate => Flag::ESTIMATE,
            Rigor::Measure => Flag::MEASURE,
            Rigor::Patient => Flag::PATIENT,
        }
    }
}

/// A precision FFTW and pm-fft both support, with FFTW's plan types and thread controls.
pub trait FftwReal: Real + fftw::array::AlignedAllocable {
    /// FFTW's real-to-complex plan of this precision.
    type R2C: R2CPlan<Real = Self, Complex = Complex<Self>>;
    /// FFTW's complex-to-real plan of this precision.
    type C2R: C2RPlan<Real = Self, Complex = Complex<Self>>;
    /// A zeroed, SIMD-aligned complex buffer of length `n` (FFTW's allocator).
    fn complex_vec(n: usize) -> AlignedVec<Complex<Self>>;
    /// Sets the number of threads of FFTW plans made from now on (inits threads once).
    fn fftw_threads(n: usize);
}

static INIT64: Once = Once::new();
static INIT32: Once = Once::new();

impl FftwReal for f64 {
    fn complex_vec(n: usize) -> AlignedVec<Complex<Self>> {
        AlignedVec::new(n)
    }
    type R2C = R2CPlan64;
    type C2R = C2RPlan64;
    fn fftw_threads(n: usize) {
        INIT64.call_once(|| {
            // SAFETY: called once, before any plan of this precision is made.
            let ok = unsafe { fftw_sys::fftw_init_threads() };
            assert!(ok != 0, "fftw_init_threads failed");
        });
        let _lock = fftw::FFTW_MUTEX.lock().unwrap();
        // SAFETY: plain setter of FFTW's global planner state, serialised by FFTW_MUTEX.
        unsafe { fftw_sys::fftw_plan_with_nthreads(n as i32) };
    }
}

impl FftwReal for f32 {
    fn complex_vec(n: usize) -> AlignedVec<Complex<Self>> {
        AlignedVec::new(n)
    }
    type R2C = R2CPlan32;
    type C2R = C2RPlan32;
    fn fftw_threads(n: usize) {
        INIT32.call_once(|| {
            // SAFETY: called once, before any plan of this precision is made.
            let ok = unsafe { fftw_sys::fftwf_init_threads() };
            assert!(ok != 0, "fftwf_init_threads failed");
        });
        let _lock = fftw::FFTW_MUTEX.lock().unwrap();
        // SAFETY: plain setter of FFTW's global planner state, serialised by FFTW_MUTEX.
        unsafe { fftw_sys::fftwf_plan_with_nthreads(n as i32) };
    }
}

/// One comparison case: `n^3`, precision `T`, `threads` threads for both libraries.
pub struct Case<T: FftwReal> {
    /// Cube side.
    pub n: usize,
    /// Threads for both libraries.
    pub threads: usize,
    /// Seconds FFTW spent planning (r2c + c2r).
    pub fftw_plan_s: f64,
    pool: rayon::ThreadPool,
    ours: CpuFft3d<T>,
    r2c: T::R2C,
    c2r: T::C2R,
    input: Vec<T>,
    spectrum: Vec<Complex<T>>,
    real: AlignedVec<T>,
    complex: AlignedVec<Complex<T>>,
}

impl<T: FftwReal> Case<T> {
    /// Plans both libraries (FFTW with `rigor`) and prepares the reference input and spectrum.
    pub fn new(n: usize, threads: usize, rigor: Rigor) -> Self {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("rayon pool");
        let shape = [n, n, n];
        let ours = CpuFft3d::<T>::new(shape).expect("pm-fft plan");
        let mut real = AlignedVec::<T>::new(ours.real_len());
        let mut complex = T::complex_vec(ours.complex_len());
        T::fftw_threads(threads);
        let t0 = Instant::now();
        // FFTW_MEASURE overwrites the arrays it plans with, so plan before filling them.
        let r2c = T::R2C::new(&[n, n, n], &mut real, &mut complex, rigor.flag()).expect("r2c");
        let c2r = T::C2R::new(&[n, n, n], &mut complex, &mut real, rigor.flag()).expect("c2r");
        let fftw_plan_s = t0.elapsed().as_secs_f64();
        let input: Vec<T> = (0..ours.real_len())
            .map(|i| T::lit(((i * 7919) % 1000) as f64 / 1000.0 - 0.5))
            .collect();
        let mut case = Self {
            n,
            threads,
            fftw_plan_s,
            pool,
            ours,
            r2c,
            c2r,
            input,
            spectrum: Vec::new(),
            real,
            complex,
        };
        case.time_ours_forward();
        case.spectrum = case.complex.to_vec();
        case
    }

    /// pm-fft forward on a fresh copy of the input; returns the transform time only.
    pub fn time_ours_forward(&mut self) -> Duration {
        self.real.copy_from_slice(&self.input);
        let (ours, real, complex): (_, &mut [T], &mut [Complex<T>]) =
            (&self.ours, &mut self.real, &mut self.complex);
        let t = Instant::now();
        self.pool
            .install(|| ours.forward(real, complex))
            .expect("forward");
        t.elapsed()
    }

    /// FFTW forward (r2c) on a fresh copy of the input; returns the transform time only.
    pub fn time_fftw_forward(&mut self) -> Duration {
        self.real.copy_from_slice(&self.input);
        let t = Instant::now();
        self.r2c
            .r2c(&mut self.real, &mut self.complex)
            .expect("r2c");
        t.elapsed()
    }

    /// pm-fft inverse on a fresh copy of the spectrum; returns the transform time only.
    pub fn time_ours_inverse(&mut self) -> Duration {
        self.complex.copy_from_slice(&self.spectrum);
        let (ours, real, complex): (_, &mut [T], &mut [Complex<T>]) =
            (&self.ours, &mut self.real, &mut self.complex);
        let t = Instant::now();
        self.pool
            .install(|| ours.inverse(complex, real))
            .expect("inverse");
        t.elapsed()
    }

    /// FFTW inverse (c2r, unnormalised) on a fresh copy of the spectrum; transform time only.
    pub fn time_fftw_inverse(&mut self) -> Duration {
        self.complex.copy_from_slice(&self.spectrum);
        let t = Instant::now();
        self.c2r
            .c2r(&mut self.complex, &mut self.real)
            .expect("c2r");
        t.elapsed()
    }

    /// Max |ours - FFTW| / max |FFTW| for the forward spectrum and for the inverse (FFTW's
    /// inverse divided by `N`), as a check that both compute the same thing.
    pub fn check(&mut self) -> (f64, f64) {
        self.time_fftw_forward();
        let fw = self.complex.to_vec();
        let num = fw
            .iter()
            .zip(&self.spectrum)
            .map(|(a, b)| (*a - *b).norm().as_f64())
            .fold(0.0, f64::max);
        let den = fw.iter().map(|a| a.norm().as_f64()).fold(0.0, f64::max);
        self.time_ours_inverse();
        let ours = self.real.to_vec();
        self.time_fftw_inverse();
        let scale = 1.0 / (self.n * self.n * self.n) as f64;
        let inum = ours
            .iter()
            .zip(self.real.iter())
            .map(|(a, b)| (a.as_f64() - b.as_f64() * scale).abs())
            .fold(0.0, f64::max);
        let iden = ours.iter().map(|a| a.as_f64().abs()).fold(0.0, f64::max);
        (num / den, inum / iden)
    }
}

/// Whether rustfft's planner will pick its AVX (+FMA) algorithms on this machine.
pub fn rustfft_uses_avx<T: Real>() -> bool {
    rustfft::FftPlannerAvx::<T>::new().is_ok()
}

/// The 1-, 5- and 15-minute load averages from `/proc/loadavg`.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}
