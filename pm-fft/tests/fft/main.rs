//! pm-fft's integration tests, as modules of one test binary (one link instead of two).

mod cpu_vs_naive;
mod slab;
