//! Observers of a run: called with the state at the start and after every step
//! ([`Observer`]), or with each step's drift ([`Observer::observe_step`], [`StepObservable`],
//! whose gradient the reverse adjoint computes step by step).
//!
//! In a run over several ranks every rank calls its observers with its own particles;
//! observers that build something global (a map, a sum) accumulate per rank and combine the
//! ranks' parts at the end, in rank order, so the result does not depend on timing.

use pm_decomp::Comm;
use pm_fft::Real;
use pm_mesh::Positions;

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

/// One step's drift as an observer sees it: this rank's particles at the start (`x0`, at
/// `a0`) and at the end (`x1`, at `a1`) of step `step` (0-based), the same particles in the
/// same order (before they migrate between ranks).
#[derive(Debug, Clone, Copy)]
pub struct StepPositions<'a, T: Real> {
    /// The step, `0..steps`.
    pub step: usize,
    /// Scale factor at its start.
    pub a0: f64,
    /// Scale factor at its end.
    pub a1: f64,
    /// Positions at `a0` (`q + disp`).
    pub x0: Positions<'a, T>,
    /// Positions at `a1`.
    pub x1: Positions<'a, T>,
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
    /// Called with this rank's particles at the start (`info.index == 0`) and after every
    /// step.
    fn observe(&mut self, info: &StepInfo, state: &State<T>) -> Result<(), IntegrateError>;

    /// Whether the observer wants [`Observer::observe_step`] (the run then keeps a copy of
    /// the displacements at the start of each step). Default: no.
    fn wants_steps(&self) -> bool {
        false
    }

    /// Called after each step's drift, before the particles migrate between ranks, with
    /// this rank's particles at both ends of the step (a lightcone is crossed between
    /// them). Default: nothing.
    fn observe_step(&mut self, step: &StepPositions<'_, T>) -> Result<(), IntegrateError> {
        let _ = step;
        Ok(())
    }
}

impl<T: Real, F: FnMut(&StepInfo, &State<T>) -> Result<(), IntegrateError>> Observer<T> for F {
    fn observe(&mut self, info: &StepInfo, state: &State<T>) -> Result<(), IntegrateError> {
        self(info, state)
    }
}

/// A differentiable function of the positions along the trajectory (a lightcone, a time
/// series of fields), built up step by step: the forward run feeds it every step's drift,
/// and the reverse adjoint (`pm_adjoint::value_and_gradient_along`) asks for its cotangents
/// when it undoes that step, so the trajectory is never stored.
///
/// The positions handed over are `q + disp`; cotangents are with respect to the
/// displacements (the same as with respect to the positions). On several ranks each rank
/// sees its own particles; [`StepObservable::finish`] combines the ranks' parts.
pub trait StepObservable<T: Real> {
    /// Forward run: this rank's particles went from `step.x0` to `step.x1`.
    fn observe_step(&mut self, step: &StepPositions<'_, T>) -> Result<(), IntegrateError>;

    /// After the last step: the observable's value `L_obs` (the same on every rank;
    /// collective). From here on, its gradient is fixed (e.g. `dL/dkappa` of a map built by
    /// the steps) and [`Self::step_vjp`] may be called, in any order of steps.
    fn finish(&mut self, comm: &dyn Comm) -> Result<f64, IntegrateError>;

    /// Reverse run: adds `dL_obs/dx0` into `x0_bar` and `dL_obs/dx1` into `x1_bar` for this
    /// rank's particles of step `step` (the contributions through this step alone).
    fn step_vjp(
        &self,
        step: &StepPositions<'_, T>,
        x0_bar: &mut [[T; 3]],
        x1_bar: &mut [[T; 3]],
    ) -> Result<(), IntegrateError>;
}
