//! Integration tests of pm-decomp, in one binary (one link instead of one per file).

mod comm;
mod halo_migrate;
