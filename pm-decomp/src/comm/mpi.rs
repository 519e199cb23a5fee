//! [`MpiComm`]: ranks are MPI processes (feature `mpi`, through the `mpi` crate).
//!
//! Byte messages go through MPI as `u8` buffers; MPI counts and displacements are `i32`,
//! so one call can carry at most `i32::MAX` bytes into (or out of) one rank
//! ([`DecompError::MessageTooLarge`]). Before every variable-size collective the ranks
//! exchange their byte counts as `u64` and agree on whether the call fits, so a rank that
//! cannot proceed makes every rank return an error instead of leaving the others waiting.
//!
//! Reductions use the same gather-then-combine-in-rank-order scheme as the other
//! communicators ([`crate::CommExt::all_reduce_with`]), not `MPI_Allreduce`, whose
//! summation order is unspecified; results are bitwise equal on every rank and every run.

use mpi::Count;
use mpi::datatype::{Partition, PartitionMut};
use mpi::environment::Universe;
use mpi::topology::{Color, SimpleCommunicator};
use mpi::traits::*;

use super::{Comm, Parts, check_counts, check_rank};
use crate::DecompError;

/// A communicator over MPI processes.
///
/// ```no_run
/// use pm_decomp::{Comm, CommExt, MpiComm};
/// let universe = pm_decomp::mpi::initialize().expect("MPI initialised once");
/// let comm = MpiComm::world(&universe);
/// let total = comm.sum_f64(comm.rank() as f64).unwrap();
/// ```
///
/// Keep the `Universe` alive as long as any `MpiComm`: dropping it finalises MPI.
pub struct MpiComm {
    comm: SimpleCommunicator,
}

impl std::fmt::Debug for MpiComm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiComm")
            .field("rank", &self.comm.rank())
            .field("size", &self.comm.size())
            .finish()
    }
}

/// The largest byte count one MPI call carries.
const LIMIT: usize = i32::MAX as usize;

fn count(bytes: usize) -> Result<Count, DecompError> {
    Count::try_from(bytes).map_err(|_| DecompError::MessageTooLarge {
        bytes,
        limit: LIMIT,
    })
}

/// A receive buffer of `n` bytes that is never an empty `Vec`: an empty `Vec<u8>` has the
/// dangling address `0x1`, which Open MPI reads as `MPI_IN_PLACE`. Use `&mut buf[..n]`.
fn recv_buffer(n: usize) -> Vec<u8> {
    vec![0; n.max(1)]
}

/// `s`, or an empty slice with a real address when `s` is empty (see [`recv_buffer`]).
fn send_buffer<'a>(s: &'a [u8], dummy: &'a [u8; 1]) -> &'a [u8] {
    if s.is_empty() { &dummy[..0] } else { s }
}

/// Prefix sums of `counts` as MPI displacements.
fn displs(counts: &[Count]) -> Vec<Count> {
    let mut d = Vec::with_capacity(counts.len());
    let mut acc: Count = 0;
    for &c in counts {
        d.push(acc);
        acc = acc.saturating_add(c);
    }
    d
}

impl MpiComm {
    /// The world communicator of an initialised MPI universe.
    pub fn world(universe: &Universe) -> Self {
        Self {
            comm: universe.world(),
        }
    }

    /// Wraps an existing MPI communicator.
    pub fn from_communicator(comm: SimpleCommunicator) -> Self {
        Self { comm }
    }

    /// The underlying MPI communicator.
    pub fn communicator(&self) -> &SimpleCommunicator {
        &self.comm
    }

    /// Whether every rank passed `ok == true` (collective).
    fn agree(&self, ok: bool) -> bool {
        let mine = u8::from(ok);
        let mut all = vec![0u8; self.size()];
        self.comm.all_gather_into(&mine, &mut all[..]);
        all.iter().all(|&v| v == 1)
    }

    fn process(&self, r: usize) -> Result<mpi::topology::Process<'_>, DecompError> {
        check_rank(r, self.size())?;
        Ok(self.comm.process_at_rank(count(r)?))
    }
}

impl Comm for MpiComm {
    fn rank(&self) -> usize {
        self.comm.rank() as usize
    }

    fn size(&self) -> usize {
        self.comm.size() as usize
    }

