//! The number type every pm-cosmo computation is generic over, and the parameter set that
//! derivatives are taken with respect to.
//!
//! Everything in pm-cosmo is written once for a [`Scalar`]: `f64` for plain values, or a
//! forward-mode dual number from [`num_dual`] to carry exact derivatives with respect to the
//! cosmological parameters through the background, growth, distance and power-spectrum code.
//! [`crate::Cosmology::with_gradients`] seeds the seven [`Param`] directions at once.

use num_dual::{Derivative, DualNum, DualSVec64};

/// A real number that pm-cosmo can compute with: `f64`, or a dual number over `f64`.
pub trait Scalar: DualNum<Primitive = f64> + Copy + Send + Sync {}

impl<T: DualNum<Primitive = f64> + Copy + Send + Sync> Scalar for T {}

/// Number of differentiable cosmological parameters (the length of [`Param::ALL`]).
pub const N_PARAMS: usize = 7;

/// A dual number carrying derivatives with respect to all seven [`Param`]s.
pub type ParamDual = DualSVec64<N_PARAMS>;

/// The cosmological parameters that derivatives are taken with respect to.
///
/// The set is (Omega_m, Omega_b, h, n_s, amplitude, w0, wa); each derivative holds the other six
/// fixed. In particular d/dOmega_m moves cold dark matter at fixed Omega_b, and d/dOmega_b
/// trades cold dark matter for baryons at fixed Omega_m. The amplitude is sigma8 when the
/// cosmology is normalised by sigma8, A_s when normalised by A_s. Curvature Omega_k, T_cmb and
/// N_eff are held fixed (Omega_Lambda absorbs the change so the sum stays 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Param {
    /// Total matter density today, Omega_m = Omega_c + Omega_b.
    OmegaM,
    /// Baryon density today.
    OmegaB,
    /// Dimensionless Hubble constant, H0 = 100 h km/s/Mpc.
    H,
    /// Primordial spectral index.
    Ns,
    /// Amplitude: sigma8 or A_s, whichever normalises the cosmology.
    Amplitude,
    /// Dark-energy equation of state today.
    W0,
    /// Dark-energy equation of state slope, w(a) = w0 + wa (1 - a).
    Wa,
}

impl Param {
    /// All parameters, in the order of the derivative vector of [`ParamDual`].
    pub const ALL: [Param; N_PARAMS] = [
        Param::OmegaM,
        Param::OmegaB,
        Param::H,
        Param::Ns,
        Param::Amplitude,
        Param::W0,
        Param::Wa,
    ];

    /// Position of this parameter in the derivative vector.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Name as written in config files.
    pub fn name(self) -> &'static str {
        match self {
            Param::OmegaM => "Omega_m",
            Param::OmegaB => "Omega_b",
            Param::H => "h",
            Param::Ns => "n_s",
            Param::Amplitude => "amplitude",
            Param::W0 => "w0",
            Param::Wa => "wa",
        }
    }
}

/// A [`ParamDual`] with value `re` and derivative vector `eps` (indexed by [`Param::index`]).
pub fn param_dual(re: f64, eps: [f64; N_PARAMS]) -> ParamDual {
    ParamDual::new(re, Derivative::some(nalgebra::SVector::from(eps)))
}

/// The derivative of a [`ParamDual`] with respect to one parameter (0 when none was carried).
pub fn derivative(x: &ParamDual, p: Param) -> f64 {
    x.eps.0.map_or(0.0, |v| v[p.index()])
}

/// The plain value of any [`Scalar`].
pub fn value<S: Scalar>(x: S) -> f64 {
    x.re()
}

/// `S` from an `f64` constant.
#[inline]
pub fn cst<S: Scalar>(x: f64) -> S {
    S::from(x)
}
