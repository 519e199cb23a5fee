//! [`Planes`]: where the global x-planes of a mesh sit in the array that is painted or read.
//!
//! Paint, readout and their VJPs are written once over this map. A whole periodic mesh
//! ([`Whole`]: row `g` is plane `g`, the last row followed by row 0) is the one-rank case of
//! a rank's padded x-slab ([`Padded`]: rows `0..lo + nx_l + hi` holding the global planes
//! `(x0 - lo + p) mod nx`, not periodic), see [`crate::MeshBlock`].

use pm_fft::Real;
use rayon::prelude::*;

use crate::stencil::{Coords, Stencil, check_len, with_support};
use crate::{Mesh, MeshError, Positions, Scheme};

/// Marks a global x-plane that has no row in the array.
pub(crate) const ABSENT: usize = usize::MAX;

/// How the global x-planes of a mesh map to the rows of an array `[rows][ny][nz]`.
pub(crate) trait Planes: Sync {
    /// Whether the rows wrap around (the whole periodic mesh): a stencil may then run from
    /// the last row into row 0.
    const PERIODIC: bool;

    /// The global mesh.
    fn mesh(&self) -> &Mesh;

    /// Rows of the array.
    fn rows(&self) -> usize;

    /// The row holding global plane `g` (`g < nx`), or [`ABSENT`].
    fn row(&self, g: usize) -> usize;

    /// Maps the stencil's x-indices (global planes) to rows. A stencil that reaches an
    /// absent plane must have been rejected before (it maps to row 0 rather than panic).
    #[inline(always)]
    fn map<const S: usize>(&self, st: &mut Stencil<S>) {
        if !Self::PERIODIC {
            for g in &mut st.idx[0] {
                let r = self.row(*g);
                *g = if r == ABSENT { 0 } else { r };
            }
        }
    }

    /// The stencil of particle `i` with its x-indices mapped to rows.
    #[inline(always)]
    fn stencil<T: Real, const S: usize>(&self, coords: &Coords<'_, T>, i: usize) -> Stencil<S> {
        let mut st = coords.stencil::<S>(i);
        self.map(&mut st);
        st
    }

    /// Whether the rows a stencil covers are consecutive (`row(first) + k` for its `k`-th
    /// plane), as the chunked parallel paint needs: always for the periodic mesh; for a
    /// padded slab when it holds each global plane at most once (its rows then follow the
    /// global planes without wrapping inside a stencil).
    fn consecutive(&self) -> bool;

    /// Checks that every particle's stencil (scheme `scheme`) lies in the rows: always true
    /// on the periodic mesh; on a padded slab the first particle that reaches outside is
    /// [`MeshError::OutsideSlab`].
    fn check<T: Real>(&self, coords: &Coords<'_, T>, scheme: Scheme) -> Result<(), MeshError>;
}

/// The whole periodic mesh: row `g` is plane `g`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Whole {
    /// The mesh.
    pub mesh: Mesh,
}

impl Planes for Whole {
    const PERIODIC: bool = true;

    fn mesh(&self) -> &Mesh {
        &self.mesh
    }

    #[inline(always)]
    fn rows(&self) -> usize {
        self.mesh.shape()[0]
    }

    #[inline(always)]
    fn row(&self, g: usize) -> usize {
        g
    }

    fn consecutive(&self) -> bool {
        true
    }

    fn check<T: Real>(&self, _: &Coords<'_, T>, _: Scheme) -> Result<(), MeshError> {
        Ok(())
    }
}

/// A rank's padded x-slab: `rows[g]` is the row of global plane `g` (the first one when the
/// slab holds a plane twice, which happens only for halos wider than the box), [`ABSENT`]
/// for planes outside it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Padded<'a> {
    /// The global mesh.
    pub mesh: Mesh,
    /// Row of each global plane.
    pub rows: &'a [usize],
    /// Rows of the padded array, `lo + nx_l + hi`.
    pub count: usize,
    /// The global plane of row 0 (for error messages).
    pub first: usize,
}

impl Planes for Padded<'_> {
    const PERIODIC: bool = false;

    fn mesh(&self) -> &Mesh {
        &self.mesh
    }

    #[inline(always)]
    fn rows(&self) -> usize {
        self.count
    }

    #[inline(always)]
    fn row(&self, g: usize) -> usize {
        self.rows[g]
    }

    fn consecutive(&self) -> bool {
        self.count <= self.rows.len()
    }

    fn check<T: Real>(&self, coords: &Coords<'_, T>, scheme: Scheme) -> Result<(), MeshError> {
        let outside = with_support!(scheme, S => {
            (0..coords.len()).into_par_iter().find_map_first(|i| {
                let st = coords.stencil::<S>(i);
                st.idx[0]
                    .iter()
                    .find(|&&g| self.rows[g] == ABSENT)
                    .map(|&g| (i, g))
            })
        });
        match outside {
            None => Ok(()),
            Some((index, plane)) => Err(MeshError::OutsideSlab {
                index,
                plane,
                first: self.first,
                planes: self.count,
            }),
        }
    }
}

/// Checks `positions` against the mesh of `planes` and the lengths of the arrays on the
/// rows (`(what, len)`), and precomputes the particles' coordinates (unshifted); on a padded
/// slab every stencil must lie inside it.
pub(crate) fn coords_on<'a, T: Real, P: Planes>(
    positions: &Positions<'a, T>,
    planes: &P,
    scheme: Scheme,
    arrays: &[(&'static str, usize)],
) -> Result<Coords<'a, T>, MeshError> {
    let mesh = planes.mesh();
    positions.validate(mesh)?;
    let [_, ny, nz] = mesh.shape();
    for &(what, len) in arrays {
        check_len(what, planes.rows() * ny * nz, Some(len))?;
    }
    let coords = Coords::new(positions, mesh, 0.0);
    planes.check(&coords, scheme)?;
    Ok(coords)
}
