//! [`Migration`]: moving particles to the rank that owns their position (after a drift), and
//! back (the adjoint).

use crate::DecompError;
use crate::comm::{Comm, CommExt, check_rank};
use crate::data::CommData;
use crate::decomposition::{Decomposition, cell_of};
use crate::slab::SlabDecomposition;
use crate::transpose::{check_comm, check_comm_is, check_len};

/// The routing of one particle migration: which local particle goes to which rank, and how
/// many arrive from each rank.
///
/// A [`Migration`] is computed once from the particles' destinations (on a
/// [`SlabDecomposition`]: from their x-coordinates, [`Migration::for_slab_x`]) and then
/// applied to every per-particle array with [`Migration::forward`] (displacements, momenta,
/// ids, ...), so all arrays move consistently. [`Migration::reverse`] sends arrays shaped
/// like the received particles back to where they came from, in their original order.
///
/// # Order
///
/// Particles leave in the order (destination rank, original index) and arrive in the order
/// (source rank, original index on the source): the same on every run and every
/// communicator. Particles staying on their rank keep their relative order and come after
/// those of lower-numbered ranks.
///
/// # Adjoint
///
/// The forward map is a permutation of the particles of all ranks, so its adjoint (with the
/// inner product summed over ranks) is its inverse: `forward^T = reverse`. Cotangents of
/// the migrated arrays travel back with `reverse`, exactly (no arithmetic).
///
/// # Memory
///
/// Each call packs the payload per destination (one copy of the array), sends only what
/// leaves the rank (the part that stays is moved into place, not through the
/// communicator) and joins the parts into the result; the record itself holds one `usize`
/// per particle (the send order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migration {
    rank: usize,
    size: usize,
    /// Local indices in send order: grouped by destination, ascending within a group.
    order: Vec<usize>,
    /// Particles sent to each rank.
    send_counts: Vec<usize>,
    /// Particles received from each rank.
    recv_counts: Vec<usize>,
}

impl Migration {
    /// The migration of particles with x-coordinates `x` (Mpc/h, any finite value: wrapped
    /// periodically into the box of side `box_size`) to the ranks owning their x-plane on a
    /// slab decomposition. Collective.
    ///
    /// The particle's mesh coordinate is `u = x / (box_size / nx)` (the formula of
    /// pm-mesh's paint) and its owner the rank holding plane `floor(u) mod nx`; a
    /// coordinate that rounds to exactly `box_size` or a tiny negative one wraps to plane
    /// 0 or `nx - 1` as the paint sees it.
    ///
    /// Errors: [`DecompError::CommMismatch`] when `comm` is not the decomposition's
    /// communicator, [`DecompError::Position`] for a non-finite coordinate or a box size
    /// that is not finite and positive.
    pub fn for_slab_x<X: Copy + Into<f64>>(
        comm: &(impl Comm + ?Sized),
        decomp: &SlabDecomposition,
        box_size: f64,
        x: &[X],
    ) -> Result<Self, DecompError> {
        check_comm(decomp, comm)?;
        if !(box_size.is_finite() && box_size > 0.0) {
            return Err(DecompError::Position {
                what: "box size",
                value: format!("{box_size}"),
                reason: "must be finite and positive",
            });
        }
        let nx = decomp.shape()[0];
        let cell = box_size / nx as f64;
        let owners = x
            .iter()
            .map(|&xi| {
                let plane = cell_of(xi.into() / cell, nx)?;
                // `plane < nx`, so the fallback is never taken.
                Ok(decomp.x_owner(plane).unwrap_or(0))
            })
            .collect::<Result<Vec<_>, DecompError>>();
        // Every rank must take part in the count exchange, even one with a bad position, or
        // the others would wait forever: agree on failure first.
        let failed = comm.sum_u64(u64::from(owners.is_err()))?;
        match owners {
            Err(e) => Err(e),
            Ok(_) if failed > 0 => Err(DecompError::Collective(format!(
                "{failed} rank(s) passed invalid particle positions"
            ))),
            Ok(owners) => Self::from_owners(comm, &owners),
        }
    }

