//! Integration tests of pm-integrate, in one binary (one link instead of one per file).

mod distributed;
mod forward;
mod initial_conditions;
mod lpt;
mod steppers;
mod vjp;
