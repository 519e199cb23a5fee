//! Objectives: scalar functions of the white noise and the final particles, with their
//! gradients (the cotangents the reverse adjoint starts from), on any communicator.

use pm_decomp::{Comm, CommExt};
use pm_fft::Real;
use pm_integrate::{IntegrateError, State};
use pm_mesh::RealField;

use crate::{AdjointError, StateCotangent};

/// What an objective sees on one rank: its block of the model's input (the white noise on
/// the particle grid) and its share of the output (the final particles). On one rank, the
/// whole noise field and every particle.
#[derive(Debug, Clone, Copy)]
pub struct ObjectiveInput<'a, T: Real> {
    /// This rank's block of the white noise the initial conditions were made from.
    pub noise: &'a RealField<T>,
    /// This rank's particles after the last step.
    pub state: &'a State<T>,
}

/// An objective's value and this rank's gradients. `None` stands for a zero gradient (the
/// objective does not depend on that input), so the prior need not allocate a state
/// cotangent nor the likelihood a noise-sized one.
#[derive(Debug, Clone)]
pub struct ObjectiveOutput<T: Real> {
    /// `L`, the same on every rank.
    pub value: f64,
    /// `dL/d noise` on this rank's block (explicit dependence only; the dependence through
    /// the simulation is what the adjoint adds).
    pub noise: Option<RealField<T>>,
    /// `dL/d(final displacements, final momenta)` of this rank's particles, in the state's
    /// order.
    pub state: Option<StateCotangent<T>>,
}

/// A differentiable scalar objective of a forward run: a log-likelihood, a prior, a loss.
///
/// Implementations return the value and this rank's gradients with respect to what they
/// depend on; `value_and_gradient` carries the state part back to the white noise and the
/// parameters. Every rank calls [`Objective::evaluate`] (collectively) with its own input.
/// An objective that needs the whole run can gather it with [`on_whole_run`].
pub trait Objective<T: Real>: Sync {
    /// A short description (for logs).
    fn name(&self) -> String;

    /// The value and this rank's gradients at `input`. Collective.
    fn evaluate(
        &self,
        comm: &dyn Comm,
        input: ObjectiveInput<'_, T>,
    ) -> Result<ObjectiveOutput<T>, AdjointError>;
}

impl<T: Real, O: Objective<T> + ?Sized> Objective<T> for &O {
    fn name(&self) -> String {
        (**self).name()
    }

    fn evaluate(
        &self,
        comm: &dyn Comm,
        input: ObjectiveInput<'_, T>,
    ) -> Result<ObjectiveOutput<T>, AdjointError> {
        (**self).evaluate(comm, input)
    }
}

impl<T: Real, O: Objective<T> + ?Sized> Objective<T> for Box<O> {
    fn name(&self) -> String {
        (**self).name()
    }

    fn evaluate(
        &self,
        comm: &dyn Comm,
        input: ObjectiveInput<'_, T>,
    ) -> Result<ObjectiveOutput<T>, AdjointError> {
        (**self).evaluate(comm, input)
    }
}

/// Evaluates `whole_run`, an objective of the whole run (the whole noise field and every
/// particle in lattice order), on every rank's share: on one rank it is called on the input
/// as it is; on several, the noise blocks and the particles are gathered onto every rank,
/// each rank evaluates it on the whole run, and keeps the gradient rows of its own noise
/// planes and particles. The value is rank 0's (every rank computes the same).
///
/// This is how the stock field objectives ([`crate::Painted`], [`crate::OnNoise`]) run on
/// any communicator, at the memory cost of one whole final state and noise field per rank
/// (`N_p (8 + 6s) + N_p s` bytes for `s`-byte reals) during the evaluation: right for checks
/// and moderate sizes; an objective of the local particles (paint them on the rank's
/// `pm_mesh::MeshBlock`, reduce over ranks) scales instead. Collective.
pub fn on_whole_run<T: Real>(
    comm: &dyn Comm,
    input: ObjectiveInput<'_, T>,
    whole_run: impl FnOnce(ObjectiveInput<'_, T>) -> Result<ObjectiveOutput<T>, AdjointError>,
) -> Result<ObjectiveOutput<T>, AdjointError> {
    if comm.size() == 1 {
        return whole_run(input);
    }
    let local = input.state;
    let state = local.gather(comm)?;
    let gathered: Vec<T> = comm
        .all_gather(input.noise.as_slice())
        .map_err(IntegrateError::from)?
        .concat();
    let mesh = *input.noise.mesh();
    let noise = RealField::from_vec(mesh, gathered).map_err(IntegrateError::from)?;
    let output = whole_run(ObjectiveInput {
        noise: &noise,
        state: &state,
    })?;
    drop(state);
    // The same computation on every rank; rank 0's value is the one all report.
    let value = comm
        .all_gather(&[output.value])
        .map_err(IntegrateError::from)?[0][0];
    let planes = input.noise.planes();
    let plane = mesh.shape()[1] * mesh.shape()[2];
    let noise_bar = output
        .noise
        .map(|g| {
            let rows = g.as_slice()[planes.start * plane..planes.end * plane].to_vec();
            RealField::from_block(mesh, planes.clone(), rows)
        })
        .transpose()
        .map_err(IntegrateError::from)?;
    let state_bar = output.state.map(|c| {
        let rows = |v: &[[T; 3]]| -> Vec<[T; 3]> {
            (0..local.len()).map(|i| v[local.id(i) as usize]).collect()
        };
        StateCotangent::new(rows(&c.disp), rows(&c.mom))
    });
    Ok(ObjectiveOutput {
        value,
        noise: noise_bar,
        state: state_bar,
    })
}
