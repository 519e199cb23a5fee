//! The reverse-time adjoint of the kick-drift-kick integration.

use pm_fft::Real;
use pm_force::ForceKernel;
use pm_force::GravityVjp;
use pm_integrate::{
    Coefficients, Lpt, LptCotangent, LptOrder, PmForces, State, Stepper, drift, kick,
};
use pm_mesh::Positions;
use rayon::prelude::*;

use crate::{AdjointError, StepObservable};

/// Cotangents (gradients of a scalar objective) with respect to a state's displacements and
/// momenta.
#[derive(Debug, Clone, PartialEq)]
pub struct StateCotangent<T: Real> {
    /// `dL/d disp`.
    pub disp: Vec<[T; 3]>,
    /// `dL/d mom`.
    pub mom: Vec<[T; 3]>,
}

impl<T: Real> StateCotangent<T> {
    /// Zero cotangents for `n` particles.
    pub fn zeros(n: usize) -> Self {
        Self {
            disp: vec![[T::zero(); 3]; n],
            mom: vec![[T::zero(); 3]; n],
        }
    }
}

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

/// What the reverse integration returns; `S` is the state type ([`State`], or one rank's
/// [`pm_integrate::LocalState`] for [`crate::reverse_distributed`], where every per-particle
/// field is that rank's share).
#[derive(Debug, Clone)]
pub struct ReverseResult<T: Real, S = State<T>> {
    /// The initial state, recovered by integrating backwards (compare it with the true one
    /// to measure reversibility).
    pub initial: S,
    /// Gradient with respect to the initial displacements and momenta.
    pub cotangent: StateCotangent<T>,
    /// Gradient with respect to the LPT fields `psi1`, `psi2` through the steps' LPT-frame
    /// terms (COLA): `sum over kicks and drifts of c.psi1 * bar` (and `c.psi2 * bar`), with
    /// `bar` the cotangent of the updated quantity. `None` when no step has an LPT-frame
    /// term (FastPM, leapfrog) or no LPT fields were given; `psi2` is `None` for 1LPT fields.
    /// The initial state's own dependence on the fields (through `cotangent`) is not
    /// included.
    pub lpt: Option<LptCotangent<T>>,
    /// `dL/dc` for the force prefactor `c = 3/2 Omega_m`.
    pub prefactor: f64,
    /// `dL/dtheta` for the force kernel's parameters.
    pub kernel_params: Vec<f64>,
    /// Per step (in forward order), the gradients with respect to its coefficients.
    pub steps: Vec<StepCoefficientGradients>,
}

pub(crate) fn dot<T: Real>(a: &[[T; 3]], b: &[[T; 3]]) -> f64 {
    a.par_iter()
        .zip(b.par_iter())
        .map(|(x, y)| (0..3).map(|k| x[k].as_f64() * y[k].as_f64()).sum::<f64>())
        .collect::<Vec<_>>()
        .iter()
        .sum()
}

/// The LPT fields `(psi1, psi2)` of the particles, in the order of the adjoint's arrays,
/// for the steps' LPT-frame terms (COLA); `None` without them.
pub(crate) type Frame<'a, T> = Option<(&'a [[T; 3]], Option<&'a [[T; 3]]>)>;

/// The LPT fields of an [`Lpt`] as a [`Frame`].
pub(crate) fn lpt_frame<T: Real>(lpt: Option<&Lpt<T>>) -> Frame<'_, T> {
    lpt.map(|l| (l.psi1(), l.psi2()))
}

/// `<bar, psi1>` and `<bar, psi2>` (zero without LPT).
fn psi_dots<T: Real>(bar: &[[T; 3]], frame: Frame<'_, T>) -> [f64; 2] {
    match frame {
        None => [0.0; 2],
        Some((psi1, psi2)) => [dot(bar, psi1), psi2.map_or(0.0, |p| dot(bar, p))],
    }
}

/// The force whose vector-Jacobian product the adjoint needs: the serial
/// [`pm_force::Gravity`] of a [`PmForces`], or a distributed solve.
pub(crate) trait ForceAdjoint<T: Real> {
    /// Number of force-kernel parameters.
    fn n_params(&self) -> usize;
    /// For `L = sum_i cotangent_i . F(x)_i` **adds** `dL/dx` into `grad` and returns
    /// `dL/dc` and `dL/dtheta`; writes `F(x)` into `acc` when given.
    fn vjp(
        &self,
        positions: &Positions<'_, T>,
        cotangent: &[[T; 3]],
        acc: Option<&mut [[T; 3]]>,
        grad: &mut [[T; 3]],
    ) -> Result<GravityVjp, AdjointError>;
}

impl<T: Real, K: ForceKernel> ForceAdjoint<T> for PmForces<T, K> {
    fn n_params(&self) -> usize {
        self.gravity.kernel().params().len()
    }

