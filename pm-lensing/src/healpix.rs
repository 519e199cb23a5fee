//! HEALPix pixelisation of the sphere, RING scheme only.
//!
//! Reference: K. M. Górski, E. Hivon, A. J. Banday, B. D. Wandelt,
//! F. K. Hansen, M. Reinecke and M. Bartelmann, "HEALPix: a Framework for
//! High-Resolution Discretization and Fast Analysis of Data Distributed on
//! the Sphere", ApJ 622, 759 (2005), hereafter G05. The ring relations used
//! are those of G05 Sect. 4, eqs. (4)-(9): on ring `i` of the north polar cap
//! (`1 <= i < nside`) `z = 1 - i^2 / (3 nside^2)` and
//! `phi_j = pi / (2 i) (j - 1/2)`, `j = 1 .. 4 i`; on ring `i` of the
//! equatorial belt (`nside <= i <= 2 nside`) `z = 4/3 - 2 i / (3 nside)` and
//! `phi_j = pi / (2 nside) (j - s / 2)`, `s = (i - nside + 1) mod 2`,
//! `j = 1 .. 4 nside`; the south is the mirror image `z -> -z`.
//!
//! Conventions: `theta` is the colatitude in radians (`0` at the north pole,
//! `pi` at the south pole), `phi` the longitude in radians, `z = cos(theta)`.
//! The sphere is split into `12 nside^2` pixels of equal area arranged on
//! `4 nside - 1` iso-latitude rings, numbered `i = 1 .. 4 nside - 1` from the
//! north pole. Pixel indices run along the rings from north to south and,
//! inside a ring, eastwards from `phi = 0` (RING ordering).
//!
//! The pixel-index arithmetic is a transcription of the RING code paths of
//! `Healpix_cxx` / `ducc0` (`T_Healpix_Base::loc2pix`, `pix2loc`,
//! `get_ring_info2`, `get_interpol`), which is what `healpy` calls, so pixel
//! numbers agree exactly with `healpy.ang2pix(..., nest=False)` and the
//! interpolation weights with `healpy.get_interp_weights`.

use std::f64::consts::{FRAC_2_PI, FRAC_PI_2, PI, TAU};
use std::fmt;

/// Largest supported `nside` (2^29, the HEALPix limit for 64-bit indices).
pub const NSIDE_MAX: usize = 1 << 29;

const TWOTHIRD: f64 = 2.0 / 3.0;

/// `Healpix_cxx` switches to the accurate-`sin(theta)` code path for
/// `theta < 0.01` or `theta > 3.14159 - 0.01`; the truncated literal is
/// copied on purpose so that pixel numbers agree bit for bit with healpy.
#[allow(clippy::approx_constant)]
const THETA_SOUTH_ACCURATE: f64 = 3.14159 - 0.01;

/// Errors from the HEALPix module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealpixError {
    /// `nside` is not a power of two in `1..=2^29`.
    Nside(usize),
}

impl fmt::Display for HealpixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HealpixError::Nside(n) => write!(
                f,
                "nside must be a power of two between 1 and 2^29, got {n}"
            ),
        }
    }
}

impl std::error::Error for HealpixError {}

/// Floating-point modulo with result in `[0, v2)` (Healpix_cxx `fmodulo`).
#[inline]
fn fmodulo(v1: f64, v2: f64) -> f64 {
    if v1 >= 0.0 {
        if v1 < v2 { v1 } else { v1 % v2 }
    } else {
        let tmp = v1 % v2 + v2;
        if tmp == v2 { 0.0 } else { tmp }
    }
}

/// Geometry of one iso-latitude ring.
#[derive(Debug, Clone, Copy)]
struct RingInfo {
    /// Index of the first pixel of the ring.
    start: i64,
    /// Number of pixels in the ring.
    npix: i64,
    /// Colatitude of the ring.
    theta: f64,
    /// Whether the first pixel centre is at `phi = pi / npix` (else `phi = 0`).
    shifted: bool,
}

/// A RING-ordered HEALPix pixelisation with a given `nside`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Healpix {
    nside: usize,
}

