//! Gradients with respect to the cosmological parameters: the chain rule from the adjoint's
//! gradients with respect to what the cosmology sets (the step coefficients, the force
//! prefactor, the LPT growth factors and the linear power spectrum) through pm-cosmo's
//! dual-number derivatives (docs/ARCHITECTURE.md, "Adjoints").
//!
//! # Equations
//!
//! A forward run depends on the parameters `theta` (pm-cosmo's [`Param`]s: Omega_m, Omega_b,
//! h, n_s, amplitude, w0, wa) only through
//!
//! * the kick and drift coefficients `C_s(theta)` of every step `s` (each a
//!   [`Coefficients`] `{scale, psi1, psi2}`: growth factors and background integrals,
//!   [`Stepper::kick_derivatives`]);
//! * the force prefactor `c = 3/2 Omega_m` (`nabla^2 psi = c delta`);
//! * the LPT initial state at `a_start`: `x = D1 psi1 + D2 psi2`, `p = gp1 psi1 + gp2 psi2`;
//! * the linear modes `delta_L(k) = A_k W_k` with `A_k proportional to sqrt(P(|k|))` in every
//!   [`pm_integrate::ModeOptions`] (fixed amplitude and phase flip change `W_k`, not `A_k`),
//!   so `d delta_L(k) / d theta = delta_L(k) (1/2) dln P(|k|) / d theta`.
//!
//! Hence, with the adjoint's cotangents `C_bar_s = dL/dC_s` ([`StepCoefficientGradients`]),
//! `c_bar = dL/dc`, `g_bar = dL/d(D1, D2, gp1, gp2)(a_start)` and `delta_bar(k)` in the
//! stored-element convention (`dL = sum_stored Re(conj(delta_bar_k) d delta_k)`):
//!
//! ```text
//! dL/dtheta = sum_s C_bar_s . dC_s/dtheta                                  (steps)
//!           + c_bar 3/2 dOmega_m/dtheta                                     (prefactor)
//!           + g_bar . d(D1, D2, gp1, gp2)(a_start)/dtheta                   (LPT growth)
//!           + sum_stored Re(conj(delta_bar_k) delta_k) (1/2) dln P(|k|)/dtheta   (modes)
//! ```
//!
//! Every `d/dtheta` on the right is exact forward-mode differentiation (pm-cosmo's
//! [`ParamDual`]) of the same `f64` formulas the run evaluates, so the result is the exact
//! gradient of the discretised model, to rounding: there is no interpolation in the chain.
//! `dln P/dtheta` is evaluated once per distinct `|k|^2` of the mesh at exactly the `|k|`
//! where [`pm_integrate::linear_modes`] evaluates `P` (per mode for boxes whose sides are not
//! integer multiples in squared fundamental, or very large meshes; see [`modes_gradient`]).

use std::fmt;

use pm_cosmo::{
    Cosmology, GrowthTable, LinearPower, N_PARAMS, Param, ParamDual, derivative, value,
};
use pm_decomp::{Comm, CommExt};
use pm_fft::Real;
use pm_force::ForceKernel;
use pm_integrate::{Coefficients, IntegrateError, Simulation, Stepper};
use pm_mesh::{FourierField, Mesh};
use rayon::prelude::*;

use crate::{AdjointError, StepCoefficientGradients};

/// `dL/dtheta` for each cosmological parameter, in [`Param::ALL`] order, with its four
/// contributions (see the module documentation); `total` is their sum.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CosmologyGradient {
    /// `dL/dtheta`.
    pub total: [f64; N_PARAMS],
    /// Through the kick and drift coefficients.
    pub steps: [f64; N_PARAMS],
    /// Through the force prefactor `3/2 Omega_m`.
    pub prefactor: [f64; N_PARAMS],
    /// Through the LPT growth factors at the start.
    pub lpt_growth: [f64; N_PARAMS],
    /// Through the linear power spectrum.
    pub modes: [f64; N_PARAMS],
}

impl CosmologyGradient {
    /// `dL/dtheta` for one parameter.
    pub fn get(&self, p: Param) -> f64 {
        self.total[p.index()]
    }

