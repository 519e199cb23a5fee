//! Integration tests of pm-decomp, in one binary (one link instead of one per file).

mod comm_fft;
mod common;
mod halo_migrate;
mod reference;
