//! fftw-sys's `system` feature links libfftw3 and libfftw3f only; the threaded variants
//! (`fftw_init_threads`, `fftw_plan_with_nthreads`) live in libfftw3_threads and
//! libfftw3f_threads, shipped by Debian's libfftw3-dev.
fn main() {
    println!("cargo:rustc-link-lib=fftw3_threads");
    println!("cargo:rustc-link-lib=fftw3f_threads");
    println!("cargo:rerun-if-changed=build.rs");
}