impl Healpix {
    /// Creates the pixelisation.
    ///
    /// `nside` must be a power of two with `1 <= nside <= 2^29`
    /// ([`NSIDE_MAX`]); `npix = 12 nside^2` must fit in `usize`. Everything
    /// is tested against healpy for `nside <= 256` and by round trips up to
    /// 64; values up to `2^13` are comfortably within the double-precision
    /// accuracy of the angle computations.
    pub fn new(nside: usize) -> Result<Self, HealpixError> {
        if nside == 0 || !nside.is_power_of_two() || nside > NSIDE_MAX {
            return Err(HealpixError::Nside(nside));
        }
        // 12 nside^2 must fit in usize (and i64, used internally).
        let ok = nside
            .checked_mul(nside)
            .and_then(|v| v.checked_mul(12))
            .is_some_and(|v| i64::try_from(v).is_ok());
        if !ok {
            return Err(HealpixError::Nside(nside));
        }
        Ok(Self { nside })
    }

    /// The resolution parameter `nside`.
    #[inline]
    pub fn nside(&self) -> usize {
        self.nside
    }

    /// Number of pixels, `12 nside^2`.
    #[inline]
    pub fn npix(&self) -> usize {
        12 * self.nside * self.nside
    }

    /// Solid angle of one pixel in steradians, `4 pi / npix`.
    #[inline]
    pub fn pixel_area(&self) -> f64 {
        4.0 * PI / self.npix() as f64
    }

    #[inline]
    fn n(&self) -> i64 {
        self.nside as i64
    }

    #[inline]
    fn npix_i(&self) -> i64 {
        12 * self.n() * self.n()
    }

    /// Number of pixels in the north polar cap, `2 nside (nside - 1)`.
    #[inline]
    fn ncap(&self) -> i64 {
        2 * self.n() * (self.n() - 1)
    }

    /// `4 / npix`.
    #[inline]
    fn fact2(&self) -> f64 {
        4.0 / self.npix_i() as f64
    }

    /// `2 nside * 4 / npix = 2 / (3 nside)`.
    #[inline]
    fn fact1(&self) -> f64 {
        (2 * self.n()) as f64 * self.fact2()
    }

    /// Pixel containing the direction `(theta, phi)`.
    ///
    /// `theta` is the colatitude in `[0, pi]`; values outside are clamped to
    /// that range (NaN gives an unspecified but valid pixel). `phi` may be any
    /// finite real; it is wrapped into `[0, 2 pi)`. The result is always
    /// `< npix`.
    ///
    /// Implements the inversion of the ring relations of G05 eqs. (4)-(9)
    /// (see the module docs): in the polar caps (`|z| > 2/3`) the ring index
    /// follows from `i = nside sqrt(3 (1 - |z|))`, in the equatorial belt
    /// from `z = 4/3 - 2 i / (3 nside)`, using the
    /// edge-line construction of `Healpix_cxx`.
    #[inline]
    pub fn ang2pix(&self, theta: f64, phi: f64) -> usize {
        let theta = theta.clamp(0.0, PI);
        let z = theta.cos();
        if !(0.01..=THETA_SOUTH_ACCURATE).contains(&theta) {
            self.loc2pix(z, phi, Some(theta.sin()))
        } else {
            self.loc2pix(z, phi, None)
        }
    }

    /// Pixel containing the direction of the vector `v`.
    ///
    /// `v` need not be normalised but must be nonzero and finite. For the
    /// zero vector (a caller bug, checked with `debug_assert!`) release builds
    /// return an unspecified but valid pixel index (`< npix`).
    #[inline]
    pub fn vec2pix(&self, v: [f64; 3]) -> usize {
        let [x, y, z] = v;
        let len = (x * x + y * y + z * z).sqrt();
        debug_assert!(len != 0.0, "vec2pix: zero vector");
        let xl = 1.0 / len;
        let phi = if x == 0.0 && y == 0.0 {
            0.0
        } else {
            y.atan2(x)
        };
        let nz = z * xl;
        if nz.abs() > 0.99 {
            self.loc2pix(nz, phi, Some((x * x + y * y).sqrt() * xl))
        } else {
            self.loc2pix(nz, phi, None)
        }
    }

