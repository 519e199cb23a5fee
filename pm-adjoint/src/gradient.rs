//! `value_and_gradient`: an objective of a [`Simulation`] and its gradient with respect to the
//! white noise, the linear modes, the LPT growth factors, the force and the step coefficients.

use pm_cosmo::GrowthTable;
use pm_fft::Real;
use pm_force::ForceKernel;
use pm_integrate::{
    IntegrateError, Lpt, LptCotangent, LptOrder, Simulation, State, StepInfo, linear_modes_vjp,
};
use pm_mesh::{FourierField, Positions, RealField};
use rayon::prelude::*;

use crate::reverse::{axpy, dot};
use crate::{
    AdjointError, Objective, ObjectiveInput, StateCotangent, StepCoefficientGradients,
    StepObservable, reverse_with,
};

/// An objective's value and its gradients through a whole forward run (white noise ->
/// linear modes -> LPT -> kick-drift-kick steps -> final state), from [`value_and_gradient`].
#[derive(Debug, Clone)]
pub struct Gradient<T: Real> {
    /// `L`.
    pub value: f64,
    /// `dL/d noise(x)` on the particle grid, total: the objective's explicit term plus the
    /// dependence through the simulation.
    pub noise: RealField<T>,
    /// `dL/d delta_L(k)` for the a = 1 linear modes on the particle grid, through the
    /// simulation only, in the stored-element convention of [`Lpt::vjp`]
    /// (`dL = sum_stored Re(conj(modes_k) d delta_L(k))`, every stored half-complex element
    /// counted once).
    pub modes: FourierField<T>,
    /// `dL/d(D1, D2, gp1, gp2)` for the four growth factors that [`Lpt::state`] takes from
    /// `growth.at(a_start)` (`a_start` the first scale factor) to place the particles:
    /// `disp0 = D1 psi1 + D2 psi2`, `mom0 = gp1 psi1 + gp2 psi2`, so
    /// `[<x_bar0, psi1>, <x_bar0, psi2>, <p_bar0, psi1>, <p_bar0, psi2>]` with `x_bar0`,
    /// `p_bar0` the cotangents of the initial state (the `psi2` entries are 0 for 1LPT).
    /// Only the initial placement: the steppers' own growth dependence (COLA's frame terms,
    /// the kick and drift factors) is in `steps`.
    pub lpt_growth: [f64; 4],
    /// `dL/dc` for the force prefactor `c = 3/2 Omega_m` at fixed growth and coefficients.
    pub prefactor: f64,
    /// `dL/dtheta` for the force kernel's parameters.
    pub kernel_params: Vec<f64>,
    /// Per step (forward order), the gradients with respect to its kick and drift
    /// coefficients (see [`StepCoefficientGradients`]).
    pub steps: Vec<StepCoefficientGradients>,
}

/// Runs `sim` forward from the white noise `noise` (on the particle grid), evaluates
/// `objective` on the final state, and returns its value and gradients ([`Gradient`]).
///
/// The chain, forward then backwards:
///
/// ```text
/// noise --linear_modes--> delta_L(k) --Lpt::new--> (psi1, psi2) --Lpt::state--> (x0, p0)
///       --kdk steps--> (x_N, p_N) --objective--> L
///
/// (x_bar0, p_bar0), psi_frame_bar, dL/dc, dL/dtheta, steps = reverse(x_N, dL/d(x_N, p_N))
/// psi1_bar = D1 x_bar0 + gp1 p_bar0 + psi_frame_bar.psi1      (growth at a_start)
/// psi2_bar = D2 x_bar0 + gp2 p_bar0 + psi_frame_bar.psi2
/// modes_bar = Lpt::vjp(delta_L, psi_bar);   noise_bar = linear_modes_vjp(modes_bar) + dL/dnoise
/// ```
///
/// Only the final state is kept from the forward run, and the reverse integration consumes
/// it (no copy: run [`Simulation::evolve`] to keep one); [`reverse`] recovers the trajectory by
/// integrating backwards, so memory does not grow with the number of steps. When the
/// objective does not depend on the state (`state: None`), the reverse run is skipped and
/// every gradient through the simulation is zero.
///
/// Errors: [`AdjointError::Integrate`] if `noise` is not on the particle grid, and whatever
/// the forward run, the objective or the adjoint return.
pub fn value_and_gradient<T: Real, K: ForceKernel>(
    sim: &Simulation<T, K>,
    noise: &RealField<T>,
    objective: &dyn Objective<T>,
) -> Result<Gradient<T>, AdjointError> {
    gradient_with(sim, noise, objective, None)
}

