//! [`SlabHalo`]: ghost x-planes around a rank's slab, for painting (add the ghosts into their
//! owners: [`SlabHalo::halo_add`]) and readout (copy the owners' planes into the ghosts:
//! [`SlabHalo::halo_fill`]).

use std::ops::Add;

use crate::DecompError;
use crate::comm::{Comm, CommExt};
use crate::data::CommData;
use crate::decomposition::Decomposition;
use crate::slab::SlabDecomposition;
use crate::transpose::{check_comm, check_len};

/// Ghost widths `(lo, hi)` for an assignment scheme touching `support` cells per axis with
/// grid points at integer mesh coordinates: `lo = (support - 1) / 2`,
/// `hi = (support + 1) / 2` (integer division). NGP (1) and CIC (2) give `(0, 1)`, TSC (3)
/// gives `(1, 2)`. See [`SlabHalo`] for the derivation.
///
/// A support of 0 (nothing painted) gives `(0, 0)`.
pub fn widths_for_support(support: usize) -> (usize, usize) {
    if support == 0 {
        return (0, 0);
    }
    ((support - 1) / 2, support.div_ceil(2))
}

/// Ghost x-planes around a rank's slab of a [`SlabDecomposition`]: `lo` below and `hi`
/// above the owned planes, periodic in x.
///
/// # Layout
///
/// On a [`SlabDecomposition`] rank `r` owns the x-planes `x_range(r) = [x0, x1)` of the real
/// `[nx][ny][nz]` mesh. A **padded** array adds `lo` ghost planes below and `hi` above:
/// `[lo + nx_l + hi][ny][nz]`, C order, where padded plane `p` is global plane
/// `(x0 - lo + p) mod nx` (periodic in x). Owned planes are `p in lo..lo + nx_l`.
///
/// A ghost plane may belong to any rank, the calling rank included: widths larger than a
/// neighbour's slab (1 plane per rank, or a halo of 3 on slabs of 2 or 3 planes) and widths
/// that wrap all the way around the box are fine. Planes are routed by their global index
/// through the decomposition's owner lookup, with one all-to-all-v per call.
///
/// # Widths from the assignment scheme
///
/// With grid points at integer mesh coordinates (pm-mesh's convention) a B-spline of support
/// `s` cells centred on a particle at mesh coordinate `u` touches the cells `j` with
/// `|u - j| < s/2`, i.e. `j = first, ..., first + s - 1` with `first = floor(u + 1 - s/2)`
/// (NGP `floor(u + 1/2)`, CIC `floor(u)`, TSC `floor(u - 1/2)`). A particle is owned by the
/// rank holding plane `c = floor(u)` ([`Decomposition::position_owner`],
/// [`crate::Migration`]), so its stencil reaches from `c - lo` to `c + hi` with
///
/// ```text
/// lo = floor((s - 1) / 2),   hi = floor((s + 1) / 2)
/// s even: first - c = 1 - s/2 always            -> lo = s/2 - 1,   hi = s/2
/// s odd:  first - c in {-(s-1)/2, -(s-1)/2 + 1} -> lo = (s-1)/2,   hi = (s+1)/2
/// ```
///
/// NGP (s = 1): 0 / 1, CIC (2): 0 / 1, TSC (3): 1 / 2, PCS (4): 1 / 2
/// ([`widths_for_support`]). These widths assume the particles were migrated with the same
/// positions the paint uses; add `ceil(d)` to both widths if particles may have moved up
/// to `d` cells since their last migration. (TSC would need only 1 / 1 if particles were
/// owned by their nearest grid point `round(u)`; here ownership is `floor(u)`, the plane
/// the particle lies in, shared by the decomposition and [`crate::Migration`].)
///
/// # Adjoints
///
/// [`SlabHalo::halo_add`] adds every ghost plane into the owner's plane and then **zeroes
/// the ghosts**; [`SlabHalo::halo_fill`] **overwrites** every ghost plane with a copy of the
/// owner's plane and leaves owned planes alone. As linear maps on the padded arrays of all
/// ranks (inner product: the sum over ranks of the local dot products) each is exactly the
/// adjoint of the other, so [`SlabHalo::halo_add_adjoint`] is `halo_fill` and
/// [`SlabHalo::halo_fill_adjoint`] is `halo_add`.
///
/// # Determinism
///
/// An owned plane receives its own value first, then the ghost contributions in the order
/// (source rank, padded plane index on the source), so the result is bitwise the same on
/// every run, whatever the timing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlabHalo {
    decomp: SlabDecomposition,
    lo: usize,
    hi: usize,
}