    /// `Healpix_cxx` `loc2pix` (RING). `sth` is `sin(theta)` if known
    /// accurately (used near the poles).
    #[inline]
    fn loc2pix(&self, z: f64, phi: f64, sth: Option<f64>) -> usize {
        let n = self.n();
        let za = z.abs();
        let tt = fmodulo(phi * FRAC_2_PI, 4.0); // in [0, 4)
        let pix = if za <= TWOTHIRD {
            // Equatorial belt (G05 eqs. 4-9, belt relations).
            let nl4 = 4 * n;
            let temp1 = n as f64 * (0.5 + tt);
            let temp2 = n as f64 * z * 0.75;
            let jp = (temp1 - temp2) as i64; // ascending edge line
            let jm = (temp1 + temp2) as i64; // descending edge line
            let ir = n + 1 + jp - jm; // ring number counted from z = 2/3, in 1..=2n+1
            let kshift = 1 - (ir & 1);
            let t1 = jp + jm - n + kshift + 1 + nl4 + nl4;
            let ip = (t1 >> 1).rem_euclid(nl4);
            self.ncap() + (ir - 1) * nl4 + ip
        } else {
            // Polar caps (G05 eqs. 4-9, cap relations).
            let tp = tt - tt.trunc();
            let tmp = match sth {
                Some(s) if za >= 0.99 => n as f64 * s / ((1.0 + za) / 3.0).sqrt(),
                _ => n as f64 * (3.0 * (1.0 - za)).sqrt(),
            };
            let jp = (tp * tmp) as i64;
            let jm = ((1.0 - tp) * tmp) as i64;
            let ir = jp + jm + 1; // ring number counted from the closest pole
            let ip = ((tt * ir as f64) as i64).clamp(0, 4 * ir - 1);
            if z > 0.0 {
                2 * ir * (ir - 1) + ip
            } else {
                self.npix_i() - 2 * ir * (ir + 1) + ip
            }
        };
        // Cannot be out of range for any input; the clamp makes it explicit.
        pix.clamp(0, self.npix_i() - 1) as usize
    }

    /// `Healpix_cxx` `pix2loc` (RING): returns `(z, phi, Some(sin theta))`
    /// where `sin theta` is computed accurately near the poles.
    fn pix2loc(&self, pix: usize) -> (f64, f64, Option<f64>) {
        debug_assert!(pix < self.npix(), "pixel {pix} out of range");
        let n = self.n();
        let npix = self.npix_i();
        let pix = (pix.min(self.npix() - 1)) as i64;
        let ncap = self.ncap();
        if pix < ncap {
            // North polar cap (G05 eqs. 4-9, cap relations).
            let iring = (1 + ((1 + 2 * pix) as u64).isqrt() as i64) >> 1;
            let iphi = (pix + 1) - 2 * iring * (iring - 1);
            let tmp = (iring * iring) as f64 * self.fact2();
            let z = 1.0 - tmp;
            let sth = (z > 0.99).then(|| (tmp * (2.0 - tmp)).sqrt());
            let phi = (iphi as f64 - 0.5) * FRAC_PI_2 / iring as f64;
            (z, phi, sth)
        } else if pix < npix - ncap {
            // Equatorial belt (G05 eqs. 4-9, belt relations).
            let nl4 = 4 * n;
            let ip = pix - ncap;
            let tmp = ip / nl4;
            let iring = tmp + n;
            let iphi = ip - nl4 * tmp + 1;
            let fodd = if (iring + n) & 1 == 1 { 1.0 } else { 0.5 };
            let z = (2 * n - iring) as f64 * self.fact1();
            let phi = (iphi as f64 - fodd) * PI * 0.75 * self.fact1();
            (z, phi, None)
        } else {
            // South polar cap (mirror of eqs. 4-5).
            let ip = npix - pix;
            let iring = (1 + ((2 * ip - 1) as u64).isqrt() as i64) >> 1;
            let iphi = 4 * iring + 1 - (ip - 2 * iring * (iring - 1));
            let tmp = (iring * iring) as f64 * self.fact2();
            let z = tmp - 1.0;
            let sth = (z < -0.99).then(|| (tmp * (2.0 - tmp)).sqrt());
            let phi = (iphi as f64 - 0.5) * FRAC_PI_2 / iring as f64;
            (z, phi, sth)
        }
    }