    fn kind(&self) -> &'static str {
        "mpi"
    }

    fn barrier(&self) -> Result<(), DecompError> {
        self.comm.barrier();
        Ok(())
    }

    fn all_gather_bytes(&self, send: &[u8]) -> Result<Parts, DecompError> {
        let mine = send.len() as u64;
        let mut lens = vec![0u64; self.size()];
        self.comm.all_gather_into(&mine, &mut lens[..]);
        // Every rank sees the same lengths, so every rank takes the same branch.
        let total: u64 = lens.iter().sum();
        if total > LIMIT as u64 {
            return Err(DecompError::MessageTooLarge {
                bytes: total as usize,
                limit: LIMIT,
            });
        }
        let counts: Vec<Count> = lens.iter().map(|&l| l as Count).collect();
        let displs = displs(&counts);
        let total = total as usize;
        let mut recv = recv_buffer(total);
        let dummy = [0u8; 1];
        {
            let mut part = PartitionMut::new(&mut recv[..total], &counts[..], &displs[..]);
            self.comm
                .all_gather_varcount_into(send_buffer(send, &dummy), &mut part);
        }
        recv.truncate(total);
        let counts: Vec<usize> = lens.iter().map(|&l| l as usize).collect();
        Parts::new(recv, &counts)
    }

    fn all_to_all_v_bytes(&self, send: &[u8], send_counts: &[usize]) -> Result<Parts, DecompError> {
        let size = self.size();
        let local = check_counts(send, send_counts, size);
        let sc: Vec<u64> = match local {
            Ok(()) => send_counts.iter().map(|&c| c as u64).collect(),
            Err(_) => vec![0; size],
        };
        let mut rc = vec![0u64; size];
        self.comm.all_to_all_into(&sc[..], &mut rc[..]);
        let recv_total: u64 = rc.iter().sum();
        let fits = send.len() <= LIMIT && recv_total <= LIMIT as u64;
        if !self.agree(local.is_ok() && fits) {
            local?;
            if !fits {
                return Err(DecompError::MessageTooLarge {
                    bytes: send.len().max(recv_total as usize),
                    limit: LIMIT,
                });
            }
            return Err(DecompError::Collective(
                "all_to_all_v: another rank's call was rejected".into(),
            ));
        }
        let sc: Vec<Count> = sc.iter().map(|&c| c as Count).collect();
        let rcc: Vec<Count> = rc.iter().map(|&c| c as Count).collect();
        let (sd, rd) = (displs(&sc), displs(&rcc));
        let total = recv_total as usize;
        let mut recv = recv_buffer(total);
        let dummy = [0u8; 1];
        {
            let sp = Partition::new(send_buffer(send, &dummy), &sc[..], &sd[..]);
            let mut rp = PartitionMut::new(&mut recv[..total], &rcc[..], &rd[..]);
            self.comm.all_to_all_varcount_into(&sp, &mut rp);
        }
        recv.truncate(total);
        let counts: Vec<usize> = rc.iter().map(|&c| c as usize).collect();
        Parts::new(recv, &counts)
    }

    fn broadcast_bytes(&self, root: usize, data: &mut Vec<u8>) -> Result<(), DecompError> {
        let root = self.process(root)?;
        let mut n = data.len() as u64;
        root.broadcast_into(&mut n);
        if n > LIMIT as u64 {
            return Err(DecompError::MessageTooLarge {
                bytes: n as usize,
                limit: LIMIT,
            });
        }
        if n > 0 {
            data.resize(n as usize, 0);
            root.broadcast_into(&mut data[..]);
        } else {
            data.clear();
        }
        Ok(())
    }

    fn send_recv_bytes(
        &self,
        send: &[u8],
        dest: usize,
        source: usize,
        tag: u16,
    ) -> Result<Vec<u8>, DecompError> {
        let (d, s) = (self.process(dest)?, self.process(source)?);
        count(send.len())?;
        let tag = i32::from(tag);
        let mine = send.len() as u64;
        let mut theirs = 0u64;
        mpi::point_to_point::send_receive_into_with_tags(&mine, &d, tag, &mut theirs, &s, tag);
        let n = theirs as usize;
        let mut recv = recv_buffer(n);
        let dummy = [0u8; 1];
        mpi::point_to_point::send_receive_into_with_tags(
            send_buffer(send, &dummy),
            &d,
            tag,
            &mut recv[..n],
            &s,
            tag,
        );
        recv.truncate(n);
        Ok(recv)
    }

    fn split(&self, color: usize, key: usize) -> Result<Box<dyn Comm>, DecompError> {
        let c = count(color)
            .map_err(|_| DecompError::Collective(format!("split: color {color} exceeds i32")))?;
        let k = count(key)
            .map_err(|_| DecompError::Collective(format!("split: key {key} exceeds i32")))?;
        let sub = self
            .comm
            .split_by_color_with_key(Color::with_value(c), k)
            .ok_or_else(|| DecompError::Collective("split returned no communicator".into()))?;
        Ok(Box::new(MpiComm { comm: sub }))
    }
}