/// [`value_and_gradient`] of `objective(final state) + L_obs(trajectory)`: `observable`
/// watches every step of the forward run ([`StepObservable::observe_step`]), gives its value
/// at the end, and adds its cotangents inside the reverse run ([`crate::reverse_with`]), so
/// memory stays flat in the number of steps. The forward run keeps one extra copy of the
/// displacements (the previous step's) for it.
pub fn value_and_gradient_along<T: Real, K: ForceKernel>(
    sim: &Simulation<T, K>,
    noise: &RealField<T>,
    objective: &dyn Objective<T>,
    observable: &mut dyn StepObservable<T>,
) -> Result<Gradient<T>, AdjointError> {
    gradient_with(sim, noise, objective, Some(observable))
}

fn gradient_with<T: Real, K: ForceKernel>(
    sim: &Simulation<T, K>,
    noise: &RealField<T>,
    objective: &dyn Objective<T>,
    mut observable: Option<&mut dyn StepObservable<T>>,
) -> Result<Gradient<T>, AdjointError> {
    let modes = sim.linear_modes_from(noise)?;
    let lpt = sim.lpt_from_modes(&modes)?;
    let a_start = sim.scale_factors()[0];
    let start = lpt.state(a_start, sim.growth())?;
    let final_state = match observable.as_deref_mut() {
        None => sim.evolve(start, Some(&lpt), &mut [])?,
        Some(obs) => {
            let mut previous: Option<Vec<[T; 3]>> = None;
            let mut failure = None;
            let mut feed = |info: &StepInfo, state: &State<T>| {
                if let Some(x0) = previous.as_ref() {
                    let lattice = state.lattice;
                    if let Err(e) = obs.observe_step(
                        info.index - 1,
                        info.a_prev,
                        info.a,
                        &Positions::Displaced { lattice, disp: x0 },
                        &state.positions(),
                    ) {
                        let message = e.to_string();
                        failure = Some(e);
                        return Err(IntegrateError::Observer(message));
                    }
                }
                previous = Some(state.disp.clone());
                Ok(())
            };
            let result = sim.evolve(start, Some(&lpt), &mut [&mut feed]);
            if let Some(e) = failure {
                return Err(e);
            }
            result?
        }
    };
    let mut output = objective.evaluate(ObjectiveInput {
        noise,
        state: &final_state,
    })?;
    let mesh = *sim.particle_mesh();
    let steps = sim.scale_factors().len() - 1;
    let n_params = sim.forces().gravity.kernel().params().len();
    let observable = match observable {
        Some(obs) => {
            output.value += obs.finish()?;
            if output.state.is_none() {
                output.state = Some(StateCotangent::zeros(final_state.len()));
            }
            Some(&*obs)
        }
        None => None,
    };

    let Some(cotangent) = output.state else {
        return Ok(Gradient {
            value: output.value,
            noise: output.noise.unwrap_or_else(|| RealField::zeros(mesh)),
            modes: FourierField::zeros(mesh),
            lpt_growth: [0.0; 4],
            prefactor: 0.0,
            kernel_params: vec![0.0; n_params],
            steps: vec![StepCoefficientGradients::default(); steps],
        });
    };

    // Steppers that do not move the LPT frame need no LPT fields while integrating back:
    // free them (two particle vectors) for the reverse run and recompute them after it.
    let lpt = if sim.stepper().needs_lpt() {
        Some(lpt)
    } else {
        drop(lpt);
        None
    };
    let back = reverse_with(
        sim.stepper(),
        sim.forces(),
        lpt.as_ref(),
        final_state,
        sim.scale_factors(),
        cotangent,
        observable,
    )?;
    let StateCotangent {
        disp: x_bar,
        mom: p_bar,
    } = &back.cotangent;
    let lpt = match lpt {
        Some(lpt) => lpt,
        None => sim.lpt_from_modes(&modes)?,
    };
    let (psi_bar, lpt_growth) = initial_placement_vjp(
        sim.growth(),
        a_start,
        (lpt.psi1(), lpt.psi2()),
        x_bar,
        p_bar,
        back.lpt,
    )?;
    drop(lpt);
    let modes_bar = Lpt::vjp(&modes, &psi_bar, sim.particle_plan())?;
    drop(psi_bar);
    let mut noise_bar = linear_modes_vjp(
        noise,
        sim.power(),
        sim.mode_options(),
        &modes_bar,
        sim.particle_plan(),
    )?;
    if let Some(explicit) = output.noise {
        if *explicit.mesh() != mesh {
            return Err(AdjointError::Length {
                what: "objective's noise gradient",
                expected: mesh.n_cells(),
                got: explicit.mesh().n_cells(),
            });
        }
        noise_bar
            .as_slice_mut()
            .par_iter_mut()
            .zip(explicit.as_slice().par_iter())
            .for_each(|(g, e)| *g = T::lit(g.as_f64() + e.as_f64()));
    }
    Ok(Gradient {
        value: output.value,
        noise: noise_bar,
        modes: modes_bar,
        lpt_growth,
        prefactor: back.prefactor,
        kernel_params: back.kernel_params,
        steps: back.steps,
    })
}