    fn vjp(
        &self,
        positions: &Positions<'_, T>,
        cotangent: &[[T; 3]],
        acc: Option<&mut [[T; 3]]>,
        grad: &mut [[T; 3]],
    ) -> Result<GravityVjp, AdjointError> {
        let (gravity, c) = (&self.gravity, self.prefactor);
        Ok(match acc {
            Some(acc) => gravity.accelerations_and_vjp(positions, c, cotangent, acc, grad)?,
            None => gravity.accelerations_vjp(positions, c, cotangent, grad)?,
        })
    }
}

/// `y += s * x` elementwise, in f64.
pub(crate) fn axpy<T: Real>(y: &mut [[T; 3]], s: f64, x: &[[T; 3]]) {
    y.par_iter_mut().zip(x.par_iter()).for_each(|(y, x)| {
        for k in 0..3 {
            y[k] = T::lit(y[k].as_f64() + s * x[k].as_f64());
        }
    });
}

fn scaled<T: Real>(s: f64, x: &[[T; 3]]) -> Vec<[T; 3]> {
    x.par_iter()
        .map(|v| v.map(|c| T::lit(s * c.as_f64())))
        .collect()
}

/// The adjoint variables of a kick-drift-kick integration and the parameter gradients they
/// accumulate, advanced backwards one update at a time. The state each update needs is
/// passed in, so that the same arithmetic serves the reverse-time adjoint ([`reverse`],
/// which recovers the states by undoing the steps) and the checkpointed one
/// ([`crate::reverse_checkpointed`], which recomputes them forward).
///
/// For step `i` (from `a_i` to `a_{i+1}`, coefficients `k1`, `d`, `k2`) the calls are, in
/// order: [`Self::kick2`] with `F(x_{i+1})`, [`Self::drift`] with the half-step momenta
/// `p_h`, [`Self::force_vjp`] at `x_i`, [`Self::kick1`] with `F(x_i)`; before the first,
/// [`Self::force_vjp`] at the final positions.
///
/// The LPT fields of the frame terms (COLA) are passed to each update in the order of the
/// adjoint arrays; a distributed run moves those arrays with its particles
/// ([`Self::cotangent_arrays`]).
pub(crate) struct AdjointCarry<'a, T: Real> {
    stepper: &'a dyn Stepper,
    force: &'a dyn ForceAdjoint<T>,
    scale_factors: &'a [f64],
    x_bar: Vec<[T; 3]>,
    p_bar: Vec<[T; 3]>,
    psi_bar: Option<LptCotangent<T>>,
    prefactor: f64,
    params: Vec<f64>,
    steps: Vec<StepCoefficientGradients>,
}

impl<'a, T: Real> AdjointCarry<'a, T> {
    /// Checks the cotangent against `n` particles and the schedule (at least one step).
    pub(crate) fn new(
        stepper: &'a dyn Stepper,
        force: &'a dyn ForceAdjoint<T>,
        scale_factors: &'a [f64],
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
        let steps = scale_factors.len().saturating_sub(1);
        if steps == 0 {
            return Err(AdjointError::Schedule(format!(
                "the schedule {scale_factors:?} has no step"
            )));
        }
        Ok(Self {
            stepper,
            force,
            scale_factors,
            x_bar: cotangent.disp,
            p_bar: cotangent.mom,
            psi_bar: None,
            prefactor: 0.0,
            params: vec![0.0; force.n_params()],
            steps: vec![StepCoefficientGradients::default(); steps],
        })
    }

    /// Number of steps.
    pub(crate) fn steps(&self) -> usize {
        self.steps.len()
    }

    /// `(k1, d, k2)` of step `i`, exactly as [`pm_integrate::kdk_step`] asks for them.
    pub(crate) fn coefficients(
        &self,
        i: usize,
    ) -> Result<(Coefficients, Coefficients, Coefficients), AdjointError> {
        let (a0, a1) = (self.scale_factors[i], self.scale_factors[i + 1]);
        let ah = 0.5 * (a0 + a1);
        Ok((
            self.stepper.kick(a0, ah, a0)?,
            self.stepper.drift(a0, a1, ah)?,
            self.stepper.kick(ah, a1, a1)?,
        ))
    }

    /// The per-particle arrays of the adjoint (`x_bar`, `p_bar`, and the LPT-field
    /// cotangents once allocated), to move with the particles.
    pub(crate) fn cotangent_arrays(&mut self) -> Vec<&mut Vec<[T; 3]>> {
        let mut out = vec![&mut self.x_bar, &mut self.p_bar];
        if let Some(psi) = self.psi_bar.as_mut() {
            out.push(&mut psi.psi1);
            if let Some(p2) = psi.psi2.as_mut() {
                out.push(p2);
            }
        }
        out
    }

