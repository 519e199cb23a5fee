//! The past lightcone of an observer in a periodic box: which particles cross it during a
//! step, in which periodic replica of the box, and where.
//!
//! The light reaching the observer at `a = 1` left comoving distance `r(a)` at scale factor
//! `a`, so during a step from `a0` to `a1 > a0` the cone sweeps inwards from `r0 = r(a0)` to
//! `r1 = r(a1)`. A particle at distance `d(a)` from the observer is inside the cone's sphere
//! while `f(a) = d(a) - r(a) < 0` and outside after; it **crosses during the step** when
//! `f(a0) < 0 <= f(a1)`. The half-open test counts a particle exactly on the sphere at a
//! step boundary in one step only (the earlier one), so consecutive steps never count a
//! crossing twice.
//!
//! Within the step the position is interpolated linearly between the step's ends,
//! `x(t) = x0 + t (x1 - x0)`, and so is `f`: the crossing is at `t* = f0 / (f0 - f1)`,
//! `x* = x(t*)` (FastPM's lightcone interpolates with the drift factors; linear
//! interpolation differs from it at second order in the step). The box is replicated
//! periodically (`x + n L`, `n` integer) as far as the cone reaches; a particle's unwrapped
//! position `q + disp` is used, so each particle is one point in each replica (never split
//! across a box face) and crosses at most once per replica and step.

use pm_cosmo::Scalar;
use pm_mesh::Lattice;

/// The observer in the box: a position and how far the cone is followed.
///
/// ```
/// use pm_lensing::Lightcone;
/// let cone = Lightcone::new([50.0, 50.0, 50.0], [100.0; 3], 250.0);
/// // Replicas reaching the shell 90 < r < 110 around the box centre: the 26 neighbours of
/// // the central box, whose farthest corner (86.6 Mpc/h away) is inside the shell.
/// let reps = cone.replicas([0.0; 3], [100.0; 3], 90.0, 110.0);
/// assert_eq!(reps.len(), 26);
/// assert!(!reps.contains(&[0.0; 3]));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lightcone {
    origin: [f64; 3],
    box_size: [f64; 3],
    r_max: f64,
}

impl Lightcone {
    /// An observer at `origin` (Mpc/h) in a periodic box of `box_size`, following the cone to
    /// comoving distance `r_max` (the farthest source).
    pub fn new(origin: [f64; 3], box_size: [f64; 3], r_max: f64) -> Self {
        Self {
            origin,
            box_size,
            r_max,
        }
    }

    /// For a lattice's box, observer at `origin`.
    pub fn for_lattice(lattice: &Lattice, origin: [f64; 3], r_max: f64) -> Self {
        Self::new(origin, lattice.box_size(), r_max)
    }

    /// The observer's position, Mpc/h.
    pub fn origin(&self) -> [f64; 3] {
        self.origin
    }

    /// The box, Mpc/h.
    pub fn box_size(&self) -> [f64; 3] {
        self.box_size
    }

    /// How far the cone is followed, Mpc/h.
    pub fn r_max(&self) -> f64 {
        self.r_max
    }

    /// Replica shifts `n L` (Mpc/h) whose copy of the bounding box `[lo, hi]` (unwrapped
    /// positions, Mpc/h) meets the shell `r_inner <= r <= min(r_outer, r_max)` around the
    /// observer, in a fixed order (x slowest).
    pub fn replicas(
        &self,
        lo: [f64; 3],
        hi: [f64; 3],
        r_inner: f64,
        r_outer: f64,
    ) -> Vec<[f64; 3]> {
        let r_outer = r_outer.min(self.r_max);
        let mut out = Vec::new();
        if r_outer < r_inner {
            return out;
        }
        let range = |a: usize| {
            let l = self.box_size[a];
            let first = ((self.origin[a] - r_outer - hi[a]) / l).floor() as i64;
            let last = ((self.origin[a] + r_outer - lo[a]) / l).ceil() as i64;
            first..=last
        };
        for nx in range(0) {
            for ny in range(1) {
                for nz in range(2) {
                    let shift = [
                        nx as f64 * self.box_size[0],
                        ny as f64 * self.box_size[1],
                        nz as f64 * self.box_size[2],
                    ];
                    if box_meets_shell(lo, hi, shift, self.origin, r_inner, r_outer) {
                        out.push(shift);
                    }
                }
            }
        }
        out
    }

    /// Whether a particle going from `y0` to `y1` (relative to the observer, Mpc/h) crosses
    /// the cone during a step in which it sweeps from `r0` to `r1 < r0`: `f0 < 0 <= f1`,
    /// with the crossing point (see [`crossing_point`]) at a distance `0 < r* <= r_max`.
    #[inline]
    pub fn crosses(&self, y0: [f64; 3], y1: [f64; 3], r0: f64, r1: f64) -> bool {
        let f0 = norm(y0) - r0;
        let f1 = norm(y1) - r1;
        if !(f0 < 0.0 && f1 >= 0.0) {
            return false;
        }
        let r = norm(crossing_point(&y0, &y1, r0, r1));
        r > 0.0 && r <= self.r_max
    }
}

/// Whether the box `[lo, hi]` moved by `shift` has a point at a distance between `r_inner`
/// and `r_outer` from `origin` (its nearest point no farther than `r_outer`, its farthest
/// corner no nearer than `r_inner`).
pub(crate) fn box_meets_shell(
    lo: [f64; 3],
    hi: [f64; 3],
    shift: [f64; 3],
    origin: [f64; 3],
    r_inner: f64,
    r_outer: f64,
) -> bool {
    let (mut near, mut far) = (0.0, 0.0);
    for a in 0..3 {
        let (b0, b1) = (lo[a] + shift[a] - origin[a], hi[a] + shift[a] - origin[a]);
        let n = if b0 > 0.0 {
            b0
        } else if b1 < 0.0 {
            -b1
        } else {
            0.0
        };
        let f = b0.abs().max(b1.abs());
        near += n * n;
        far += f * f;
    }
    near.sqrt() <= r_outer && far.sqrt() >= r_inner
}

/// The crossing point `y* = y0 + t* (y1 - y0)`, `t* = f0 / (f0 - f1)`,
/// `f_i = |y_i| - r_i`, for positions relative to the observer (generic so that duals
/// carry derivatives with respect to `y0` and `y1`; `r0`, `r1` are fixed by the step).
#[inline]
pub fn crossing_point<S: Scalar>(y0: &[S; 3], y1: &[S; 3], r0: f64, r1: f64) -> [S; 3] {
    let f0 = norm_s(y0) - r0;
    let f1 = norm_s(y1) - r1;
    let t = f0 / (f0 - f1);
    std::array::from_fn(|a| y0[a] + t * (y1[a] - y0[a]))
}

#[inline]
pub(crate) fn norm(y: [f64; 3]) -> f64 {
    (y[0] * y[0] + y[1] * y[1] + y[2] * y[2]).sqrt()
}

#[inline]
pub(crate) fn norm_s<S: Scalar>(y: &[S; 3]) -> S {
    (y[0] * y[0] + y[1] * y[1] + y[2] * y[2]).sqrt()
}
