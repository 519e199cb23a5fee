//! The reverse-time adjoint of the kick-drift-kick integration, on any communicator.

use pm_decomp::{Comm, CommExt};
use pm_fft::Real;
use pm_force::ForceKernel;
use pm_integrate::{
    Coefficients, ForcesVjp, IntegrateError, Simulation, State, StateCotangent, StepObservable,
    StepPositions, Stepper, drift, drift_vjp, kick, kick_vjp, migrate,
};
use rayon::prelude::*;

use crate::AdjointError;

/// Gradients of the objective with respect to the kick and drift coefficients of one step
/// (the `scale` parts; the LPT-frame parts of COLA in `*_psi`): the cosmology enters the
/// integration only through these and the force prefactor, so a chain rule through
/// pm-cosmo's differentiable growth turns them into parameter gradients.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StepCoefficientGradients {
    /// `dL/d(first half kick scale)` = `<p_bar, F(x0)>`.
    pub kick1: f64,
    /// `dL/d(drift scale)` = `<x_bar, p_h>`.
    pub drift: f64,
    /// `dL/d(second half kick scale)` = `<p_bar, F(x1)>`.
    pub kick2: f64,
    /// `dL/d(kick1.psi1, kick1.psi2, drift.psi1, drift.psi2, kick2.psi1, kick2.psi2)`:
    /// `<bar, psi1>` and `<bar, psi2>` for each (zero without LPT fields).
    pub psi: [f64; 6],
}

/// The kick-drift-kick integration of a run, as the adjoint needs it: the stepper, the
/// force (with its VJP: the stock PM force or a user's own [`ForcesVjp`]) and the step
/// boundaries.
#[derive(Clone, Copy)]
pub struct Integration<'a, T: Real> {
    /// The stepper.
    pub stepper: &'a dyn Stepper,
    /// The force and its VJP.
    pub forces: &'a dyn ForcesVjp<T>,
    /// The step boundaries `a_0 < ... < a_N`.
    pub scale_factors: &'a [f64],
}

impl<'a, T: Real> Integration<'a, T> {
    /// The integration of a simulation (its stepper, PM force and schedule).
    pub fn of<K: ForceKernel>(sim: &'a Simulation<T, K>) -> Self {
        Self {
            stepper: sim.stepper(),
            forces: sim.forces(),
            scale_factors: sim.scale_factors(),
        }
    }

    /// Number of steps.
    fn steps(&self) -> usize {
        self.scale_factors.len().saturating_sub(1)
    }

    /// `(a0, a_h, a1)` of step `i`.
    fn times(&self, i: usize) -> (f64, f64, f64) {
        let (a0, a1) = (self.scale_factors[i], self.scale_factors[i + 1]);
        (a0, 0.5 * (a0 + a1), a1)
    }

    /// `(k1, d, k2)` of step `i`, exactly as [`pm_integrate::kdk_step`] asks for them.
    fn coefficients(
        &self,
        i: usize,
    ) -> Result<(Coefficients, Coefficients, Coefficients), AdjointError> {
        let (a0, ah, a1) = self.times(i);
        Ok((
            self.stepper.kick(a0, ah, a0)?,
            self.stepper.drift(a0, a1, ah)?,
            self.stepper.kick(ah, a1, a1)?,
        ))
    }
}

/// What the reverse integration returns.
#[derive(Debug, Clone)]
pub struct ReverseResult<T: Real> {
    /// This rank's particles at the first scale factor, recovered by integrating backwards
    /// (compare them with the true ones to measure reversibility).
    pub initial: State<T>,
    /// Gradient with respect to this rank's initial displacements and momenta (in the order
    /// of `initial`'s particles) and, in `cotangent.lpt`, with respect to the LPT fields
    /// `psi1`, `psi2` through the steps' LPT-frame terms (COLA): `sum over kicks and drifts
    /// of c.psi1 * bar` (and `c.psi2 * bar`), with `bar` the cotangent of the updated
    /// quantity (`None` when no step has an LPT-frame term). The initial state's own
    /// dependence on the fields is not included.
    pub cotangent: StateCotangent<T>,
    /// `dL/dc` for the force prefactor `c = 3/2 Omega_m`.
    pub prefactor: f64,
    /// `dL/dtheta` for the force's parameters.
    pub kernel_params: Vec<f64>,
    /// Per step (in forward order), the gradients with respect to its coefficients, summed
    /// over the ranks.
    pub steps: Vec<StepCoefficientGradients>,
}