    /// `(name, dL/dtheta)` per parameter, names as in config files ([`Param::name`]).
    pub fn entries(&self) -> [(&'static str, f64); N_PARAMS] {
        Param::ALL.map(|p| (p.name(), self.get(p)))
    }
}

impl fmt::Display for CosmologyGradient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, v)) in self.entries().iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "dL/d{name} = {v:.10e}")?;
        }
        Ok(())
    }
}

/// The adjoint's gradients with respect to what the cosmology sets: the input of
/// [`cosmology_gradient`].
#[derive(Debug, Clone, Copy)]
pub struct CosmologyCotangents<'a, T: Real> {
    /// Per step, `dL/d(coefficients)` (from [`crate::reverse`]).
    pub steps: &'a [StepCoefficientGradients],
    /// `dL/dc` for the force prefactor `c = 3/2 Omega_m`.
    pub prefactor: f64,
    /// `dL/d(D1, D2, gp1, gp2)` at the first scale factor, as the LPT initial state
    /// `x = D1 psi1 + D2 psi2`, `p = gp1 psi1 + gp2 psi2` uses them:
    /// `(<x_bar0, psi1>, <x_bar0, psi2>, <p_bar0, psi1>, <p_bar0, psi2>)`.
    pub lpt_growth: [f64; 4],
    /// The linear modes `delta_L(k)` and their cotangent `delta_bar(k)` (stored-element
    /// convention), or `None` to leave the power-spectrum term out (initial conditions held
    /// fixed).
    pub modes: Option<ModeCotangent<'a, T>>,
}

/// The linear modes and their cotangent (this rank's blocks of them, the same ky-rows).
#[derive(Debug, Clone, Copy)]
pub struct ModeCotangent<'a, T: Real> {
    /// `delta_L(k)` at a = 1, as [`pm_integrate::linear_modes`] makes them.
    pub modes: &'a FourierField<T>,
    /// `dL/d delta_L(k)`: `dL = sum_stored (bar.re d(delta.re) + bar.im d(delta.im))`.
    pub bar: &'a FourierField<T>,
}

fn add(acc: &mut [f64; N_PARAMS], x: [f64; N_PARAMS]) {
    for (a, x) in acc.iter_mut().zip(x) {
        *a += x;
    }
}

/// `sum_s C_bar_s . dC_s/dtheta` over the kick-drift-kick steps of `scale_factors`, with the
/// coefficients' derivatives from `stepper` at the times [`pm_integrate::kdk_step`] uses:
/// first kick `(a0, a_h, a0)`, drift `(a0, a1, a_h)`, second kick `(a_h, a1, a1)`,
/// `a_h = (a0 + a1)/2`.
pub fn steps_gradient(
    stepper: &dyn Stepper,
    scale_factors: &[f64],
    steps: &[StepCoefficientGradients],
) -> Result<[f64; N_PARAMS], AdjointError> {
    if steps.len() + 1 != scale_factors.len() {
        return Err(AdjointError::Length {
            what: "step coefficient gradients",
            expected: scale_factors.len().saturating_sub(1),
            got: steps.len(),
        });
    }
    let dot =
        |bar: [f64; 3], d: &Coefficients| bar[0] * d.scale + bar[1] * d.psi1 + bar[2] * d.psi2;
    let mut out = [0.0; N_PARAMS];
    for (i, g) in steps.iter().enumerate() {
        let (a0, a1) = (scale_factors[i], scale_factors[i + 1]);
        let ah = 0.5 * (a0 + a1);
        let k1 = stepper.kick_derivatives(a0, ah, a0)?;
        let d = stepper.drift_derivatives(a0, a1, ah)?;
        let k2 = stepper.kick_derivatives(ah, a1, a1)?;
        for (p, o) in out.iter_mut().enumerate() {
            *o += dot([g.kick1, g.psi[0], g.psi[1]], &k1[p])
                + dot([g.drift, g.psi[2], g.psi[3]], &d[p])
                + dot([g.kick2, g.psi[4], g.psi[5]], &k2[p]);
        }
    }
    Ok(out)
}

/// `c_bar dc/dtheta` for the force prefactor `c = 3/2 Omega_m` (of `growth`'s background).
pub fn prefactor_gradient(growth: &GrowthTable<ParamDual>, c_bar: f64) -> [f64; N_PARAMS] {
    let c = growth.background().omega_m0() * 1.5;
    Param::ALL.map(|p| c_bar * derivative(&c, p))
}

