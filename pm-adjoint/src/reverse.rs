//! The reverse-time adjoint of the kick-drift-kick integration.

use pm_fft::Real;
use pm_force::ForceKernel;
use pm_integrate::{Coefficients, Lpt, PmForces, State, Stepper, drift, kick};
use rayon::prelude::*;

use crate::AdjointError;

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

/// What the reverse integration returns.
#[derive(Debug, Clone)]
pub struct ReverseResult<T: Real> {
    /// The initial state, recovered by integrating backwards (compare it with the true one
    /// to measure reversibility).
    pub initial: State<T>,
    /// Gradient with respect to the initial displacements and momenta.
    pub cotangent: StateCotangent<T>,
    /// `dL/dc` for the force prefactor `c = 3/2 Omega_m`.
    pub prefactor: f64,
    /// `dL/dtheta` for the force kernel's parameters.
    pub kernel_params: Vec<f64>,
    /// Per step (in forward order), the gradients with respect to its coefficients.
    pub steps: Vec<StepCoefficientGradients>,
}

fn dot<T: Real>(a: &[[T; 3]], b: &[[T; 3]]) -> f64 {
    a.par_iter()
        .zip(b.par_iter())
        .map(|(x, y)| (0..3).map(|k| x[k].as_f64() * y[k].as_f64()).sum::<f64>())
        .collect::<Vec<_>>()
        .iter()
        .sum()
}

/// `<bar, psi1>` and `<bar, psi2>` (zero without LPT).
fn psi_dots<T: Real>(bar: &[[T; 3]], lpt: Option<&Lpt<T>>) -> [f64; 2] {
    match lpt {
        None => [0.0; 2],
        Some(lpt) => {
            let d1 = dot(bar, lpt.psi1());
            let d2 = lpt.psi2().map_or(0.0, |p| dot(bar, p));
            [d1, d2]
        }
    }
}

/// `y += s * x` elementwise, in f64.
fn axpy<T: Real>(y: &mut [[T; 3]], s: f64, x: &[[T; 3]]) {
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
/// COLA's LPT-frame terms do not depend on the state, so they only feed the coefficient
/// gradients.
pub fn reverse<T: Real, K: ForceKernel>(
    stepper: &dyn Stepper,
    forces: &PmForces<T, K>,
    lpt: Option<&Lpt<T>>,
    mut state: State<T>,
    scale_factors: &[f64],
    cotangent: StateCotangent<T>,
) -> Result<ReverseResult<T>, AdjointError> {
    let n = state.len();
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
    if steps == 0 || *scale_factors.last().expect("non-empty") != state.a {
        return Err(AdjointError::Schedule(format!(
            "the state is at a = {} but the schedule {:?} must end there with at least one step",
            state.a, scale_factors
        )));
    }
    let gravity = &forces.gravity;
    let c = forces.prefactor;
    let n_params = gravity.kernel().params().len();
    let mut prefactor_grad = 0.0;
    let mut params_grad = vec![0.0; n_params];
    let mut accumulate = |vjp: pm_force::GravityVjp| {
        prefactor_grad += vjp.prefactor;
        for (g, v) in params_grad.iter_mut().zip(vjp.params) {
            *g += v;
        }
    };

    let StateCotangent {
        disp: mut x_bar,
        mom: mut p_bar,
    } = cotangent;
    let mut coefficient_grads = vec![StepCoefficientGradients::default(); steps];
    let coeffs = |i: usize| -> Result<(Coefficients, Coefficients, Coefficients), AdjointError> {
        let (a0, a1) = (scale_factors[i], scale_factors[i + 1]);
        let ah = 0.5 * (a0 + a1);
        Ok((
            stepper.kick(a0, ah, a0)?,
            stepper.drift(a0, a1, ah)?,
            stepper.kick(ah, a1, a1)?,
        ))
    };

    // The second half kick of the last step: VJP at the final positions, and F(x_N).
    {
        let (_, _, k2) = coeffs(steps - 1)?;
        let mut acc = vec![[T::zero(); 3]; n];
        let v = scaled(k2.scale, &p_bar);
        let vjp = gravity.accelerations_and_vjp(&state.positions(), c, &v, &mut acc, &mut x_bar)?;
        accumulate(vjp);
        state.acc = Some(acc);
    }

    for i in (0..steps).rev() {
        let (a0, a1) = (scale_factors[i], scale_factors[i + 1]);
        let ah = 0.5 * (a0 + a1);
        let (k1, d, _) = coeffs(i)?;
        let g = &mut coefficient_grads[i];

        // Undo the second half kick: p_h = p1 - k2 F(x1). p_bar_h = p_bar1.
        g.kick2 = dot(&p_bar, state.acc.as_ref().expect("set above or below"));
        let [s1, s2] = psi_dots(&p_bar, lpt);
        g.psi[4] = s1;
        g.psi[5] = s2;
        kick(stepper, &mut state, a1, ah, a1, lpt)?;

        // Undo the drift: x0 = x1 - d p_h. x_bar0 = x_bar1, p_bar_h += d x_bar1.
        g.drift = dot(&x_bar, &state.mom);
        let [s1, s2] = psi_dots(&x_bar, lpt);
        g.psi[2] = s1;
        g.psi[3] = s2;
        drift(stepper, &mut state, a1, a0, ah, lpt)?;
        axpy(&mut p_bar, d.scale, &x_bar);

        // F(x0), and the VJP at x0 for this step's first kick and the previous step's second.
        let kick_scale = k1.scale + if i > 0 { coeffs(i - 1)?.2.scale } else { 0.0 };
        let v = scaled(kick_scale, &p_bar);
        let mut acc = vec![[T::zero(); 3]; n];
        let vjp = gravity.accelerations_and_vjp(&state.positions(), c, &v, &mut acc, &mut x_bar)?;
        accumulate(vjp);
        state.acc = Some(acc);

        // Undo the first half kick: p0 = p_h - k1 F(x0). p_bar0 = p_bar_h.
        g.kick1 = dot(&p_bar, state.acc.as_ref().expect("just set"));
        let [s1, s2] = psi_dots(&p_bar, lpt);
        g.psi[0] = s1;
        g.psi[1] = s2;
        kick(stepper, &mut state, ah, a0, a0, lpt)?;
        state.a = a0;
    }

    Ok(ReverseResult {
        initial: state,
        cotangent: StateCotangent {
            disp: x_bar,
            mom: p_bar,
        },
        prefactor: prefactor_grad,
        kernel_params: params_grad,
        steps: coefficient_grads,
    })
}