fn scaled<T: Real>(s: f64, x: &[[T; 3]]) -> Vec<[T; 3]> {
    x.par_iter()
        .map(|v| v.map(|c| T::lit(s * c.as_f64())))
        .collect()
}

/// `y += x` elementwise, in f64.
fn add<T: Real>(y: &mut [[T; 3]], x: &[[T; 3]]) {
    y.par_iter_mut().zip(x.par_iter()).for_each(|(y, x)| {
        for k in 0..3 {
            y[k] = T::lit(y[k].as_f64() + x[k].as_f64());
        }
    });
}

/// The adjoint variables of a kick-drift-kick integration and the parameter gradients they
/// accumulate, advanced backwards one update at a time with the updates' VJPs
/// ([`kick_vjp`], [`drift_vjp`]) and the force's ([`ForcesVjp`]). The state each update
/// needs is passed in, so that the same arithmetic serves the reverse-time adjoint
/// ([`reverse`], which recovers the states by undoing the steps) and the checkpointed one
/// ([`crate::reverse_checkpointed`], which recomputes them forward).
///
/// For step `i` (from `a_i` to `a_{i+1}`, coefficients `k1`, `d`, `k2`) the calls are, in
/// order: [`Self::kick2`] with the state holding `F(x_{i+1})`, [`Self::drift`] with the
/// half-step momenta, [`Self::force_vjp`] at `x_i`, [`Self::kick1`] with `F(x_i)`; before
/// the first, [`Self::force_vjp`] at the final positions.
pub(crate) struct AdjointCarry<'a, T: Real> {
    run: Integration<'a, T>,
    comm: &'a dyn Comm,
    bar: StateCotangent<T>,
    prefactor: f64,
    params: Vec<f64>,
    steps: Vec<StepCoefficientGradients>,
}

impl<'a, T: Real> AdjointCarry<'a, T> {
    /// Checks the cotangent against `n` particles and the schedule (at least one step).
    pub(crate) fn new(
        comm: &'a dyn Comm,
        run: Integration<'a, T>,
        n: usize,
        cotangent: StateCotangent<T>,
    ) -> Result<Self, AdjointError> {
        for (what, got) in [
            ("disp cotangent", cotangent.disp.len()),
            ("mom cotangent", cotangent.mom.len()),
        ] {
            if got != n {
                return Err(AdjointError::Length {
                    what,
                    expected: n,
                    got,
                });
            }
        }
        let steps = run.steps();
        if steps == 0 {
            return Err(AdjointError::Schedule(format!(
                "the schedule {:?} has no step",
                run.scale_factors
            )));
        }
        Ok(Self {
            run,
            comm,
            bar: cotangent,
            prefactor: 0.0,
            params: vec![0.0; run.forces.n_params()],
            steps: vec![StepCoefficientGradients::default(); steps],
        })
    }

    /// The force VJP at the positions of boundary `i` (`x_i`), for every kick that uses
    /// `F(x_i)`: `x_bar += (dF/dx)^T (k1_i + k2_{i-1}) p_bar` (either term absent at the
    /// ends), with the prefactor and parameter gradients. Writes `F(x_i)` into `acc` when
    /// given.
    pub(crate) fn force_vjp(
        &mut self,
        i: usize,
        state: &State<T>,
        acc: Option<&mut [[T; 3]]>,
    ) -> Result<(), AdjointError> {
        let mut s = 0.0;
        if i < self.run.steps() {
            s += self.run.coefficients(i)?.0.scale;
        }
        if i > 0 {
            s += self.run.coefficients(i - 1)?.2.scale;
        }
        let v = scaled(s, &self.bar.mom);
        let positions = state.positions();
        let vjp = self.run.forces.accelerations_vjp(
            self.comm,
            &positions,
            &v,
            acc,
            &mut self.bar.disp,
        )?;
        self.prefactor += vjp.prefactor;
        for (g, v) in self.params.iter_mut().zip(vjp.params) {
            *g += v;
        }
        Ok(())
    }

    /// Adjoint of the second half kick of step `i`, `p1 = p_h + k2 F(x1) + frame`, with
    /// `state` holding `F(x1)`.
    pub(crate) fn kick2(&mut self, i: usize, state: &State<T>) -> Result<(), AdjointError> {
        let (_, ah, a1) = self.run.times(i);
        let g = kick_vjp(self.run.stepper, state, ah, a1, a1, &mut self.bar)?;
        let s = &mut self.steps[i];
        s.kick2 = g[0];
        s.psi[4..6].copy_from_slice(&g[1..]);
        Ok(())
    }

