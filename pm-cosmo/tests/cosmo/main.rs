//! Integration tests of pm-cosmo, in one binary (one link instead of one per file).

mod common;

mod derivatives;
mod growth;
mod params;
mod power;
mod properties;
mod reference_ccl;
