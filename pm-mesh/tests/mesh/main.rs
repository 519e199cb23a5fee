//! Integration tests of pm-mesh, in one binary (one link instead of one per file).

mod assignment;
mod block;
mod geometry;
mod power;
