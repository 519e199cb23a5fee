//! Stock objectives and the pieces to build more.
//!
//! * [`FieldObjective`]: a scalar function of a density contrast on a mesh with its gradient;
//!   [`Painted`] turns one into an [`Objective`] of the final particles (paint, evaluate,
//!   carry the field gradient back to the displacements with [`pm_mesh::paint_vjp`]), and
//!   [`OnNoise`] into an objective of the white noise itself.
//! * [`GaussianLikelihood`] (field), [`PowerSpectrumLoss`] (field), [`WhiteNoisePrior`]
//!   (noise).
//! * [`Sum`]: the sum of any objectives, itself an objective.
//!
//! Every value is accumulated in f64 (docs/ARCHITECTURE.md); gradients are stored in `T`.

mod likelihood;
mod power;
mod prior;

pub use likelihood::{GaussianLikelihood, Sigma};
pub use power::{PowerLossForm, PowerSpectrumLoss};
pub use prior::WhiteNoisePrior;

use pm_decomp::Comm;
use pm_fft::Real;
use pm_integrate::IntegrateError;
use pm_mesh::{
    Mesh, MeshError, RealField, Scheme, density_contrast, mean_particle_mass, paint_vjp,
};
use rayon::prelude::*;

use crate::{
    AdjointError, Objective, ObjectiveInput, ObjectiveOutput, StateCotangent, on_whole_run,
};

/// A field objective's value and its gradient with respect to the field.
#[derive(Debug, Clone)]
pub struct FieldOutput<T: Real> {
    /// `L(delta)`.
    pub value: f64,
    /// `dL/d delta`, cell by cell, on the objective's mesh.
    pub gradient: RealField<T>,
}

/// A differentiable scalar function `L(delta)` of a real field on a fixed mesh (a density
/// contrast `delta = rho / rho_mean - 1`, or the white noise for [`OnNoise`]).
pub trait FieldObjective<T: Real>: Sync {
    /// A short description (for logs).
    fn name(&self) -> String;

    /// The mesh the field must live on.
    fn mesh(&self) -> &Mesh;

    /// `L(delta)` and `dL/d delta` (one value per cell).
    fn evaluate_field(&self, delta: &RealField<T>) -> Result<FieldOutput<T>, AdjointError>;
}

impl<T: Real, F: FieldObjective<T> + ?Sized> FieldObjective<T> for &F {
    fn name(&self) -> String {
        (**self).name()
    }
    fn mesh(&self) -> &Mesh {
        (**self).mesh()
    }
    fn evaluate_field(&self, delta: &RealField<T>) -> Result<FieldOutput<T>, AdjointError> {
        (**self).evaluate_field(delta)
    }
}

impl<T: Real, F: FieldObjective<T> + ?Sized> FieldObjective<T> for Box<F> {
    fn name(&self) -> String {
        (**self).name()
    }
    fn mesh(&self) -> &Mesh {
        (**self).mesh()
    }
    fn evaluate_field(&self, delta: &RealField<T>) -> Result<FieldOutput<T>, AdjointError> {
        (**self).evaluate_field(delta)
    }
}

/// A mesh error as an adjoint error.
pub(crate) fn mesh_error(e: MeshError) -> AdjointError {
    AdjointError::Integrate(IntegrateError::Mesh(e))
}

/// An invalid objective setting (reported as [`MeshError::Option`]).
pub(crate) fn invalid(what: &'static str, reason: String) -> AdjointError {
    mesh_error(MeshError::Option { what, reason })
}

/// `Err` unless `field` lives on `mesh`.
pub(crate) fn check_mesh<T: Real>(
    what: &str,
    field: &RealField<T>,
    mesh: &Mesh,
) -> Result<(), AdjointError> {
    if field.mesh() != mesh {
        return Err(mesh_error(MeshError::MeshMismatch {
            what: format!(
                "{what} is on {:?}, the objective needs {:?}",
                field.mesh(),
                mesh
            ),
        }));
    }
    Ok(())
}

/// The density contrast of the particles of `state` painted on `mesh` with `scheme`:
///
/// ```text
/// delta[c] = m sum_i W(x_i - c) - 1,    m = n_cells / n_particles
/// ```
///
/// (the mean particle mass of [`mean_particle_mass`], so that the mean of `1 + delta` is 1).
pub fn painted_density<T: Real>(
    state: &pm_integrate::State<T>,
    mesh: Mesh,
    scheme: Scheme,
) -> Result<RealField<T>, AdjointError> {
    density_contrast(&state.positions(), mesh, scheme).map_err(mesh_error)
}