    /// The migration sending local particle `i` to rank `owners[i]`. Collective.
    ///
    /// Errors: [`DecompError::RankOutOfRange`] for an owner `>= comm.size()` (reported on
    /// every rank as [`DecompError::Collective`] when another rank passed it).
    pub fn from_owners(comm: &(impl Comm + ?Sized), owners: &[usize]) -> Result<Self, DecompError> {
        let size = comm.size();
        let bad = owners.iter().find(|&&o| o >= size).copied();
        let failed = comm.sum_u64(u64::from(bad.is_some()))?;
        if let Some(rank) = bad {
            check_rank(rank, size)?;
        }
        if failed > 0 {
            return Err(DecompError::Collective(format!(
                "{failed} rank(s) passed particle owners out of range"
            )));
        }
        // Stable counting sort by destination.
        let mut send_counts = vec![0usize; size];
        for &o in owners {
            send_counts[o] += 1;
        }
        let mut next: Vec<usize> = send_counts
            .iter()
            .scan(0usize, |acc, &c| {
                let start = *acc;
                *acc += c;
                Some(start)
            })
            .collect();
        let mut order = vec![0usize; owners.len()];
        for (i, &o) in owners.iter().enumerate() {
            order[next[o]] = i;
            next[o] += 1;
        }
        let counts: Vec<Vec<u64>> = send_counts.iter().map(|&c| vec![c as u64]).collect();
        let recv_counts = comm
            .all_to_all_v(&counts)?
            .into_iter()
            .enumerate()
            .map(|(src, v)| match v.as_slice() {
                [c] => Ok(*c as usize),
                _ => Err(DecompError::Collective(format!(
                    "migration count message from rank {src} has {} entries, expected 1",
                    v.len()
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            rank: comm.rank(),
            size,
            order,
            send_counts,
            recv_counts,
        })
    }

    /// Particles on this rank before the migration.
    pub fn len_before(&self) -> usize {
        self.order.len()
    }

    /// Particles on this rank after the migration.
    pub fn len_after(&self) -> usize {
        self.recv_counts.iter().sum()
    }

    /// Particles this rank sends to each rank (its own count included).
    pub fn send_counts(&self) -> &[usize] {
        &self.send_counts
    }

    /// Particles this rank receives from each rank (its own count included).
    pub fn recv_counts(&self) -> &[usize] {
        &self.recv_counts
    }

    /// Local indices (before the migration) in the order they leave: grouped by
    /// destination rank, ascending within each group.
    pub fn send_order(&self) -> &[usize] {
        &self.order
    }

    /// Moves one per-particle array (`len_before()` elements, any [`CommData`] row such as
    /// `[f32; 3]` or `u64`) to the particles' new ranks; returns `len_after()` elements in
    /// the order (source rank, original index). Collective.
    pub fn forward<T: CommData>(
        &self,
        comm: &(impl Comm + ?Sized),
        data: &[T],
    ) -> Result<Vec<T>, DecompError> {
        check_len("migration payload", data.len(), self.len_before())?;
        let mut it = self.order.iter();
        let send: Vec<Vec<T>> = self
            .send_counts
            .iter()
            .map(|&c| it.by_ref().take(c).map(|&i| data[i]).collect())
            .collect();
        self.exchange(comm, send, &self.recv_counts)
    }

    /// Sends an array shaped like the received particles (`len_after()` elements, in arrival
    /// order) back to the ranks they came from, restoring the original order: the inverse
    /// and the adjoint (VJP) of [`Migration::forward`]. Returns `len_before()` elements.
    /// Collective.
    pub fn reverse<T: CommData>(
        &self,
        comm: &(impl Comm + ?Sized),
        data: &[T],
    ) -> Result<Vec<T>, DecompError> {
        check_len("reverse migration payload", data.len(), self.len_after())?;
        let mut rest = data;
        let send = self
            .recv_counts
            .iter()
            .map(|&c| {
                let (part, tail) = rest.split_at(c);
                rest = tail;
                part.to_vec()
            })
            .collect();
        let flat = self.exchange(comm, send, &self.send_counts)?;
        // `order[k]` is the original index of the `k`-th particle sent; invert it.
        let mut slot = vec![0usize; self.order.len()];
        for (k, &i) in self.order.iter().enumerate() {
            slot[i] = k;
        }
        Ok(slot.into_iter().map(|k| flat[k]).collect())
    }

    /// The adjoint (VJP) of [`Migration::forward`]: [`Migration::reverse`].
    pub fn forward_adjoint<T: CommData>(
        &self,
        comm: &(impl Comm + ?Sized),
        cotangent: &[T],
    ) -> Result<Vec<T>, DecompError> {
        self.reverse(comm, cotangent)
    }

    /// Sends `send[d]` to rank `d` and returns what each rank sent here, concatenated in
    /// rank order, checking the communicator and that `expect[s]` elements arrived from each
    /// rank `s`. The part a rank keeps (`send[rank]`, most particles in a step) does not go
    /// through the communicator: it is moved into place.
    fn exchange<T: CommData>(
        &self,
        comm: &(impl Comm + ?Sized),
        mut send: Vec<Vec<T>>,
        expect: &[usize],
    ) -> Result<Vec<T>, DecompError> {
        check_comm_is(self.size, self.rank, comm)?;
        let own = std::mem::take(&mut send[self.rank]);
        let mut recv = comm.all_to_all_v(&send)?;
        drop(send);
        recv[self.rank] = own;
        for (src, (p, &c)) in recv.iter().zip(expect).enumerate() {
            if p.len() != c {
                return Err(DecompError::Collective(format!(
                    "migration message from rank {src} has {} particles, expected {c}; did \
                     every rank pass arrays of its own particle count?",
                    p.len()
                )));
            }
        }
        Ok(recv.concat())
    }
}
