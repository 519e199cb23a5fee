//! A square flat-sky map: the gnomonic (tangent-plane) projection around a line of sight.

use pm_cosmo::Scalar;

use crate::error::config;
use crate::{LensingError, SkyMap};

/// A square field of `npix x npix` pixels, `fov_deg` degrees on a side, centred on a line of
/// sight.
///
/// Coordinates are those of the tangent plane (gnomonic projection, Calabretta & Greisen 2002
/// `TAN`): a direction `v` with components `(v1, v2, v3)` along the field's axes
/// `(e1, e2, los)` lands at `(u, w) = (v1/v3, v2/v3)`; the field spans
/// `[-tan(fov/2), tan(fov/2)]` in both, in pixels of side `d = 2 tan(fov/2)/npix`.
/// Pixel `(i, j)` (`i` along `e1`, `j` along `e2`) is stored at `j * npix + i`, so the map
/// is an image with rows along `e2`. Its solid angle is `d^2 / (1 + u^2 + w^2)^{3/2}` at
/// its centre (the Jacobian of the projection).
///
/// Points deposit bilinearly onto the four nearest pixel centres (cloud-in-cell in the
/// tangent plane).
///
/// ```
/// use pm_lensing::{FlatSky, SkyMap};
/// let sky = FlatSky::new([0.0, 0.0, 1.0], 10.0, 64).unwrap();
/// assert_eq!(sky.npix(), 64 * 64);
/// let mut total = 0.0;
/// sky.deposit(&[0.01, -0.02, 1.0], &mut |_, w: f64| total += w);
/// assert!((total - 1.0).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FlatSky {
    axes: [[f64; 3]; 3],
    fov_deg: f64,
    n: usize,
    half_width: f64,
    pixel: f64,
}

impl FlatSky {
    /// A field of `npix^2` pixels and `fov_deg` (0 < fov < 120) degrees on a side, looking
    /// along `line_of_sight` (box axes; any length but zero). The field's first axis is
    /// `e1 = normalise(z x los)` (or `x x los` when the line of sight is along z), the second
    /// `e2 = los x e1`.
    pub fn new(line_of_sight: [f64; 3], fov_deg: f64, npix: usize) -> Result<Self, LensingError> {
        if !(fov_deg.is_finite() && fov_deg > 0.0 && fov_deg < 120.0) {
            return Err(config(
                "field of view",
                format!("{fov_deg} degrees: must be in (0, 120)"),
            ));
        }
        if npix < 2 {
            return Err(config(
                "pixels",
                format!("{npix} per side: need at least 2"),
            ));
        }
        // The map is npix^2 f64 values: a count whose bytes overflow is an error here, not
        // an overflow or a failed allocation later.
        if npix
            .checked_mul(npix)
            .and_then(|n| n.checked_mul(8))
            .is_none_or(|b| b > isize::MAX as usize)
        {
            return Err(config(
                "pixels",
                format!("{npix} per side: the map's {npix}^2 values overflow the address space"),
            ));
        }
        let norm = dot(line_of_sight, line_of_sight).sqrt();
        if !(norm.is_finite() && norm > 0.0) {
            return Err(config(
                "line of sight",
                format!("{line_of_sight:?} must be a finite non-zero vector"),
            ));
        }
        let los = line_of_sight.map(|x| x / norm);
        let up = if los[2].abs() > 0.9 {
            [1.0, 0.0, 0.0]
        } else {
            [0.0, 0.0, 1.0]
        };
        let e1 = normalise(cross(up, los));
        let e2 = cross(los, e1);
        let half_width = (0.5 * fov_deg.to_radians()).tan();
        Ok(Self {
            axes: [e1, e2, los],
            fov_deg,
            n: npix,
            half_width,
            pixel: 2.0 * half_width / npix as f64,
        })
    }

    /// Pixels per side.
    pub fn side(&self) -> usize {
        self.n
    }

    /// Field of view, degrees on a side.
    pub fn fov_deg(&self) -> f64 {
        self.fov_deg
    }

    /// Pixel side in tangent-plane units (radians at the centre).
    pub fn pixel_size(&self) -> f64 {
        self.pixel
    }

    /// The field's axes `[e1, e2, los]` (unit vectors in box axes).
    pub fn axes(&self) -> [[f64; 3]; 3] {
        self.axes
    }

    /// Tangent-plane coordinate of pixel centre `i` (either axis).
    pub fn centre(&self, i: usize) -> f64 {
        -self.half_width + (i as f64 + 0.5) * self.pixel
    }
}

impl SkyMap for FlatSky {
    fn npix(&self) -> usize {
        self.n * self.n
    }

    fn pixel_area(&self, pix: usize) -> f64 {
        let (u, w) = (self.centre(pix % self.n), self.centre(pix / self.n));
        self.pixel * self.pixel / (1.0 + u * u + w * w).powf(1.5)
    }

