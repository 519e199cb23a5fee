//! Objectives: scalar functions of the white noise and the final particles, with their
//! gradients (the cotangents the reverse adjoint starts from).

use pm_fft::Real;
use pm_integrate::State;
use pm_mesh::RealField;

use crate::{AdjointError, StateCotangent};

/// What an objective sees: the model's input (the white noise on the particle grid) and its
/// output (the final state).
#[derive(Debug, Clone, Copy)]
pub struct ObjectiveInput<'a, T: Real> {
    /// The white noise the initial conditions were made from.
    pub noise: &'a RealField<T>,
    /// The final state of the forward run.
    pub state: &'a State<T>,
}

/// An objective's value and gradients. `None` stands for a zero gradient (the objective does
/// not depend on that input), so the prior need not allocate a state cotangent nor the
/// likelihood a noise-sized one.
#[derive(Debug, Clone)]
pub struct ObjectiveOutput<T: Real> {
    /// `L`.
    pub value: f64,
    /// `dL/d noise` (explicit dependence only; the dependence through the simulation is what
    /// the adjoint adds).
    pub noise: Option<RealField<T>>,
    /// `dL/d(final displacements, final momenta)`.
    pub state: Option<StateCotangent<T>>,
}

/// A differentiable scalar objective of a forward run: a log-likelihood, a prior, a loss.
///
/// Implementations return the value and the gradient with respect to what they depend on;
/// `value_and_gradient` carries the state part back to the white noise and the
/// parameters.
pub trait Objective<T: Real>: Sync {
    /// A short description (for logs).
    fn name(&self) -> String;

    /// The value and gradients at `input`.
    fn evaluate(&self, input: ObjectiveInput<'_, T>) -> Result<ObjectiveOutput<T>, AdjointError>;
}

impl<T: Real, O: Objective<T> + ?Sized> Objective<T> for &O {
    fn name(&self) -> String {
        (**self).name()
    }

    fn evaluate(&self, input: ObjectiveInput<'_, T>) -> Result<ObjectiveOutput<T>, AdjointError> {
        (**self).evaluate(input)
    }
}

impl<T: Real, O: Objective<T> + ?Sized> Objective<T> for Box<O> {
    fn name(&self) -> String {
        (**self).name()
    }

    fn evaluate(&self, input: ObjectiveInput<'_, T>) -> Result<ObjectiveOutput<T>, AdjointError> {
        (**self).evaluate(input)
    }
}