    /// Adjoint of the drift of step `i`, `x1 = x0 + d p_h + frame`, with `state` holding
    /// the half-step momenta `p_h`.
    pub(crate) fn drift(&mut self, i: usize, state: &State<T>) -> Result<(), AdjointError> {
        let (a0, ah, a1) = self.run.times(i);
        let g = drift_vjp(self.run.stepper, state, a0, a1, ah, &mut self.bar)?;
        let s = &mut self.steps[i];
        s.drift = g[0];
        s.psi[2..4].copy_from_slice(&g[1..]);
        Ok(())
    }

    /// Adjoint of the first half kick of step `i`, `p_h = p0 + k1 F(x0) + frame` (its force
    /// VJP is done by [`Self::force_vjp`] at `x0`), with `state` holding `F(x0)`.
    pub(crate) fn kick1(&mut self, i: usize, state: &State<T>) -> Result<(), AdjointError> {
        let (a0, ah, _) = self.run.times(i);
        let g = kick_vjp(self.run.stepper, state, a0, ah, a0, &mut self.bar)?;
        let s = &mut self.steps[i];
        s.kick1 = g[0];
        s.psi[0..2].copy_from_slice(&g[1..]);
        Ok(())
    }

    /// `x_bar += extra` (a trajectory term's cotangent).
    pub(crate) fn add_to_x_bar(&mut self, extra: &[[T; 3]]) {
        add(&mut self.bar.disp, extra);
    }

    /// Moves the particles to the ranks owning their positions (a no-op on one rank), the
    /// cotangents with them.
    pub(crate) fn migrate(&mut self, state: &mut State<T>) -> Result<(), AdjointError> {
        let mut arrays = self.bar.arrays();
        Ok(migrate(self.comm, self.run.forces, state, &mut arrays)?)
    }

    /// The gradients, with `initial` the state at the first scale factor; the per-step sums
    /// are added over the ranks (the same on every rank).
    pub(crate) fn finish(self, initial: State<T>) -> Result<ReverseResult<T>, AdjointError> {
        let mut steps = self.steps;
        if self.comm.size() > 1 {
            let mut sums: Vec<f64> = steps
                .iter()
                .flat_map(|g| [g.kick1, g.drift, g.kick2].into_iter().chain(g.psi))
                .collect();
            self.comm
                .all_reduce_sum(&mut sums)
                .map_err(IntegrateError::from)?;
            for (g, s) in steps.iter_mut().zip(sums.chunks_exact(9)) {
                (g.kick1, g.drift, g.kick2) = (s[0], s[1], s[2]);
                g.psi.copy_from_slice(&s[3..]);
            }
        }
        Ok(ReverseResult {
            initial,
            cotangent: self.bar,
            prefactor: self.prefactor,
            kernel_params: self.params,
            steps,
        })
    }
}

/// Integrates this rank's share of the final particles `state` (at the last of the
/// scale factors) backwards through every kick-drift-kick step of
/// [`pm_integrate::kdk_step`] and returns the gradient of an objective `L` whose cotangent at
/// the final state is `cotangent` (this rank's rows). Collective over `comm`.
///
/// Each step is undone exactly as the forward one was done, in reverse: the second half
/// kick with `F(x1)`, the drift, the first half kick with `F(x0)`, recomputed. The adjoint
/// equations are the transposes of the same updates:
///
/// ```text
/// p1 = p_h + k2 F(x1):   p_bar_h = p_bar1,           x_bar1 += k2 (dF/dx(x1))^T p_bar1
/// x1 = x0 + d p_h:       x_bar0 = x_bar1,            p_bar_h += d x_bar1
/// p_h = p0 + k1 F(x0):   p_bar0 = p_bar_h,           x_bar0 += k1 (dF/dx(x0))^T p_bar_h
/// ```
///
/// The two force VJPs at the same positions (the first kick of step `i` and the second kick
/// of step `i-1`) are done as one, together with the force needed to undo the step: one
/// force VJP per step, plus one at the final state (pmwd, Li et al. 2022, sec. 3.3).
/// COLA's LPT-frame terms (`+ c.psi1 psi1 + c.psi2 psi2` in each update) do not depend on
/// the state; they feed the coefficient gradients and the LPT-field cotangents
/// `psi_bar += c.psi1 * bar` returned in [`ReverseResult::cotangent`]`.lpt`.
///
/// On several ranks, after each undone drift every particle moves to the rank owning its
/// new position, its cotangents with it (the adjoint of the forward run's migration is its
/// reverse; migrating forward in time-reversed order sends the same rows to the same ranks,
/// only the order on a rank differs, and every update is per particle). The per-step sums
/// are added over the ranks at the end; the force VJPs reduce theirs.
pub fn reverse<T: Real>(
    comm: &dyn Comm,
    run: Integration<'_, T>,
    state: State<T>,
    cotangent: StateCotangent<T>,
) -> Result<ReverseResult<T>, AdjointError> {
    reverse_with(comm, run, state, cotangent, None)
}