/// `g_bar . d(D1, D2, gp1, gp2)(a)/dtheta`.
pub fn lpt_growth_gradient(
    growth: &GrowthTable<ParamDual>,
    a: f64,
    g_bar: [f64; 4],
) -> Result<[f64; N_PARAMS], AdjointError> {
    let g = growth.at(a).map_err(IntegrateError::from)?;
    let factors = [g.d1, g.d2, g.gp1, g.gp2];
    Ok(Param::ALL.map(|p| {
        g_bar
            .iter()
            .zip(&factors)
            .map(|(b, f)| b * derivative(f, p))
            .sum()
    }))
}

/// Largest table of `dln P/dtheta` per distinct integer `|k|^2 / g^2` (entries of
/// `N_PARAMS` f64, so 2^22 entries are 235 MB); beyond it (meshes above ~2300 per side), the
/// derivative is evaluated per mode.
const MAX_TABLE: u64 = 1 << 22;

/// `(1/2) dln P/dtheta` per Fourier mode, evaluated at the `|k|` where
/// [`pm_integrate::linear_modes`] evaluates `P`.
enum HalfDlnP {
    /// `|k|^2 = g^2 m2` with integer `m2 = sum_a r_a f_a^2` (every cubic box); `table[m2]`.
    Table {
        m2: [Vec<u64>; 3],
        table: Vec<[f64; N_PARAMS]>,
    },
    /// Per mode from `k_a^2`.
    Direct { k2: [Vec<f64>; 3] },
}

/// `(1/2) dln P(k)/dtheta` (zero where `P = 0`, e.g. `k = 0`).
fn half_dlnp(power: &LinearPower<ParamDual>, k: f64) -> Result<[f64; N_PARAMS], AdjointError> {
    let pk = power.power(k).map_err(IntegrateError::from)?;
    let v = value(pk);
    Ok(if v == 0.0 {
        [0.0; N_PARAMS]
    } else {
        Param::ALL.map(|p| 0.5 * derivative(&pk, p) / v)
    })
}

