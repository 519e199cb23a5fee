//! Integration tests of pm-force, in one binary (one link instead of one per file).

mod distributed;
mod gravity;
mod physics;