    fn sees_ball(&self, centre: [f64; 3], radius: f64) -> bool {
        let d = dot(centre, centre).sqrt();
        if d <= radius {
            return true;
        }
        // Angle between the line of sight and the ball's centre, against the field's
        // half-diagonal plus the ball's angular radius.
        let cos_los = (dot(centre, self.axes[2]) / d).clamp(-1.0, 1.0);
        let half_diagonal = (self.half_width * std::f64::consts::SQRT_2).atan();
        cos_los.acos() <= half_diagonal + (radius / d).asin() + 2.0 * self.pixel
    }

    fn deposit<S: Scalar>(&self, v: &[S; 3], deposit: &mut dyn FnMut(usize, S)) {
        let [e1, e2, los] = self.axes;
        let along = |e: [f64; 3]| v[0] * e[0] + v[1] * e[1] + v[2] * e[2];
        let v3 = along(los);
        if v3.re() <= 0.0 {
            return;
        }
        // Pixel coordinates with centres at integers.
        let to_pixel = |x: S| (x + self.half_width) / self.pixel - 0.5;
        let s = to_pixel(along(e1) / v3);
        let t = to_pixel(along(e2) / v3);
        let (i0, j0) = (s.re().floor(), t.re().floor());
        let n = self.n as f64;
        if i0 < -1.0 || j0 < -1.0 || i0 >= n || j0 >= n {
            return;
        }
        let (fx, fy) = (s - i0, t - j0);
        let one = S::from(1.0);
        for (dj, wy) in [(0.0, one - fy), (1.0, fy)] {
            let j = j0 + dj;
            if j < 0.0 || j >= n {
                continue;
            }
            for (di, wx) in [(0.0, one - fx), (1.0, fx)] {
                let i = i0 + di;
                if i < 0.0 || i >= n {
                    continue;
                }
                deposit(j as usize * self.n + i as usize, wx * wy);
            }
        }
    }
}

pub(crate) fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn normalise(a: [f64; 3]) -> [f64; 3] {
    let n = dot(a, a).sqrt();
    a.map(|x| x / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pixels' solid angles add up to the field's: 4 arcsin(sin^2(fov/2)) for a square
    /// gnomonic field of side fov (the solid angle of a rectangular pyramid).
    #[test]
    fn pixel_areas_sum_to_the_field() {
        for fov in [5.0_f64, 30.0] {
            let sky = FlatSky::new([1.0, 2.0, 0.5], fov, 256).unwrap();
            let total: f64 = (0..sky.npix()).map(|p| sky.pixel_area(p)).sum();
            let t = (0.5 * fov.to_radians()).tan();
            let exact = 4.0 * (t * t / (1.0 + t * t)).asin();
            assert!(
                (total - exact).abs() < 2e-5 * exact,
                "{fov}: {total} {exact}"
            );
        }
    }

    /// The axes are orthonormal and right-handed, and a pixel centre's direction deposits
    /// all its weight on that pixel.
    #[test]
    fn pixel_centres_deposit_on_themselves() {
        let sky = FlatSky::new([0.3, -0.2, 1.0], 8.0, 16).unwrap();
        let [e1, e2, los] = sky.axes();
        assert!((dot(cross(e1, e2), los) - 1.0).abs() < 1e-14);
        for (i, j) in [(0, 0), (3, 11), (15, 15)] {
            let (u, w) = (sky.centre(i), sky.centre(j));
            let v: [f64; 3] = std::array::from_fn(|a| 7.0 * (u * e1[a] + w * e2[a] + los[a]));
            let mut got = vec![];
            sky.deposit(&v, &mut |p, w| got.push((p, w)));
            let hit: Vec<_> = got.iter().filter(|(_, w)| *w > 1e-9).collect();
            assert_eq!(hit.len(), 1, "{got:?}");
            assert_eq!(hit[0].0, j * 16 + i);
            assert!((hit[0].1 - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn bad_fields_are_named() {
        let e = FlatSky::new([0.0, 0.0, 1.0], 0.0, 16).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid field of view: 0 degrees: must be in (0, 120)"
        );
        let e = FlatSky::new([0.0; 3], 5.0, 16).unwrap_err();
        assert!(e.to_string().starts_with("invalid line of sight"), "{e}");
        for fov in [f64::NAN, -5.0, f64::INFINITY] {
            let e = FlatSky::new([0.0, 0.0, 1.0], fov, 16).unwrap_err();
            assert!(e.to_string().starts_with("invalid field of view"), "{e}");
        }
        // 2^32 pixels per side: 2^64 values, a count that overflows.
        let e = FlatSky::new([0.0, 0.0, 1.0], 5.0, 1 << 32).unwrap_err();
        assert!(e.to_string().contains("overflow"), "{e}");
    }
}