/// A [`FieldObjective`] of the final density: an [`Objective`] that paints the final
/// particles on the field objective's mesh ([`painted_density`], CIC unless
/// [`Painted::with_scheme`] says otherwise), evaluates `L(delta)`, and carries `g = dL/d delta`
/// back to the displacements with the VJP of the paint:
///
/// ```text
/// dL/d disp_i = m sum_c g[c] grad W(x_i - c),    dL/d mom_i = 0
/// ```
///
/// NGP has a zero position gradient almost everywhere, so it is useless for optimisation.
/// On several ranks the run is gathered first ([`on_whole_run`]).
#[derive(Debug, Clone)]
pub struct Painted<F> {
    objective: F,
    scheme: Scheme,
}

impl<F> Painted<F> {
    /// `objective` of the CIC-painted final density contrast.
    pub fn new(objective: F) -> Self {
        Self {
            objective,
            scheme: Scheme::Cic,
        }
    }

    /// Paints with `scheme` instead.
    pub fn with_scheme(mut self, scheme: Scheme) -> Self {
        self.scheme = scheme;
        self
    }

    /// The field objective.
    pub fn inner(&self) -> &F {
        &self.objective
    }

    /// The field objective, mutable (e.g. to anneal a likelihood's sigma).
    pub fn inner_mut(&mut self) -> &mut F {
        &mut self.objective
    }

    /// The mass assignment scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }
}

impl<T: Real, F: FieldObjective<T>> Objective<T> for Painted<F> {
    fn name(&self) -> String {
        format!(
            "{} of the {:?}-painted density",
            self.objective.name(),
            self.scheme
        )
    }

    fn evaluate(
        &self,
        comm: &dyn Comm,
        input: ObjectiveInput<'_, T>,
    ) -> Result<ObjectiveOutput<T>, AdjointError> {
        on_whole_run(comm, input, |whole| self.evaluate_whole(whole))
    }
}

impl<F> Painted<F> {
    /// The objective of the whole run (every particle).
    fn evaluate_whole<T: Real>(
        &self,
        input: ObjectiveInput<'_, T>,
    ) -> Result<ObjectiveOutput<T>, AdjointError>
    where
        F: FieldObjective<T>,
    {
        let state = input.state;
        let mesh = *self.objective.mesh();
        let delta = painted_density(state, mesh, self.scheme)?;
        let FieldOutput {
            value,
            mut gradient,
        } = self.objective.evaluate_field(&delta)?;
        check_mesh("the field gradient", &gradient, &mesh)?;
        // delta = m rho_1 - 1, so dL/d rho_1 = m g.
        let m = mean_particle_mass(&mesh, state.len());
        gradient
            .as_slice_mut()
            .par_iter_mut()
            .for_each(|v| *v = T::lit(m * v.as_f64()));
        let mut cot = StateCotangent::zeros(state.len());
        paint_vjp(
            &gradient,
            &state.positions(),
            None,
            self.scheme,
            Some(&mut cot.disp),
            None,
        )
        .map_err(mesh_error)?;
        Ok(ObjectiveOutput {
            value,
            noise: None,
            state: Some(cot),
        })
    }
}

/// A [`FieldObjective`] of the white noise itself (e.g. a power spectrum loss on the noise):
/// `L(noise)`, gradient `dL/d noise`, no state dependence. The field objective's mesh must be
/// the particle grid.
#[derive(Debug, Clone)]
pub struct OnNoise<F>(pub F);

impl<T: Real, F: FieldObjective<T>> Objective<T> for OnNoise<F> {
    fn name(&self) -> String {
        format!("{} of the white noise", self.0.name())
    }

    fn evaluate(
        &self,
        comm: &dyn Comm,
        input: ObjectiveInput<'_, T>,
    ) -> Result<ObjectiveOutput<T>, AdjointError> {
        on_whole_run(comm, input, |whole| {
            check_mesh("the white noise", whole.noise, self.0.mesh())?;
            let out = self.0.evaluate_field(whole.noise)?;
            Ok(ObjectiveOutput {
                value: out.value,
                noise: Some(out.gradient),
                state: None,
            })
        })
    }
}

