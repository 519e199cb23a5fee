//! What a map of the sky must say for the Born projection: its pixels, their solid angles, and
//! how a point deposits into them.

use pm_cosmo::Scalar;

/// A pixelised map of the sky around the observer.
///
/// Directions are vectors from the observer in the simulation box's axes (Mpc/h; they need
/// not be unit vectors). Deposits must be continuous in the direction (bilinear, say), so
/// that the map is differentiable in the particle positions; `S` is `f64` for the map and a
/// dual number for its derivatives.
pub trait SkyMap: Sync {
    /// Number of pixels.
    fn npix(&self) -> usize;

    /// Solid angle of pixel `pix`, sr.
    fn pixel_area(&self, pix: usize) -> f64;

    /// Whether any direction inside the ball of `radius` around `centre` (relative to the
    /// observer, Mpc/h) can land on the map; a cheap, conservative test (`true` when unsure)
    /// used to skip whole periodic replicas of the box.
    fn sees_ball(&self, centre: [f64; 3], radius: f64) -> bool;

    /// Calls `deposit(pix, w)` for the pixels the direction `v` lands on, with weights
    /// `w >= 0` summing to at most 1 (less where part of the kernel falls off the map).
    fn deposit<S: Scalar>(&self, v: &[S; 3], deposit: &mut dyn FnMut(usize, S));
}

/// `f(x0) + f'(x0) (x - x0)` for a dual `x` with real part `x0`: lifts a function known with
/// its derivative to dual numbers (first order, which is all the projection needs).
#[inline]
pub(crate) fn lift<S: Scalar>(x: S, f: f64, df: f64) -> S {
    (x - S::from(x.re())) * df + f
}