/// Adjoint of [`Lpt::state`] at `a_start` (`x0 = D1 psi1 + D2 psi2`, `p0 = gp1 psi1 +
/// gp2 psi2`) added to the frame cotangents `frame` from the steps: returns the total
/// cotangents of `psi1`, `psi2` and `dL/d(D1, D2, gp1, gp2)` (this block's sums, for a
/// block of the particles). `fields` are `(psi1, psi2)` in the order of `x_bar`, `p_bar`.
pub(crate) fn initial_placement_vjp<T: Real>(
    growth: &GrowthTable<f64>,
    a_start: f64,
    fields: (&[[T; 3]], Option<&[[T; 3]]>),
    x_bar: &[[T; 3]],
    p_bar: &[[T; 3]],
    frame: Option<LptCotangent<T>>,
) -> Result<(LptCotangent<T>, [f64; 4]), AdjointError> {
    let g = growth
        .at(a_start)
        .map_err(pm_integrate::IntegrateError::from)?;
    let (psi1, psi2) = fields;
    let n = x_bar.len();
    let order = if psi2.is_some() {
        LptOrder::Second
    } else {
        LptOrder::First
    };
    let mut psi_bar = frame.unwrap_or_else(|| LptCotangent::zeros(n, order));
    axpy(&mut psi_bar.psi1, g.d1, x_bar);
    axpy(&mut psi_bar.psi1, g.gp1, p_bar);
    let mut lpt_growth = [dot(x_bar, psi1), 0.0, dot(p_bar, psi1), 0.0];
    if let (Some(psi2), Some(bar2)) = (psi2, psi_bar.psi2.as_mut()) {
        axpy(bar2, g.d2, x_bar);
        axpy(bar2, g.gp2, p_bar);
        lpt_growth[1] = dot(x_bar, psi2);
        lpt_growth[3] = dot(p_bar, psi2);
    }
    Ok((psi_bar, lpt_growth))
}
