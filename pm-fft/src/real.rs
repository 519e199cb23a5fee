//! The floating-point element type of every field: `f32` or `f64`.

use std::fmt::{Debug, Display};

/// Floating-point type of grids and transforms, implemented for `f32` and `f64`.
///
/// The conversions are named `from_f64` / `to_f64` as in the rest of the workspace; because
/// `num_traits::FromPrimitive` / `ToPrimitive` (supertraits via [`rustfft::FftNum`] and
/// [`num_traits::Float`]) have methods of the same names returning `Option`, call these as
/// `<T as Real>::from_f64(x)` in generic code, or use [`Real::lit`] / [`Real::as_f64`], which are
/// unambiguous aliases.
pub trait Real:
    rustfft::FftNum + num_traits::Float + Send + Sync + Default + Debug + Display + 'static
{
    /// Type name, `"f32"` or `"f64"` (for file headers, kernel names, messages).
    const NAME: &'static str;
    /// Converts from `f64`, rounding to nearest for `f32`.
    fn from_f64(x: f64) -> Self;
    /// Converts to `f64` (exact).
    fn to_f64(self) -> f64;
    /// Unambiguous alias of [`Real::from_f64`].
    #[inline]
    fn lit(x: f64) -> Self {
        <Self as Real>::from_f64(x)
    }
    /// Unambiguous alias of [`Real::to_f64`].
    #[inline]
    fn as_f64(self) -> f64 {
        <Self as Real>::to_f64(self)
    }
}

impl Real for f32 {
    const NAME: &'static str = "f32";
    #[inline]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

impl Real for f64 {
    const NAME: &'static str = "f64";
    #[inline]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
}