    /// `psi_bar += c.psi1 * bar` (and `c.psi2 * bar`) for an update with LPT-frame terms.
    fn frame(&mut self, c: Coefficients, which_p: bool, frame: Frame<'_, T>) {
        let Some((_, psi2)) = frame else { return };
        if c.psi1 == 0.0 && c.psi2 == 0.0 {
            return;
        }
        let n = self.x_bar.len();
        let order = if psi2.is_some() {
            LptOrder::Second
        } else {
            LptOrder::First
        };
        let psi_bar = self
            .psi_bar
            .get_or_insert_with(|| LptCotangent::zeros(n, order));
        let bar = if which_p { &self.p_bar } else { &self.x_bar };
        axpy(&mut psi_bar.psi1, c.psi1, bar);
        if let Some(p2) = psi_bar.psi2.as_mut() {
            axpy(p2, c.psi2, bar);
        }
    }

    /// The force VJP at the positions of boundary `i` (`x_i`), for every kick that uses
    /// `F(x_i)`: `x_bar += (dF/dx)^T (k1_i + k2_{i-1}) p_bar` (either term absent at the
    /// ends), with the prefactor and kernel-parameter gradients. Writes `F(x_i)` into
    /// `acc` when given.
    pub(crate) fn force_vjp(
        &mut self,
        i: usize,
        positions: &Positions<'_, T>,
        acc: Option<&mut [[T; 3]]>,
    ) -> Result<(), AdjointError> {
        let mut s = 0.0;
        if i < self.steps() {
            s += self.coefficients(i)?.0.scale;
        }
        if i > 0 {
            s += self.coefficients(i - 1)?.2.scale;
        }
        let v = scaled(s, &self.p_bar);
        let vjp = self.force.vjp(positions, &v, acc, &mut self.x_bar)?;
        self.prefactor += vjp.prefactor;
        for (g, v) in self.params.iter_mut().zip(vjp.params) {
            *g += v;
        }
        Ok(())
    }

    /// Adjoint of the second half kick of step `i`, `p1 = p_h + k2 F(x1) + frame`:
    /// `p_bar_h = p_bar1`; records `<p_bar, F(x1)>` and the frame terms.
    pub(crate) fn kick2(
        &mut self,
        i: usize,
        acc_next: &[[T; 3]],
        frame: Frame<'_, T>,
    ) -> Result<(), AdjointError> {
        let (_, _, k2) = self.coefficients(i)?;
        let g = &mut self.steps[i];
        g.kick2 = dot(&self.p_bar, acc_next);
        [g.psi[4], g.psi[5]] = psi_dots(&self.p_bar, frame);
        self.frame(k2, true, frame);
        Ok(())
    }

    /// `x_bar += extra` (a trajectory term's cotangent).
    pub(crate) fn add_to_x_bar(&mut self, extra: &[[T; 3]]) {
        axpy(&mut self.x_bar, 1.0, extra);
    }

    /// Adjoint of the drift of step `i`, `x1 = x0 + d p_h + frame`: `x_bar0 = x_bar1`,
    /// `p_bar_h += d x_bar1`; records `<x_bar, p_h>` and the frame terms.
    pub(crate) fn drift(
        &mut self,
        i: usize,
        p_half: &[[T; 3]],
        frame: Frame<'_, T>,
    ) -> Result<(), AdjointError> {
        let (_, d, _) = self.coefficients(i)?;
        let g = &mut self.steps[i];
        g.drift = dot(&self.x_bar, p_half);
        [g.psi[2], g.psi[3]] = psi_dots(&self.x_bar, frame);
        self.frame(d, false, frame);
        axpy(&mut self.p_bar, d.scale, &self.x_bar);
        Ok(())
    }

    /// Adjoint of the first half kick of step `i`, `p_h = p0 + k1 F(x0) + frame` (its force
    /// VJP is done by [`Self::force_vjp`] at `x0`): `p_bar0 = p_bar_h`; records
    /// `<p_bar, F(x0)>` and the frame terms.
    pub(crate) fn kick1(
        &mut self,
        i: usize,
        acc: &[[T; 3]],
        frame: Frame<'_, T>,
    ) -> Result<(), AdjointError> {
        let (k1, _, _) = self.coefficients(i)?;
        let g = &mut self.steps[i];
        g.kick1 = dot(&self.p_bar, acc);
        [g.psi[0], g.psi[1]] = psi_dots(&self.p_bar, frame);
        self.frame(k1, true, frame);
        Ok(())
    }

    /// The gradients, with `initial` the state at the first scale factor.
    pub(crate) fn finish<S>(self, initial: S) -> ReverseResult<T, S> {
        ReverseResult {
            initial,
            cotangent: StateCotangent {
                disp: self.x_bar,
                mom: self.p_bar,
            },
            lpt: self.psi_bar,
            prefactor: self.prefactor,
            kernel_params: self.params,
            steps: self.steps,
        }
    }
}

