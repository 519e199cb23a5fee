//! Integration tests of pm-decomp, in one binary (one link instead of one per file).

mod comm;
mod common;
mod halo_migrate;
