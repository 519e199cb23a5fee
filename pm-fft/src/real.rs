//! The floating-point element type of every field: `f32` or `f64`.

use std::fmt::{Debug, Display};

/// Floating-point type of grids and transforms, implemented for `f32` and `f64`.
///
/// The conversions are named [`Real::lit`] and [`Real::as_f64`] (not `from_f64` / `to_f64`,
/// which would clash with `num_traits::FromPrimitive` / `ToPrimitive`, supertraits through
/// [`rustfft::FftNum`] and [`num_traits::Float`]).
///
/// It is also a [`pm_decomp::CommData`], so every field and particle array can be sent between
/// the ranks of a distributed run.
pub trait Real:
    rustfft::FftNum
    + num_traits::Float
    + pm_decomp::CommData
    + Send
    + Sync
    + Default
    + Debug
    + Display
    + 'static
{
    /// Type name, `"f32"` or `"f64"` (for file headers, kernel names, messages).
    const NAME: &'static str;
    /// Converts from `f64`, rounding to nearest for `f32`.
    fn lit(x: f64) -> Self;
    /// Converts to `f64` (exact).
    fn as_f64(self) -> f64;
}

impl Real for f32 {
    const NAME: &'static str = "f32";
    #[inline]
    fn lit(x: f64) -> Self {
        x as f32
    }
    #[inline]
    fn as_f64(self) -> f64 {
        f64::from(self)
    }
}

impl Real for f64 {
    const NAME: &'static str = "f64";
    #[inline]
    fn lit(x: f64) -> Self {
        x
    }
    #[inline]
    fn as_f64(self) -> f64 {
        self
    }
}