    /// Centre `(theta, phi)` of pixel `pix`, with `phi` in `[0, 2 pi)`.
    ///
    /// `pix` must be `< npix` (checked by `debug_assert!`); release builds
    /// treat larger values as `npix - 1`.
    pub fn pix2ang(&self, pix: usize) -> (f64, f64) {
        let (z, phi, sth) = self.pix2loc(pix);
        match sth {
            Some(s) => (s.atan2(z), phi),
            None => (z.acos(), phi),
        }
    }

    /// Unit vector of the centre of pixel `pix` (same range rule as
    /// [`Healpix::pix2ang`]).
    pub fn pix2vec(&self, pix: usize) -> [f64; 3] {
        let (z, phi, sth) = self.pix2loc(pix);
        let s = sth.unwrap_or_else(|| ((1.0 - z) * (1.0 + z)).sqrt());
        [s * phi.cos(), s * phi.sin(), z]
    }

    /// Index `i` of the ring just north of (or at) `z`, `0 ..= 4 nside - 1`
    /// (`0`: above the first ring). Inverts the ring `z` relations of G05 eqs. (4)-(9).
    fn ring_above(&self, z: f64) -> i64 {
        let n = self.n();
        let az = z.abs();
        if az <= TWOTHIRD {
            return (n as f64 * (2.0 - 1.5 * z)) as i64;
        }
        let iring = (n as f64 * (3.0 * (1.0 - az)).sqrt()) as i64;
        if z > 0.0 { iring } else { 4 * n - iring - 1 }
    }

    /// Start pixel, length, colatitude and shift of ring `ring` (`1 ..= 4
    /// nside - 1`). Ring colatitudes follow G05 eqs. (4)-(9):
    /// `z = 1 - i^2 / (3 nside^2)` (polar cap),
    /// `z = 4/3 - 2 i / (3 nside)` (equatorial belt).
    fn ring_info(&self, ring: i64) -> RingInfo {
        let n = self.n();
        let northring = if ring > 2 * n { 4 * n - ring } else { ring };
        let (mut start, npix, mut theta, shifted);
        if northring < n {
            let tmp = (northring * northring) as f64 * self.fact2();
            let cos_theta = 1.0 - tmp;
            let sin_theta = (tmp * (2.0 - tmp)).sqrt();
            theta = sin_theta.atan2(cos_theta);
            npix = 4 * northring;
            shifted = true;
            start = 2 * northring * (northring - 1);
        } else {
            theta = ((2 * n - northring) as f64 * self.fact1()).acos();
            npix = 4 * n;
            shifted = ((northring - n) & 1) == 0;
            start = self.ncap() + (northring - n) * npix;
        }
        if northring != ring {
            theta = PI - theta;
            start = self.npix_i() - start - npix;
        }
        RingInfo {
            start,
            npix,
            theta,
            shifted,
        }
    }

    /// Pixels `(i1, i2)` bracketing `phi` on a ring and the weight `w` of
    /// `i2` (`1 - w` goes to `i1`), plus `d w / d phi`.
    #[inline]
    fn ring_bracket(ri: &RingInfo, phi: f64) -> (usize, usize, f64, f64) {
        let nr = ri.npix;
        let dphi = TAU / nr as f64;
        let half = if ri.shifted { 0.5 } else { 0.0 };
        let tmp = phi / dphi - half;
        let i1 = if tmp < 0.0 {
            tmp as i64 - 1
        } else {
            tmp as i64
        };
        let w1 = (phi - (i1 as f64 + half) * dphi) / dphi;
        let p1 = ri.start + i1.rem_euclid(nr);
        let p2 = ri.start + (i1 + 1).rem_euclid(nr);
        (p1 as usize, p2 as usize, w1, 1.0 / dphi)
    }