/// Integrates `state` (at the last of `scale_factors`) backwards through every
/// kick-drift-kick step of [`pm_integrate::kdk_step`] and returns the gradient of an
/// objective `L` whose cotangent at the final state is `cotangent`.
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
/// gravity VJP per step, plus one at the final state (pmwd, Li et al. 2022, sec. 3.3).
/// COLA's LPT-frame terms (`+ c.psi1 psi1 + c.psi2 psi2` in each update) do not depend on
/// the state; they feed the coefficient gradients and the LPT-field cotangents
/// `psi_bar += c.psi1 * bar` returned in [`ReverseResult::lpt`].
pub fn reverse<T: Real, K: ForceKernel>(
    stepper: &dyn Stepper,
    forces: &PmForces<T, K>,
    lpt: Option<&Lpt<T>>,
    state: State<T>,
    scale_factors: &[f64],
    cotangent: StateCotangent<T>,
) -> Result<ReverseResult<T>, AdjointError> {
    reverse_with(stepper, forces, lpt, state, scale_factors, cotangent, None)
}

/// [`reverse`] with a trajectory term: `observable` (whose forward pass saw the same steps)
/// adds its cotangents step by step. Undoing step `i` gives `x_i` back from `x_{i+1}`; then
///
/// ```text
/// x_bar_{i+1} += dL_obs/dx_{i+1}                 (before the drift's adjoint, so it reaches p_bar_h)
/// p_bar_h     += d x_bar_{i+1};  x_bar_i = x_bar_{i+1}
/// x_bar_i     += dL_obs/dx_i                     (after it)
/// ```
///
/// Costs one copy of the displacements and two cotangent buffers while it runs.
pub fn reverse_with<T: Real, K: ForceKernel>(
    stepper: &dyn Stepper,
    forces: &PmForces<T, K>,
    lpt: Option<&Lpt<T>>,
    mut state: State<T>,
    scale_factors: &[f64],
    cotangent: StateCotangent<T>,
    observable: Option<&dyn StepObservable<T>>,
) -> Result<ReverseResult<T>, AdjointError> {
    let n = state.len();
    if scale_factors.last() != Some(&state.a) {
        return Err(AdjointError::Schedule(format!(
            "the state is at a = {} but the schedule {:?} must end there with at least one step",
            state.a, scale_factors
        )));
    }
    let mut carry = AdjointCarry::new(stepper, forces, scale_factors, n, cotangent)?;
    let steps = carry.steps();
    let frame = lpt_frame(lpt);

    // The VJP at the final positions (second half kick of the last step), and F(x_N).
    let mut acc = vec![[T::zero(); 3]; n];
    carry.force_vjp(steps, &state.positions(), Some(&mut acc))?;
    state.acc = Some(acc);

    for i in (0..steps).rev() {
        let (a0, a1) = (scale_factors[i], scale_factors[i + 1]);
        let ah = 0.5 * (a0 + a1);

        // Undo the second half kick: p_h = p1 - k2 F(x1).
        carry.kick2(i, state.acc.as_ref().expect("set above or below"), frame)?;
        kick(stepper, &mut state, a1, ah, a1, lpt)?;

        // Undo the drift: x0 = x1 - d p_h (the drift moves only the displacements, so
        // p_h is the same before and after).
        match observable {
            None => {
                carry.drift(i, &state.mom, frame)?;
                drift(stepper, &mut state, a1, a0, ah, lpt)?;
            }
            Some(obs) => {
                let x1 = state.disp.clone();
                drift(stepper, &mut state, a1, a0, ah, lpt)?;
                let lattice = state.lattice;
                let mut x0_bar = vec![[T::zero(); 3]; n];
                let mut x1_bar = vec![[T::zero(); 3]; n];
                obs.step_vjp(
                    i,
                    a0,
                    a1,
                    &Positions::Displaced {
                        lattice,
                        disp: &state.disp,
                    },
                    &Positions::Displaced { lattice, disp: &x1 },
                    &mut x0_bar,
                    &mut x1_bar,
                )?;
                drop(x1);
                carry.add_to_x_bar(&x1_bar);
                carry.drift(i, &state.mom, frame)?;
                carry.add_to_x_bar(&x0_bar);
            }
        }

        // F(x0), and the VJP at x0 for this step's first kick and the previous step's second.
        let mut acc = vec![[T::zero(); 3]; n];
        carry.force_vjp(i, &state.positions(), Some(&mut acc))?;
        state.acc = Some(acc);

        // Undo the first half kick: p0 = p_h - k1 F(x0).
        carry.kick1(i, state.acc.as_ref().expect("just set"), frame)?;
        kick(stepper, &mut state, ah, a0, a0, lpt)?;
        state.a = a0;
    }
    Ok(carry.finish(state))
}
