//! End-to-end tests of `pm`'s guarantees on data, signals and resources (issue 22;
//! `docs/RELIABILITY.md` lists which test backs which guarantee), in one binary: one link
//! instead of one per file.
//!
//! `PM_TEST_BIN=/path/to/pm cargo test -p pm-cli --test reliability [module::]` runs them
//! against another build (see `common`).

mod common;
mod config_props;
mod estimate;
mod no_panic;
mod rundir;
mod signals;