    /// Bilinear interpolation pixels and weights at `(theta, phi)`, exactly
    /// as `healpy.get_interp_weights(nside, theta, phi)` (RING) /
    /// `Healpix_cxx` `get_interpol`.
    ///
    /// Returns the pixels `[a0, a1, b0, b1]` and weights (summing to 1):
    /// `a0, a1` are the two pixel centres bracketing `phi` on the ring just
    /// north of `theta` (ring colatitudes from G05 eqs. 4-9), `b0, b1`
    /// those on the ring just south. The weights are linear in `phi` between
    /// the centres of each ring and linear in `theta` between the two rings.
    ///
    /// Poles (as in healpy): north of the first ring (`theta < theta_1`) the
    /// "northern ring" is replaced by the pole itself, represented by the
    /// average of the four ring-1 pixels: `a0, a1` are the ring-1 pixels
    /// opposite `b0, b1`, `w_theta = theta / theta_1`, and `(1 - w_theta) / 4`
    /// is added to each of the four weights. South of the last ring
    /// symmetrically, with `w_theta = (theta - theta_last) / (pi - theta_last)`.
    ///
    /// `theta` is clamped to `[0, pi]`, `phi` is wrapped into `[0, 2 pi)`.
    /// (healpy itself only accepts `phi` in about `[0, 2 pi)`; inside that
    /// range results are identical.) The four pixels are always distinct.
    #[inline]
    pub fn interpolation_weights(&self, theta: f64, phi: f64) -> ([usize; 4], [f64; 4]) {
        let (p, w, _) = self.interp_impl(theta, phi);
        (p, w)
    }

    /// As [`Healpix::interpolation_weights`], also returning the analytic
    /// derivatives `[d w_k / d theta, d w_k / d phi]` of each weight.
    ///
    /// The weights are piecewise bilinear, so the derivatives are exact
    /// inside each interpolation cell and jump across cell boundaries (ring
    /// colatitudes and pixel-centre longitudes), where the one-sided value of
    /// the cell containing the point is returned. They sum to zero.
    #[inline]
    pub fn interpolation_weights_and_gradients(
        &self,
        theta: f64,
        phi: f64,
    ) -> ([usize; 4], [f64; 4], [[f64; 2]; 4]) {
        self.interp_impl(theta, phi)
    }