/// [`reverse`] with a trajectory term: `observable` (whose forward pass saw the same steps)
/// adds its cotangents step by step. Undoing step `i` gives `x_i` back from `x_{i+1}`; then,
/// before the particles migrate,
///
/// ```text
/// x_bar_{i+1} += dL_obs/dx_{i+1}                 (before the drift's adjoint, so it reaches p_bar_h)
/// p_bar_h     += d x_bar_{i+1};  x_bar_i = x_bar_{i+1}
/// x_bar_i     += dL_obs/dx_i                     (after it)
/// ```
///
/// Costs one copy of the displacements and two cotangent buffers while it runs.
pub fn reverse_with<T: Real>(
    comm: &dyn Comm,
    run: Integration<'_, T>,
    mut state: State<T>,
    cotangent: StateCotangent<T>,
    observable: Option<&dyn StepObservable<T>>,
) -> Result<ReverseResult<T>, AdjointError> {
    let scale_factors = run.scale_factors;
    if scale_factors.last() != Some(&state.a) {
        return Err(AdjointError::Schedule(format!(
            "the state is at a = {} but the schedule {:?} must end there with at least one step",
            state.a, scale_factors
        )));
    }
    if run.stepper.needs_lpt() && state.psi1.is_none() {
        return Err(IntegrateError::Config {
            what: "state",
            reason: format!(
                "{} needs the LPT fields carried in the state",
                run.stepper.name()
            ),
        }
        .into());
    }
    let mut carry = AdjointCarry::new(comm, run, state.len(), cotangent)?;
    let steps = run.steps();
    state.acc = None;
    carry.migrate(&mut state)?;

    // The VJP at the final positions (second half kick of the last step), and F(x_N).
    let mut acc = vec![[T::zero(); 3]; state.len()];
    carry.force_vjp(steps, &state, Some(&mut acc))?;
    state.acc = Some(acc);

    for i in (0..steps).rev() {
        let (a0, ah, a1) = run.times(i);

        // Undo the second half kick: p_h = p1 - k2 F(x1).
        carry.kick2(i, &state)?;
        kick(run.stepper, &mut state, a1, ah, a1)?;

        // Undo the drift: x0 = x1 - d p_h (the drift moves only the displacements, so p_h
        // is the same before and after), with the trajectory term's cotangents.
        match observable {
            None => {
                carry.drift(i, &state)?;
                drift(run.stepper, &mut state, a1, a0, ah)?;
            }
            Some(obs) => {
                let x1 = state.disp.clone();
                drift(run.stepper, &mut state, a1, a0, ah)?;
                let n = state.len();
                let mut x0_bar = vec![[T::zero(); 3]; n];
                let mut x1_bar = vec![[T::zero(); 3]; n];
                let step = StepPositions {
                    step: i,
                    a0,
                    a1,
                    x0: state.positions(),
                    x1: state.positions_with(&x1),
                };
                obs.step_vjp(&step, &mut x0_bar, &mut x1_bar)?;
                carry.add_to_x_bar(&x1_bar);
                carry.drift(i, &state)?;
                carry.add_to_x_bar(&x0_bar);
            }
        }
        // The particles move to the ranks of x0, with their cotangents.
        carry.migrate(&mut state)?;

        // F(x0), and the VJP at x0 for this step's first kick and the previous step's second.
        let mut acc = vec![[T::zero(); 3]; state.len()];
        carry.force_vjp(i, &state, Some(&mut acc))?;
        state.acc = Some(acc);

        // Undo the first half kick: p0 = p_h - k1 F(x0).
        carry.kick1(i, &state)?;
        kick(run.stepper, &mut state, ah, a0, a0)?;
        state.a = a0;
    }
    carry.finish(state)
}