impl HalfDlnP {
    fn new(mesh: &Mesh, power: &LinearPower<ParamDual>) -> Result<Self, AdjointError> {
        let freqs: [Vec<i64>; 3] = std::array::from_fn(|a| {
            let n = mesh.shape()[a];
            if a == 2 {
                (0..=n / 2).map(|j| j as i64).collect()
            } else {
                (0..n).map(|j| Mesh::frequency(n, j)).collect()
            }
        });
        let kf = mesh.fundamental();
        let g = kf.iter().copied().fold(f64::INFINITY, f64::min);
        let ratios: [f64; 3] = std::array::from_fn(|a| (kf[a] / g).powi(2));
        let integer = ratios
            .iter()
            .all(|&r| (r - r.round()).abs() <= 1e-12 * r && r.round() <= u32::MAX as f64);
        if integer {
            let r: [u64; 3] = std::array::from_fn(|a| ratios[a].round() as u64);
            let m2: [Vec<u64>; 3] = std::array::from_fn(|a| {
                freqs[a]
                    .iter()
                    .map(|f| r[a] * f.unsigned_abs().pow(2))
                    .collect()
            });
            let m2_max: u64 = (0..3)
                .map(|a| m2[a].iter().copied().max().unwrap_or(0))
                .sum();
            if m2_max <= MAX_TABLE {
                // The same k as pm-integrate's table: g sqrt(m2).
                let table = (0..=m2_max)
                    .into_par_iter()
                    .map(|q| {
                        if q == 0 {
                            Ok([0.0; N_PARAMS])
                        } else {
                            half_dlnp(power, g * (q as f64).sqrt())
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                return Ok(HalfDlnP::Table { m2, table });
            }
        }
        Ok(HalfDlnP::Direct {
            k2: std::array::from_fn(|a| mesh.wavenumbers(a).iter().map(|k| k * k).collect()),
        })
    }

    fn at(
        &self,
        power: &LinearPower<ParamDual>,
        jx: usize,
        jy: usize,
        jz: usize,
    ) -> Result<[f64; N_PARAMS], AdjointError> {
        match self {
            HalfDlnP::Table { m2, table } => {
                Ok(table[(m2[0][jx] + m2[1][jy] + m2[2][jz]) as usize])
            }
            HalfDlnP::Direct { k2 } => {
                let q = k2[0][jx] + k2[1][jy] + k2[2][jz];
                if q == 0.0 {
                    Ok([0.0; N_PARAMS])
                } else {
                    half_dlnp(power, q.sqrt())
                }
            }
        }
    }
}

/// `sum_stored Re(conj(delta_bar_k) delta_k) (1/2) dln P(|k|)/dtheta`: the gradient through
/// the amplitude of the linear modes, `delta_L(k) proportional to sqrt(P(|k|))`.
///
/// `dln P/dtheta = (dP/dtheta) / P` is exact (dual numbers through the spectrum, including
/// its sigma8 normalisation integral), evaluated once per distinct `|k|^2` (as
/// `g sqrt(m2)` with `g` the smallest fundamental and `m2` the integer `|k|^2 / g^2`, exactly
/// where [`pm_integrate::linear_modes`] evaluates `P`) when the box sides are integer
/// multiples in squared fundamental and `|k|^2_max / g^2 <= 2^22`; per mode otherwise. There
/// is no interpolation. The sum is in f64, per x plane in parallel and then over planes in
/// order, so the result does not depend on the thread count.
pub fn modes_gradient<T: Real>(
    comm: &dyn Comm,
    modes: ModeCotangent<'_, T>,
    power: &LinearPower<ParamDual>,
) -> Result<[f64; N_PARAMS], AdjointError> {
    let mesh = *modes.modes.mesh();
    if *modes.bar.mesh() != mesh || modes.bar.rows() != modes.modes.rows() {
        return Err(AdjointError::Integrate(
            pm_mesh::MeshError::MeshMismatch {
                what: format!(
                    "mode cotangent of ky-rows {:?} on {:?} for modes of ky-rows {:?} on {:?}",
                    modes.bar.rows(),
                    modes.bar.mesh(),
                    modes.modes.rows(),
                    mesh
                ),
            }
            .into(),
        ));
    }
    let lookup = HalfDlnP::new(&mesh, power)?;
    let [_, _, nzc] = mesh.complex_shape();
    let rows = modes.modes.rows();
    let plane = rows.len() * nzc;
    let planes = modes
        .modes
        .as_slice()
        .par_chunks(plane.max(1))
        .zip(modes.bar.as_slice().par_chunks(plane.max(1)))
        .enumerate()
        .map(|(jx, (d, b))| {
            let mut acc = [0.0; N_PARAMS];
            for (ly, jy) in rows.clone().enumerate() {
                for jz in 0..nzc {
                    let i = ly * nzc + jz;
                    let t =
                        b[i].re.as_f64() * d[i].re.as_f64() + b[i].im.as_f64() * d[i].im.as_f64();
                    if t != 0.0 {
                        let s = lookup.at(power, jx, jy, jz)?;
                        for (a, s) in acc.iter_mut().zip(s) {
                            *a += t * s;
                        }
                    }
                }
            }
            Ok(acc)
        })
        .collect::<Result<Vec<_>, AdjointError>>()?;
    let mut out = [0.0; N_PARAMS];
    for p in planes {
        add(&mut out, p);
    }
    if comm.size() > 1 {
        comm.all_reduce_sum(&mut out)
            .map_err(IntegrateError::from)?;
    }
    Ok(out)
}

/// The chain rule of the module documentation: `dL/dtheta` from the adjoint's cotangents.
///
/// `cosmology` is the run's, `stepper` and `scale_factors` its time stepping (the stepper
/// must provide [`Stepper::kick_derivatives`]: the stock ones built by
/// [`pm_integrate::Simulation`] do), `power` the run's linear power spectrum in dual numbers
/// (needed only with `cotangents.modes`; e.g. [`LinearPower::eisenstein_hu`] of
/// `cosmology.with_gradients()`). The force prefactor is taken to be `3/2 Omega_m` and the
/// LPT state to start at `scale_factors[0]`.
pub fn cosmology_gradient<T: Real>(
    comm: &dyn Comm,
    cosmology: &Cosmology<f64>,
    stepper: &dyn Stepper,
    scale_factors: &[f64],
    power: Option<&LinearPower<ParamDual>>,
    cotangents: CosmologyCotangents<'_, T>,
) -> Result<CosmologyGradient, AdjointError> {
    let growth = GrowthTable::new(&cosmology.with_gradients()).map_err(IntegrateError::from)?;
    let a_start = *scale_factors
        .first()
        .ok_or_else(|| AdjointError::Schedule("no scale factors: the run has no steps".into()))?;
    let steps = steps_gradient(stepper, scale_factors, cotangents.steps)?;
    let prefactor = prefactor_gradient(&growth, cotangents.prefactor);
    let lpt_growth = lpt_growth_gradient(&growth, a_start, cotangents.lpt_growth)?;
    let modes = match cotangents.modes {
        None => [0.0; N_PARAMS],
        Some(m) => {
            let power = power.ok_or_else(|| IntegrateError::Config {
                what: "power spectrum",
                reason: "the gradient through the linear modes needs the power spectrum in \
                         dual numbers"
                    .into(),
            })?;
            modes_gradient(comm, m, power)?
        }
    };
    let mut total = [0.0; N_PARAMS];
    for part in [steps, prefactor, lpt_growth, modes] {
        add(&mut total, part);
    }
    Ok(CosmologyGradient {
        total,
        steps,
        prefactor,
        lpt_growth,
        modes,
    })
}

/// The run's linear power spectrum in dual numbers: Eisenstein & Hu (with wiggles, the
/// [`Simulation`] default) of the run's cosmology, checked against the run's own spectrum
/// at the mesh's smallest and largest `|k|` (an error if the run uses another spectrum:
/// then build the dual one yourself and pass it to [`cosmology_gradient`]).
pub fn simulation_power<T: Real, K: ForceKernel>(
    sim: &Simulation<T, K>,
) -> Result<LinearPower<ParamDual>, AdjointError> {
    let dual = LinearPower::eisenstein_hu(&sim.cosmology().with_gradients())
        .map_err(IntegrateError::from)?;
    let mesh = sim.particle_mesh();
    let kf = mesh
        .fundamental()
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let nyq = mesh.nyquist();
    let kmax = (nyq[0] * nyq[0] + nyq[1] * nyq[1] + nyq[2] * nyq[2]).sqrt();
    for k in [kf, 0.5 * (kf + kmax), kmax] {
        let want = sim.power().power(k).map_err(IntegrateError::from)?;
        let got = value(dual.power(k).map_err(IntegrateError::from)?);
        if (want - got).abs() > 1e-10 * want.abs() {
            return Err(IntegrateError::Config {
                what: "power spectrum",
                reason: format!(
                    "the run's P(k = {k}) = {want} is not Eisenstein & Hu's {got}: pass the \
                     run's spectrum in dual numbers to `cosmology_gradient`"
                ),
            }
            .into());
        }
    }
    Ok(dual)
}

/// `dL/dtheta` of a run of `sim` from the white noise `noise`, whose gradients
/// [`crate::value_and_gradient`] returned as `gradient`: recomputes the linear modes from
/// `noise` and applies [`cosmology_gradient`]. `power` is the run's spectrum in dual numbers;
/// `None` takes [`simulation_power`] (Eisenstein & Hu, the default of [`Simulation`]).
pub fn run_cosmology_gradient<T: Real, K: ForceKernel>(
    comm: &dyn Comm,
    sim: &Simulation<T, K>,
    noise: &pm_mesh::RealField<T>,
    gradient: &crate::Gradient<T>,
    power: Option<&LinearPower<ParamDual>>,
) -> Result<CosmologyGradient, AdjointError> {
    let own;
    let power = match power {
        Some(p) => p,
        None => {
            own = simulation_power(sim)?;
            &own
        }
    };
    let modes = sim.linear_modes_from(comm, noise)?;
    cosmology_gradient(
        comm,
        sim.cosmology(),
        sim.stepper(),
        sim.scale_factors(),
        Some(power),
        CosmologyCotangents {
            steps: &gradient.steps,
            prefactor: gradient.prefactor,
            lpt_growth: gradient.lpt_growth,
            modes: Some(ModeCotangent {
                modes: &modes,
                bar: &gradient.modes,
            }),
        },
    )
}