    fn interp_impl(&self, theta: f64, phi: f64) -> ([usize; 4], [f64; 4], [[f64; 2]; 4]) {
        let theta = theta.clamp(0.0, PI);
        let phi = fmodulo(phi, TAU);
        let n = self.n();
        let z = theta.cos();
        let ir1 = self.ring_above(z);
        let ir2 = ir1 + 1;
        let mut pix = [0usize; 4];
        // Weights and d/dphi of the longitude fraction on each ring.
        let (mut wa, mut dwa, mut wb, mut dwb) = (0.0, 0.0, 0.0, 0.0);
        let mut theta1 = 0.0;
        let mut theta2 = 0.0;
        if ir1 > 0 {
            let ri = self.ring_info(ir1);
            theta1 = ri.theta;
            let (p1, p2, w, dw) = Self::ring_bracket(&ri, phi);
            pix[0] = p1;
            pix[1] = p2;
            wa = w;
            dwa = dw;
        }
        if ir2 < 4 * n {
            let ri = self.ring_info(ir2);
            theta2 = ri.theta;
            let (p1, p2, w, dw) = Self::ring_bracket(&ri, phi);
            pix[2] = p1;
            pix[3] = p2;
            wb = w;
            dwb = dw;
        }
        let (wgt, grad);
        if ir1 == 0 {
            // North of the first ring: interpolate towards the pole value.
            let wt = theta / theta2;
            let dwt = 1.0 / theta2;
            let fac = (1.0 - wt) * 0.25;
            let dfac = -0.25 * dwt;
            wgt = [fac, fac, (1.0 - wb) * wt + fac, wb * wt + fac];
            grad = [
                [dfac, 0.0],
                [dfac, 0.0],
                [(1.0 - wb) * dwt + dfac, -dwb * wt],
                [wb * dwt + dfac, dwb * wt],
            ];
            pix[0] = (pix[2] + 2) & 3;
            pix[1] = (pix[3] + 2) & 3;
        } else if ir2 == 4 * n {
            // South of the last ring.
            let wt = (theta - theta1) / (PI - theta1);
            let dwt = 1.0 / (PI - theta1);
            let fac = wt * 0.25;
            let dfac = 0.25 * dwt;
            wgt = [
                (1.0 - wa) * (1.0 - wt) + fac,
                wa * (1.0 - wt) + fac,
                fac,
                fac,
            ];
            grad = [
                [-(1.0 - wa) * dwt + dfac, -dwa * (1.0 - wt)],
                [-wa * dwt + dfac, dwa * (1.0 - wt)],
                [dfac, 0.0],
                [dfac, 0.0],
            ];
            let npix = self.npix();
            pix[2] = ((pix[0] + 2) & 3) + npix - 4;
            pix[3] = ((pix[1] + 2) & 3) + npix - 4;
        } else {
            let wt = (theta - theta1) / (theta2 - theta1);
            let dwt = 1.0 / (theta2 - theta1);
            wgt = [
                (1.0 - wa) * (1.0 - wt),
                wa * (1.0 - wt),
                (1.0 - wb) * wt,
                wb * wt,
            ];
            grad = [
                [-(1.0 - wa) * dwt, -dwa * (1.0 - wt)],
                [-wa * dwt, dwa * (1.0 - wt)],
                [(1.0 - wb) * dwt, -dwb * wt],
                [wb * dwt, dwb * wt],
            ];
        }
        // NaN input gives NaN weights (pixels are still valid indices).
        (pix, wgt, grad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64, deterministic test randomness.
    struct Rng(u64);
    impl Rng {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        /// Uniform in [0, 1).
        fn uniform(&mut self) -> f64 {
            (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
        }
        /// Uniform direction on the sphere as (theta, phi).
        fn direction(&mut self) -> (f64, f64) {
            let z = 2.0 * self.uniform() - 1.0;
            (z.acos(), TAU * self.uniform())
        }
    }

    #[test]
    fn nside_validation() {
        assert!(Healpix::new(0).is_err());
        assert!(Healpix::new(3).is_err());
        assert!(Healpix::new(1 << 30).is_err());
        assert_eq!(Healpix::new(1).unwrap().npix(), 12);
        assert_eq!(Healpix::new(1 << 29).unwrap().nside(), 1 << 29);
        let e = Healpix::new(6).unwrap_err();
        assert_eq!(
            e.to_string(),
            "nside must be a power of two between 1 and 2^29, got 6"
        );
        let hp = Healpix::new(16).unwrap();
        assert!((hp.pixel_area() * hp.npix() as f64 - 4.0 * PI).abs() < 1e-12);
    }

    #[test]
    fn pixel_centres_round_trip() {
        let mut nside = 1;
        while nside <= 64 {
            let hp = Healpix::new(nside).unwrap();
            for p in 0..hp.npix() {
                let (t, f) = hp.pix2ang(p);
                assert!((0.0..=PI).contains(&t) && (0.0..TAU).contains(&f));
                assert_eq!(hp.ang2pix(t, f), p, "nside {nside} pix {p}");
                let v = hp.pix2vec(p);
                let norm = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
                assert!((norm - 1.0).abs() < 1e-14);
                assert_eq!(hp.vec2pix(v), p, "nside {nside} pix {p} (vec)");
                assert_eq!(hp.vec2pix([3.0 * v[0], 3.0 * v[1], 3.0 * v[2]]), p);
                // Interpolating at a pixel centre gives that pixel weight 1.
                let (pp, w) = hp.interpolation_weights(t, f);
                let wp: f64 = (0..4).filter(|&k| pp[k] == p).map(|k| w[k]).sum();
                assert!(
                    (wp - 1.0).abs() < 1e-9,
                    "nside {nside} pix {p}: {pp:?} {w:?}"
                );
            }
            nside *= 2;
        }
    }

    #[test]
    fn equal_area() {
        let hp = Healpix::new(4).unwrap();
        let npix = hp.npix();
        let per_pix = 2000usize;
        let mut counts = vec![0usize; npix];
        let mut rng = Rng(12345);
        for _ in 0..npix * per_pix {
            let (t, f) = rng.direction();
            counts[hp.ang2pix(t, f)] += 1;
        }
        let mean = per_pix as f64;
        let chi2: f64 = counts
            .iter()
            .map(|&c| (c as f64 - mean).powi(2) / mean)
            .sum();
        let dof = (npix - 1) as f64;
        // chi2 ~ dof +- sqrt(2 dof) for equal-area pixels.
        assert!(
            (chi2 - dof).abs() < 5.0 * (2.0 * dof).sqrt(),
            "chi2 {chi2} for {dof} dof"
        );
        // A single pixel of wrong area (e.g. off by 10%) would show up as
        // a deviation of 10 * sqrt(2000)/100 = 4.5 sigma in that pixel.
        for &c in &counts {
            assert!((c as f64 - mean).abs() < 5.0 * mean.sqrt());
        }
    }

    #[test]
    fn phi_wrapping_and_edge_inputs() {
        let hp = Healpix::new(8).unwrap();
        let mut rng = Rng(7);
        for _ in 0..1000 {
            let (t, f) = rng.direction();
            let p = hp.ang2pix(t, f);
            let (pp, w) = hp.interpolation_weights(t, f);
            for a in 0..4 {
                for b in a + 1..4 {
                    assert_ne!(pp[a], pp[b]);
                }
            }
            for k in [-3.0, -1.0, 1.0, 5.0] {
                let f2 = f + k * TAU;
                // Wrapping may move a point sitting within rounding of a
                // boundary; random points are not.
                assert_eq!(hp.ang2pix(t, f2), p);
                let (pp2, w2) = hp.interpolation_weights(t, f2);
                assert_eq!(pp, pp2);
                for j in 0..4 {
                    assert!((w[j] - w2[j]).abs() < 1e-9);
                }
            }
        }
        for &(t, f) in &[
            (f64::NAN, 0.0),
            (0.0, f64::NAN),
            (f64::INFINITY, f64::NEG_INFINITY),
            (-1.0, 1.0),
            (4.0, 1.0),
            (0.0, 0.0),
            (PI, TAU),
            (1.0, -1e-300),
            (1.0, 1e300),
        ] {
            assert!(hp.ang2pix(t, f) < hp.npix());
            let (pp, _) = hp.interpolation_weights(t, f);
            assert!(pp.iter().all(|&p| p < hp.npix()));
        }
        assert!(hp.vec2pix([f64::NAN, 1.0, 1.0]) < hp.npix());
    }

    #[test]
    fn gradients_match_finite_differences() {
        let h = 1e-6;
        let mut rng = Rng(99);
        let mut maxerr: f64 = 0.0;
        let mut total = 0;
        for nside in [1usize, 2, 4, 16, 64] {
            let hp = Healpix::new(nside).unwrap();
            let mut checked = 0;
            let mut polar = 0;
            for _ in 0..4000 {
                let (t, f) = rng.direction();
                let (p0, w0, g) = hp.interpolation_weights_and_gradients(t, f);
                let s: f64 = w0.iter().sum();
                assert!((s - 1.0).abs() < 1e-12);
                let gs: [f64; 2] = [g.iter().map(|d| d[0]).sum(), g.iter().map(|d| d[1]).sum()];
                let gmax = g.iter().flatten().fold(1.0f64, |m, x| m.max(x.abs()));
                assert!(
                    gs[0].abs() < 1e-12 * gmax && gs[1].abs() < 1e-12 * gmax,
                    "{nside} {t} {f} {w0:?} {g:?}"
                );
                // Same cell on both sides in both directions?
                let (ptp, wtp) = hp.interpolation_weights(t + h, f);
                let (ptm, wtm) = hp.interpolation_weights(t - h, f);
                let (pfp, wfp) = hp.interpolation_weights(t, f + h);
                let (pfm, wfm) = hp.interpolation_weights(t, f - h);
                if [ptp, ptm, pfp, pfm].iter().any(|p| *p != p0) {
                    continue;
                }
                if t < hp.ring_info(1).theta || t > PI - hp.ring_info(1).theta {
                    polar += 1;
                }
                for k in 0..4 {
                    let dt = (wtp[k] - wtm[k]) / (2.0 * h);
                    let df = (wfp[k] - wfm[k]) / (2.0 * h);
                    maxerr = maxerr.max((dt - g[k][0]).abs()).max((df - g[k][1]).abs());
                    assert!((dt - g[k][0]).abs() < 1e-6, "nside {nside} d/dtheta");
                    assert!((df - g[k][1]).abs() < 1e-6, "nside {nside} d/dphi");
                }
                checked += 1;
            }
            assert!(checked > 3500, "only {checked} points checked");
            total += checked;
            if nside <= 4 {
                assert!(polar > 0, "no polar-cap point checked at nside {nside}");
            }
        }
        eprintln!("gradients: {total} points checked, max |FD - analytic| = {maxerr:e}");
    }

    fn parse<T: std::str::FromStr>(s: &str) -> T
    where
        T::Err: std::fmt::Debug,
    {
        s.parse().unwrap()
    }

    /// Compares with `tests/healpy_reference.txt` written by
    /// `tests/reference.py` (healpy).
    #[test]
    fn healpy_reference() {
        let text = include_str!("../tests/healpy_reference.txt");
        let (mut na, mut np, mut nw, mut nv) = (0, 0, 0, 0);
        let mut maxdw: f64 = 0.0;
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.is_empty() || f[0].starts_with('#') {
                continue;
            }
            let hp = Healpix::new(parse(f[1])).unwrap();
            match f[0] {
                // A nside theta phi pix
                "A" => {
                    let (t, ph): (f64, f64) = (parse(f[2]), parse(f[3]));
                    assert_eq!(hp.ang2pix(t, ph), parse::<usize>(f[4]), "{line}");
                    na += 1;
                }
                // V nside x y z pix
                "V" => {
                    let v = [parse(f[2]), parse(f[3]), parse(f[4])];
                    assert_eq!(hp.vec2pix(v), parse::<usize>(f[5]), "{line}");
                    nv += 1;
                }
                // P nside pix theta phi x y z
                "P" => {
                    let p: usize = parse(f[2]);
                    let (t, ph) = hp.pix2ang(p);
                    assert!((t - parse::<f64>(f[3])).abs() < 1e-13, "{line}");
                    assert!((ph - parse::<f64>(f[4])).abs() < 1e-13, "{line}");
                    let v = hp.pix2vec(p);
                    for k in 0..3 {
                        assert!((v[k] - parse::<f64>(f[5 + k])).abs() < 1e-13, "{line}");
                    }
                    np += 1;
                }
                // W nside theta phi ang2pix p0 p1 p2 p3 w0 w1 w2 w3
                "W" => {
                    let (t, ph): (f64, f64) = (parse(f[2]), parse(f[3]));
                    assert_eq!(hp.ang2pix(t, ph), parse::<usize>(f[4]), "{line}");
                    let (p, w) = hp.interpolation_weights(t, ph);
                    for k in 0..4 {
                        assert_eq!(p[k], parse::<usize>(f[5 + k]), "{line}");
                        let dw = (w[k] - parse::<f64>(f[9 + k])).abs();
                        maxdw = maxdw.max(dw);
                        assert!(dw < 1e-12, "{line}");
                    }
                    nw += 1;
                }
                other => panic!("unknown record {other}"),
            }
        }
        eprintln!(
            "healpy reference: {na} ang2pix, {nv} vec2pix, {np} pix2ang/vec, {nw} interp (max |dw| {maxdw:e})"
        );
        assert!(na > 0 && np > 0 && nw > 500 && nv > 0);
    }
}