impl SlabHalo {
    /// A halo of `lo` ghost planes below and `hi` above the calling rank's slab.
    ///
    /// Any widths are accepted (also wider than a slab or than the box); returns
    /// [`DecompError::Shape`] only when the padded array's length overflows `usize`.
    pub fn new(decomp: SlabDecomposition, lo: usize, hi: usize) -> Result<Self, DecompError> {
        let [nx, ny, nz] = decomp.shape();
        let nxl = decomp.x_range(decomp.rank()).len();
        let fits = lo
            .checked_add(hi)
            .and_then(|w| w.checked_add(nxl))
            .and_then(|p| p.checked_mul(ny))
            .and_then(|p| p.checked_mul(nz))
            .and_then(|p| p.checked_add(nx))
            .is_some();
        if !fits {
            return Err(DecompError::Shape {
                shape: decomp.shape(),
                reason: "halo widths too large: the padded array length overflows",
            });
        }
        Ok(Self { decomp, lo, hi })
    }

    /// The halo for an assignment scheme touching `support` cells per axis
    /// ([`widths_for_support`]).
    pub fn for_support(decomp: SlabDecomposition, support: usize) -> Result<Self, DecompError> {
        let (lo, hi) = widths_for_support(support);
        Self::new(decomp, lo, hi)
    }

    /// The decomposition.
    pub fn decomposition(&self) -> &SlabDecomposition {
        &self.decomp
    }

    /// Ghost planes below the owned planes.
    pub fn lo(&self) -> usize {
        self.lo
    }

    /// Ghost planes above the owned planes.
    pub fn hi(&self) -> usize {
        self.hi
    }

    /// Elements of one x-plane, `ny * nz`.
    pub fn plane_len(&self) -> usize {
        let s = self.decomp.shape();
        s[1] * s[2]
    }

    /// Owned planes of this rank, `nx_l`.
    pub fn owned_planes(&self) -> usize {
        self.decomp.x_range(self.decomp.rank()).len()
    }

    /// Planes of the padded array, `lo + nx_l + hi`.
    pub fn padded_planes(&self) -> usize {
        self.lo + self.owned_planes() + self.hi
    }

    /// Elements of the padded array, `(lo + nx_l + hi) * ny * nz`.
    pub fn padded_len(&self) -> usize {
        self.padded_planes() * self.plane_len()
    }

    /// The owned elements inside a padded array: `lo * ny * nz .. (lo + nx_l) * ny * nz`.
    pub fn owned_elements(&self) -> std::ops::Range<usize> {
        let p = self.plane_len();
        self.lo * p..(self.lo + self.owned_planes()) * p
    }

    /// The global x-plane held by padded plane `p` of this rank: `(x0 - lo + p) mod nx`.
    pub fn global_plane(&self, p: usize) -> usize {
        self.global_plane_of(self.decomp.rank(), p)
    }

    /// A zeroed padded array around `owned` (this rank's `[nx_l][ny][nz]` slab);
    /// [`DecompError::BufferSize`] for a wrong length.
    pub fn pad<T: CommData + Default>(&self, owned: &[T]) -> Result<Vec<T>, DecompError> {
        let range = self.owned_elements();
        check_len("owned slab", owned.len(), range.len())?;
        let mut out = vec![T::default(); self.padded_len()];
        out[range].copy_from_slice(owned);
        Ok(out)
    }

    /// Adds every ghost plane into the plane of its owning rank, then zeroes the ghost
    /// planes (after painting with the stencils reaching into the ghosts). Collective.
    ///
    /// `padded` is this rank's `[lo + nx_l + hi][ny][nz]` array; `T::default()` must be zero
    /// (true for the floats and `Complex`). Additions happen in the order (source rank,
    /// padded plane on the source). The adjoint is [`SlabHalo::halo_fill`].
    pub fn halo_add<T>(
        &self,
        comm: &(impl Comm + ?Sized),
        padded: &mut [T],
    ) -> Result<(), DecompError>
    where
        T: CommData + Add<Output = T> + Default,
    {
        let me = self.decomp.rank();
        // This rank's ghosts go to their owners; the ghosts of `src` owned here arrive.
        self.exchange(
            comm,
            padded,
            |dest| self.links(me, dest).map(|(p, _)| p).collect(),
            |src| self.links(src, me).map(|(_, q)| q).collect(),
            |dst, run| {
                for (d, &v) in dst.iter_mut().zip(run) {
                    *d = *d + v;
                }
            },
        )?;
        let plane = self.plane_len();
        for (p, _) in self.ghosts_of(me) {
            padded[p * plane..(p + 1) * plane].fill(T::default());
        }
        Ok(())
    }

