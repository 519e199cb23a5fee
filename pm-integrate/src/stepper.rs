//! The kick-drift-kick driver and the `Stepper` trait that sets its coefficients.

use pm_cosmo::{N_PARAMS, Scalar};
use pm_fft::Real;
use rayon::prelude::*;

use crate::{Forces, IntegrateError, Lpt, State};

/// Coefficients of one kick or drift in the LPT-aware form shared by every stepper:
///
/// ```text
/// kick:   p += scale * F  + psi1 * psi1(q) + psi2 * psi2(q)
/// drift:  x += scale * p  + psi1 * psi1(q) + psi2 * psi2(q)
/// ```
///
/// FastPM and leapfrog have `psi1 = psi2 = 0`; COLA uses them to move the LPT frame.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Coefficients {
    /// Factor of the acceleration (kick) or momentum (drift).
    pub scale: f64,
    /// Factor of the first-order LPT displacement.
    pub psi1: f64,
    /// Factor of the second-order LPT displacement.
    pub psi2: f64,
}

/// A time-stepping scheme: the coefficients of a kick of the momenta from `a_from` to
/// `a_to` with the force evaluated at `a_force`, and of a drift of the positions from
/// `a_from` to `a_to` with the momenta at `a_mom`. Steps may go backwards (`a_to < a_from`),
/// which the reverse-time adjoint uses.
pub trait Stepper: Send + Sync {
    /// A short description.
    fn name(&self) -> String;
    /// Kick coefficients.
    fn kick(&self, a_from: f64, a_to: f64, a_force: f64) -> Result<Coefficients, IntegrateError>;
    /// Drift coefficients.
    fn drift(&self, a_from: f64, a_to: f64, a_mom: f64) -> Result<Coefficients, IntegrateError>;
    /// Whether the coefficients use the LPT fields (then the driver needs them).
    fn needs_lpt(&self) -> bool {
        false
    }
    /// Derivatives of the kick coefficients with respect to the cosmological parameters:
    /// entry `i` holds `d(scale, psi1, psi2)/d theta_i` for `theta_i = Param::ALL[i]`
    /// (pm-cosmo's parameter set). The default errors (a stepper that does not depend on the
    /// cosmology, or does not know how); the stock steppers compute them with dual numbers
    /// through the same formulas as [`Stepper::kick`].
    fn kick_derivatives(
        &self,
        a_from: f64,
        a_to: f64,
        a_force: f64,
    ) -> Result<[Coefficients; N_PARAMS], IntegrateError> {
        let _ = (a_from, a_to, a_force);
        Err(no_derivatives(&self.name()))
    }
    /// Derivatives of the drift coefficients with respect to the cosmological parameters,
    /// as [`Stepper::kick_derivatives`].
    fn drift_derivatives(
        &self,
        a_from: f64,
        a_to: f64,
        a_mom: f64,
    ) -> Result<[Coefficients; N_PARAMS], IntegrateError> {
        let _ = (a_from, a_to, a_mom);
        Err(no_derivatives(&self.name()))
    }
}

fn no_derivatives(name: &str) -> IntegrateError {
    IntegrateError::Config {
        what: "stepper",
        reason: format!("{name} does not provide derivatives with respect to the cosmology"),
    }
}

/// `y_i += c.scale * x_i + c.psi1 * psi1_i + c.psi2 * psi2_i`, in f64 per element.
fn update<T: Real>(
    y: &mut [[T; 3]],
    x: &[[T; 3]],
    c: Coefficients,
    lpt: Option<&Lpt<T>>,
) -> Result<(), IntegrateError> {
    update_fields(y, x, c, lpt.map(|l| (l.psi1(), l.psi2())))
}

/// The LPT fields `(psi1, psi2)` of some particles, as [`update_fields`] takes them.
pub(crate) type FrameFields<'a, T> = (&'a [[T; 3]], Option<&'a [[T; 3]]>);

/// `y_i += c.scale * x_i + c.psi1 * psi1_i + c.psi2 * psi2_i`, in f64 per element, with the
/// LPT fields `(psi1, psi2)` of the same particles (needed only when the coefficients move
/// the LPT frame): the update of a kick or drift, shared by the serial and distributed runs.
pub(crate) fn update_fields<T: Real>(
    y: &mut [[T; 3]],
    x: &[[T; 3]],
    c: Coefficients,
    lpt: Option<FrameFields<'_, T>>,
) -> Result<(), IntegrateError> {
    let frame = c.psi1 != 0.0 || c.psi2 != 0.0;
    if frame && lpt.is_none() {
        return Err(IntegrateError::Config {
            what: "stepper",
            reason: "this stepper moves the LPT frame (COLA) but no LPT fields were given".into(),
        });
    }
    y.par_iter_mut()
        .zip(x.par_iter())
        .enumerate()
        .for_each(|(i, (y, x))| {
            let shift = match (frame, lpt) {
                (true, Some((psi1, psi2))) => {
                    let s1 = psi1[i];
                    match psi2 {
                        Some(psi2) => std::array::from_fn(|a| {
                            c.psi1 * s1[a].as_f64() + c.psi2 * psi2[i][a].as_f64()
                        }),
                        None => std::array::from_fn(|a| c.psi1 * s1[a].as_f64()),
                    }
                }
                _ => [0.0; 3],
            };
            for a in 0..3 {
                y[a] = T::lit(y[a].as_f64() + c.scale * x[a].as_f64() + shift[a]);
            }
        });
    Ok(())
}

