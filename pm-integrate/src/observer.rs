//! Observers: called with the state at the start and after every step.

use pm_fft::Real;

use crate::{IntegrateError, State};

/// Where a run is when an observer is called.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepInfo {
    /// 0 for the initial state, `i` after step `i`.
    pub index: usize,
    /// Number of steps of the run.
    pub steps: usize,
    /// Scale factor at the start of the step (equal to `a` for the initial state).
    pub a_prev: f64,
    /// Scale factor of the state.
    pub a: f64,
}

/// Something that watches a run: snapshots, a lightcone, diagnostics.
///
/// ```
/// use pm_integrate::{Observer, State, StepInfo, IntegrateError};
/// /// Records the total momentum after each step.
/// struct Momentum(Vec<[f64; 3]>);
/// impl Observer<f32> for Momentum {
///     fn observe(&mut self, _: &StepInfo, state: &State<f32>) -> Result<(), IntegrateError> {
///         self.0.push(state.total_momentum());
///         Ok(())
///     }
/// }
/// ```
pub trait Observer<T: Real> {
    /// Called with the initial state (`info.index == 0`) and after every step.
    fn observe(&mut self, info: &StepInfo, state: &State<T>) -> Result<(), IntegrateError>;
}

impl<T: Real, F: FnMut(&StepInfo, &State<T>) -> Result<(), IntegrateError>> Observer<T> for F {
    fn observe(&mut self, info: &StepInfo, state: &State<T>) -> Result<(), IntegrateError> {
        self(info, state)
    }
}