    /// Overwrites every ghost plane with a copy of the owner's plane (before readout);
    /// owned planes are unchanged. Collective. The adjoint is [`SlabHalo::halo_add`].
    pub fn halo_fill<T: CommData>(
        &self,
        comm: &(impl Comm + ?Sized),
        padded: &mut [T],
    ) -> Result<(), DecompError> {
        let me = self.decomp.rank();
        // The reverse of `halo_add`'s routing: owned planes go to the ghosts of `dest`.
        self.exchange(
            comm,
            padded,
            |dest| self.links(dest, me).map(|(_, q)| q).collect(),
            |src| self.links(me, src).map(|(p, _)| p).collect(),
            |dst, run| dst.copy_from_slice(run),
        )
    }

    /// The adjoint (VJP) of [`SlabHalo::halo_add`], which is [`SlabHalo::halo_fill`]:
    /// cotangents of the owned planes are copied back to the ghost planes that were added
    /// into them.
    pub fn halo_add_adjoint<T: CommData>(
        &self,
        comm: &(impl Comm + ?Sized),
        padded: &mut [T],
    ) -> Result<(), DecompError> {
        self.halo_fill(comm, padded)
    }

    /// The adjoint (VJP) of [`SlabHalo::halo_fill`], which is [`SlabHalo::halo_add`]:
    /// cotangents of the ghost planes are summed into their owners' planes and the ghosts
    /// zeroed (the filled ghosts did not depend on the old ghost values).
    pub fn halo_fill_adjoint<T>(
        &self,
        comm: &(impl Comm + ?Sized),
        padded: &mut [T],
    ) -> Result<(), DecompError>
    where
        T: CommData + Add<Output = T> + Default,
    {
        self.halo_add(comm, padded)
    }

    /// Checks the communicator and the padded length.
    fn check(&self, comm: &(impl Comm + ?Sized), len: usize) -> Result<(), DecompError> {
        check_comm(&self.decomp, comm)?;
        check_len("padded slab", len, self.padded_len())
    }

    /// The global plane of padded plane `p` of rank `r`.
    fn global_plane_of(&self, r: usize, p: usize) -> usize {
        let nx = self.decomp.shape()[0];
        let x0 = self.decomp.x_range(r).start;
        (x0 + p + (nx - self.lo % nx)) % nx
    }

    /// The ghost planes of rank `r` in padded order: `(padded index, global plane)`.
    fn ghosts_of(&self, r: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let nxl = self.decomp.x_range(r).len();
        (0..self.lo)
            .chain(self.lo + nxl..self.lo + nxl + self.hi)
            .map(move |p| (p, self.global_plane_of(r, p)))
    }

    /// The ghost planes of rank `ghost` owned by rank `owner`, in `ghost`'s padded order:
    /// `(padded plane on ghost, padded plane on owner)`. Both ranks compute the same list.
    fn links(&self, ghost: usize, owner: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let x0 = self.decomp.x_range(owner).start;
        self.ghosts_of(ghost)
            .filter(move |&(_, g)| self.owner(g) == owner)
            .map(move |(p, g)| (p, self.lo + g - x0))
    }

    /// One all-to-all of whole planes: rank `dest` gets this rank's padded planes
    /// `send_planes(dest)` in that order, and the planes arriving from `src` are combined
    /// into the padded planes `recv_planes(src)` with `combine(plane, received)`, sources in
    /// rank order.
    fn exchange<T: CommData>(
        &self,
        comm: &(impl Comm + ?Sized),
        padded: &mut [T],
        send_planes: impl Fn(usize) -> Vec<usize>,
        recv_planes: impl Fn(usize) -> Vec<usize>,
        combine: impl Fn(&mut [T], &[T]),
    ) -> Result<(), DecompError> {
        self.check(comm, padded.len())?;
        let (size, plane) = (self.decomp.size(), self.plane_len());
        let send: Vec<Vec<T>> = (0..size)
            .map(|dest| {
                let mut v = Vec::new();
                for p in send_planes(dest) {
                    v.extend_from_slice(&padded[p * plane..(p + 1) * plane]);
                }
                v
            })
            .collect();
        let recv = comm.all_to_all_v(&send)?;
        drop(send);
        for (src, part) in recv.iter().enumerate() {
            let targets = recv_planes(src);
            if part.len() != targets.len() * plane {
                return Err(DecompError::Collective(format!(
                    "halo message from rank {src} has {} elements, expected {}; do all ranks \
                     use the same shape, decomposition and widths?",
                    part.len(),
                    targets.len() * plane
                )));
            }
            for (p, run) in targets.into_iter().zip(part.chunks_exact(plane)) {
                combine(&mut padded[p * plane..(p + 1) * plane], run);
            }
        }
        Ok(())
    }

    /// The owner of global plane `g < nx`.
    fn owner(&self, g: usize) -> usize {
        // `g < nx` by construction of `global_plane_of`, so the fallback is never taken.
        self.decomp.x_owner(g).unwrap_or(0)
    }
}