/// Kicks `state.mom` with `state.acc`, evaluated at `a_force`.
pub fn kick<T: Real>(
    stepper: &dyn Stepper,
    state: &mut State<T>,
    a_from: f64,
    a_to: f64,
    a_force: f64,
    lpt: Option<&Lpt<T>>,
) -> Result<(), IntegrateError> {
    let c = stepper.kick(a_from, a_to, a_force)?;
    let acc = state.acc.as_ref().ok_or_else(|| IntegrateError::Config {
        what: "state",
        reason: "kick needs the accelerations; compute them first".into(),
    })?;
    update(&mut state.mom, acc, c, lpt)
}

/// Drifts `state.disp` with `state.mom`, taken at `a_mom`; invalidates `state.acc`.
pub fn drift<T: Real>(
    stepper: &dyn Stepper,
    state: &mut State<T>,
    a_from: f64,
    a_to: f64,
    a_mom: f64,
    lpt: Option<&Lpt<T>>,
) -> Result<(), IntegrateError> {
    let c = stepper.drift(a_from, a_to, a_mom)?;
    update(&mut state.disp, &state.mom, c, lpt)?;
    state.acc = None;
    Ok(())
}

/// Computes `state.acc` if it is not cached.
pub fn ensure_accelerations<T: Real>(
    state: &mut State<T>,
    forces: &dyn Forces<T>,
) -> Result<(), IntegrateError> {
    if state.acc.is_none() {
        let mut acc = vec![[T::zero(); 3]; state.len()];
        forces.accelerations(&state.lattice, &state.disp, &mut acc)?;
        state.acc = Some(acc);
    }
    Ok(())
}

/// One kick-drift-kick step from `state.a` to `a1` with the midpoint `a_h = (a0 + a1)/2`:
/// kick `a0 -> a_h` with `F(a0)`, drift `a0 -> a1` with `p(a_h)`, compute `F(a1)`, kick
/// `a_h -> a1` with `F(a1)` (Quinn et al. 1997; FastPM, Feng et al. 2016, sec. 2.2). One
/// force evaluation per step; `F(a1)` stays cached in the state for the next step.
pub fn kdk_step<T: Real>(
    stepper: &dyn Stepper,
    state: &mut State<T>,
    a1: f64,
    forces: &dyn Forces<T>,
    lpt: Option<&Lpt<T>>,
) -> Result<(), IntegrateError> {
    if stepper.needs_lpt() && lpt.is_none() {
        return Err(IntegrateError::Config {
            what: "stepper",
            reason: format!("{} needs the LPT fields", stepper.name()),
        });
    }
    let a0 = state.a;
    let ah = 0.5 * (a0 + a1);
    ensure_accelerations(state, forces)?;
    kick(stepper, state, a0, ah, a0, lpt)?;
    drift(stepper, state, a0, a1, ah, lpt)?;
    ensure_accelerations(state, forces)?;
    kick(stepper, state, ah, a1, a1, lpt)?;
    state.a = a1;
    Ok(())
}

/// `int_{a0}^{a1} f(a) da` by 8-point Gauss-Legendre on pieces of at most 0.05 in ln a
/// (exact to ~1e-14 for the smooth background integrands used here). Generic over the
/// scalar so that dual numbers carry parameter derivatives through it; the nodes depend on
/// `a0, a1` only.
pub(crate) fn integrate<S: Scalar>(f: impl Fn(f64) -> S, a0: f64, a1: f64) -> S {
    const X: [f64; 4] = [
        0.1834346424956498,
        0.5255324099163290,
        0.7966664774136267,
        0.9602898564975363,
    ];
    const W: [f64; 4] = [
        0.3626837833783620,
        0.3137066458778873,
        0.2223810344533745,
        0.1012285362903763,
    ];
    if a0 == a1 {
        return S::from(0.0);
    }
    let (lo, hi, sign) = if a1 > a0 {
        (a0, a1, 1.0)
    } else {
        (a1, a0, -1.0)
    };
    let pieces = ((hi / lo).ln() / 0.05).ceil().max(1.0) as usize;
    let ratio = (hi / lo).powf(1.0 / pieces as f64);
    let mut total = S::from(0.0);
    let mut left = lo;
    for p in 0..pieces {
        let right = if p + 1 == pieces { hi } else { left * ratio };
        let (mid, half) = (0.5 * (left + right), 0.5 * (right - left));
        for (x, w) in X.iter().zip(W) {
            total += (f(mid - half * x) + f(mid + half * x)) * (w * half);
        }
        left = right;
    }
    total * sign
}

#[cfg(test)]
mod tests {
    use super::integrate;

    #[test]
    fn gauss_legendre_integrates_powers_of_a() {
        // int a^-3 da from 0.01 to 1 = (0.01^-2 - 1)/2.
        let got = integrate(|a| a.powi(-3), 0.01, 1.0);
        let want = (1e4 - 1.0) / 2.0;
        assert!((got / want - 1.0).abs() < 1e-13, "{got}");
        let back = integrate(|a| a.powi(-3), 1.0, 0.01);
        assert_eq!(back, -got);
    }
}