/// The sum of objectives, `L = sum_j L_j`, with the summed gradients (a term's `None` adds
/// nothing; the sum's gradient is `None` only when every term's is).
///
/// Terms are boxed trait objects; [`Objective`] is implemented for references, so terms
/// can be borrowed:
///
/// ```
/// # use pm_adjoint::{Objective, Sum, WhiteNoisePrior};
/// let prior = WhiteNoisePrior::new();
/// let total: Sum<'_, f64> = Sum::new().with(&prior).with(WhiteNoisePrior::with_weight(2.0).unwrap());
/// assert_eq!(total.len(), 2);
/// ```
pub struct Sum<'a, T: Real> {
    terms: Vec<Box<dyn Objective<T> + 'a>>,
}

impl<T: Real> Default for Sum<'_, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a, T: Real> Sum<'a, T> {
    /// No terms (value 0).
    pub fn new() -> Self {
        Self { terms: Vec::new() }
    }

    /// These terms.
    pub fn from_terms(terms: Vec<Box<dyn Objective<T> + 'a>>) -> Self {
        Self { terms }
    }

    /// Adds a term.
    pub fn with(mut self, term: impl Objective<T> + 'a) -> Self {
        self.terms.push(Box::new(term));
        self
    }

    /// Adds a term.
    pub fn push(&mut self, term: impl Objective<T> + 'a) {
        self.terms.push(Box::new(term));
    }

    /// Number of terms.
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    /// True when there are no terms.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Evaluates every term, returning the values term by term (for logs) and the total.
    pub fn evaluate_terms(
        &self,
        comm: &dyn Comm,
        input: ObjectiveInput<'_, T>,
    ) -> Result<(Vec<f64>, ObjectiveOutput<T>), AdjointError> {
        let mut values = Vec::with_capacity(self.terms.len());
        let mut total = ObjectiveOutput {
            value: 0.0,
            noise: None,
            state: None,
        };
        for term in &self.terms {
            let out = term.evaluate(comm, input)?;
            values.push(out.value);
            total.value += out.value;
            total.noise = add_noise(total.noise, out.noise)?;
            total.state = add_state(total.state, out.state)?;
        }
        Ok((values, total))
    }
}

fn add_noise<T: Real>(
    a: Option<RealField<T>>,
    b: Option<RealField<T>>,
) -> Result<Option<RealField<T>>, AdjointError> {
    Ok(match (a, b) {
        (None, x) | (x, None) => x,
        (Some(mut a), Some(b)) => {
            check_mesh("a noise gradient", &b, &a.mesh().clone())?;
            add_into(a.as_slice_mut(), b.as_slice());
            Some(a)
        }
    })
}

fn add_state<T: Real>(
    a: Option<StateCotangent<T>>,
    b: Option<StateCotangent<T>>,
) -> Result<Option<StateCotangent<T>>, AdjointError> {
    Ok(match (a, b) {
        (None, x) | (x, None) => x,
        (Some(mut a), Some(b)) => {
            for (what, x, y) in [
                ("disp cotangent", &mut a.disp, &b.disp),
                ("mom cotangent", &mut a.mom, &b.mom),
            ] {
                if x.len() != y.len() {
                    return Err(AdjointError::Length {
                        what,
                        expected: x.len(),
                        got: y.len(),
                    });
                }
                x.par_iter_mut().zip(y.par_iter()).for_each(|(x, y)| {
                    for k in 0..3 {
                        x[k] = x[k] + y[k];
                    }
                });
            }
            Some(a)
        }
    })
}

fn add_into<T: Real>(a: &mut [T], b: &[T]) {
    a.par_iter_mut()
        .zip(b.par_iter())
        .for_each(|(x, y)| *x = *x + *y);
}

impl<T: Real> Objective<T> for Sum<'_, T> {
    fn name(&self) -> String {
        let names: Vec<String> = self.terms.iter().map(|t| t.name()).collect();
        format!("sum({})", names.join(" + "))
    }

    fn evaluate(
        &self,
        comm: &dyn Comm,
        input: ObjectiveInput<'_, T>,
    ) -> Result<ObjectiveOutput<T>, AdjointError> {
        Ok(self.evaluate_terms(comm, input)?.1)
    }
}
