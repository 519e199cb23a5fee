//! The full sky in HEALPix pixels (RING order), for all-sky convergence maps.

use pm_cosmo::Scalar;

use crate::healpix::Healpix;
use crate::{LensingError, SkyMap};

/// A full-sky HEALPix map of `12 nside^2` equal-area pixels in RING order.
///
/// Directions use the box's axes: colatitude `theta` from `+z`, longitude `phi` from `+x`
/// towards `+y`. A point deposits with HEALPix's bilinear interpolation weights on the four
/// nearest pixel centres (healpy's `get_interp_weights`), whose derivatives in `theta` and
/// `phi` make the map differentiable in the particle positions.
///
/// ```
/// use pm_lensing::{FullSky, SkyMap};
/// let sky = FullSky::new(16).unwrap();
/// assert_eq!(sky.npix(), 12 * 16 * 16);
/// let mut total = 0.0;
/// sky.deposit(&[0.3, -0.4, 0.8], &mut |_, w: f64| total += w);
/// assert!((total - 1.0).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FullSky {
    healpix: Healpix,
}

impl FullSky {
    /// A map at `nside` (a power of two).
    pub fn new(nside: usize) -> Result<Self, LensingError> {
        let healpix =
            Healpix::new(nside).map_err(|e| crate::error::config("nside", e.to_string()))?;
        Ok(Self { healpix })
    }

    /// The pixelisation.
    pub fn healpix(&self) -> &Healpix {
        &self.healpix
    }
}

impl SkyMap for FullSky {
    fn npix(&self) -> usize {
        self.healpix.npix()
    }

    fn pixel_area(&self, _pix: usize) -> f64 {
        self.healpix.pixel_area()
    }

    fn sees_ball(&self, _centre: [f64; 3], _radius: f64) -> bool {
        true
    }

    fn deposit<S: Scalar>(&self, v: &[S; 3], deposit: &mut dyn FnMut(usize, S)) {
        let rho = (v[0] * v[0] + v[1] * v[1]).sqrt();
        let theta = rho.atan2(v[2]);
        let phi = v[1].atan2(v[0]);
        let (t0, p0) = (theta.re(), phi.re());
        let (pix, w, dw) = self.healpix.interpolation_weights_and_gradients(t0, p0);
        let (dt, dp) = (theta - t0, phi - p0);
        for k in 0..4 {
            deposit(pix[k], dt * dw[k][0] + dp * dw[k][1] + w[k]);
        }
    }
}
