//! [`ThreadComm`]: many ranks as threads of one process, for tests and for a laptop.
//!
//! The ranks share a mailbox: a map from `(communicator, source, destination, tag)` to a FIFO
//! queue of byte messages, behind one mutex and condition variable. Sending never blocks
//! (the message is queued); receiving waits until the queue it reads from has a message.
//! Collectives are built from these messages under a reserved tag, which is correct because
//! every rank makes the same sequence of collective calls and each queue is FIFO. Results
//! never depend on scheduling: every receive names its source, and reductions combine in rank
//! order (see [`crate::CommExt::all_reduce_with`]).
//!
//! A rank that returns from its closure is marked as exited and one that panics aborts the
//! communicator, so ranks still waiting get [`DecompError::PeerExited`] or
//! [`DecompError::Aborted`] instead of hanging.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::{Comm, Parts, check_counts, check_rank};
use crate::DecompError;
use crate::comm::CommExt;

/// Message tag: a user tag of `send_recv`, or the one reserved for collectives.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
enum Tag {
    User(u16),
    Collective,
}

/// Queue key: communicator context, global source rank, global destination rank, tag.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
struct Key {
    ctx: u64,
    src: usize,
    dst: usize,
    tag: Tag,
}

#[derive(Debug, Default)]
struct State {
    queues: HashMap<Key, VecDeque<Vec<u8>>>,
    /// By global rank: the rank's closure has returned or panicked.
    exited: Vec<bool>,
    /// The global rank that panicked first, if any (aborts every wait).
    panicked: Option<usize>,
    /// Context of each sub-communicator: `(parent context, split number, color)`.
    contexts: HashMap<(u64, u64, usize), u64>,
    next_context: u64,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    cond: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock, so poisoning cannot leave the map
        // inconsistent; keep going with the data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Marks its rank as exited when dropped (on return or on unwinding).
struct ExitGuard {
    shared: Arc<Shared>,
    rank: usize,
}

impl Drop for ExitGuard {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        if let Some(e) = st.exited.get_mut(self.rank) {
            *e = true;
        }
        if std::thread::panicking() && st.panicked.is_none() {
            st.panicked = Some(self.rank);
        }
        drop(st);
        self.shared.cond.notify_all();
    }
}

/// One rank of a group of threads that communicate through a shared in-process mailbox.
///
/// Create the ranks with [`ThreadComm::run`], which runs a closure on `n` scoped threads,
/// one per rank, and returns the closure's results in rank order:
///
/// ```
/// use pm_decomp::{Comm, CommExt, ThreadComm};
/// let sums = ThreadComm::run(3, |comm| comm.sum_f64(comm.rank() as f64)).unwrap();
/// assert_eq!(sums, vec![Ok(3.0); 3]);
/// ```
///
/// `ThreadComm` is `Send + Sync`, but a rank's communicator should be used by one thread at
/// a time: collectives from two threads of the same rank would interleave their messages.
#[derive(Debug)]
pub struct ThreadComm {
    shared: Arc<Shared>,
    /// Communicator context (0 for the world of `run`).
    ctx: u64,
    /// Global rank of each member, indexed by rank in this communicator.
    group: Arc<[usize]>,
    rank: usize,
    /// Number of `split` calls made on this communicator (the same on every member).
    splits: AtomicU64,
}

impl ThreadComm {
    /// Runs `f` on `n` ranks, each a scoped thread with its own `ThreadComm`, and returns
    /// the `n` results in rank order.
    ///
    /// Returns [`DecompError::RankCount`] for `n == 0` or when a thread cannot be spawned.
    /// If a rank panics, the other ranks' pending and later communication fails with
    /// [`DecompError::Aborted`], and once every thread has finished the first panic is
    /// resumed on the caller's thread.
    pub fn run<R, F>(n: usize, f: F) -> Result<Vec<R>, DecompError>
    where
        R: Send,
        F: Fn(&ThreadComm) -> R + Sync,
    {
        if n == 0 {
            return Err(DecompError::RankCount {
                size: 0,
                reason: "a communicator needs at least one rank".into(),
            });
        }
        let shared = Arc::new(Shared::default());
        {
            let mut st = shared.lock();
            st.exited = vec![false; n];
            st.next_context = 1;
        }
        let group: Arc<[usize]> = (0..n).collect();
        let f = &f;
        std::thread::scope(|s| {
            let mut handles = Vec::with_capacity(n);
            let mut spawn_error = None;
            for r in 0..n {
                let comm = ThreadComm {
                    shared: Arc::clone(&shared),
                    ctx: 0,
                    group: Arc::clone(&group),
                    rank: r,
                    splits: AtomicU64::new(0),
                };
                let guard = ExitGuard {
                    shared: Arc::clone(&shared),
                    rank: r,
                };
                let spawned = std::thread::Builder::new()
                    .name(format!("pm-decomp-rank-{r}"))
                    .spawn_scoped(s, move || {
                        let _guard = guard;
                        f(&comm)
                    });
                match spawned {
                    Ok(h) => handles.push(h),
                    Err(e) => {
                        // The ranks not started count as exited (their guards were dropped
                        // with the closure): the running ones fail instead of waiting.
                        spawn_error = Some(DecompError::RankCount {
                            size: n,
                            reason: format!("could not spawn the thread of rank {r}: {e}"),
                        });
                        let mut st = shared.lock();
                        st.exited.iter_mut().skip(r).for_each(|e| *e = true);
                        drop(st);
                        shared.cond.notify_all();
                        break;
                    }
                }
            }
            let joined: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
            let first = shared.lock().panicked;
            let mut results = Vec::with_capacity(n);
            let mut payloads: Vec<_> = Vec::new();
            for (r, j) in joined.into_iter().enumerate() {
                match j {
                    Ok(v) => results.push(v),
                    Err(p) => payloads.push((r, p)),
                }
            }
            if !payloads.is_empty() {
                let i = payloads
                    .iter()
                    .position(|(r, _)| Some(*r) == first)
                    .unwrap_or(0);
                std::panic::resume_unwind(payloads.swap_remove(i).1);
            }
            match spawn_error {
                Some(e) => Err(e),
                None => Ok(results),
            }
        })
    }

    fn key(&self, src: usize, dst: usize, tag: Tag) -> Key {
        Key {
            ctx: self.ctx,
            src: self.group[src],
            dst: self.group[dst],
            tag,
        }
    }

    /// Queues `msg` for rank `dst` of this communicator.
    fn send(&self, dst: usize, tag: Tag, msg: Vec<u8>) -> Result<(), DecompError> {
        let key = self.key(self.rank, dst, tag);
        let mut st = self.shared.lock();
        if st.panicked.is_some() {
            return Err(DecompError::Aborted);
        }
        st.queues.entry(key).or_default().push_back(msg);
        drop(st);
        self.shared.cond.notify_all();
        Ok(())
    }

    /// Waits for the next message from rank `src` of this communicator.
    fn recv(&self, src: usize, tag: Tag) -> Result<Vec<u8>, DecompError> {
        let key = self.key(src, self.rank, tag);
        let mut st = self.shared.lock();
        loop {
            if st.panicked.is_some() {
                return Err(DecompError::Aborted);
            }
            if let Some(q) = st.queues.get_mut(&key)
                && let Some(m) = q.pop_front()
            {
                if q.is_empty() {
                    st.queues.remove(&key);
                }
                return Ok(m);
            }
            if st.exited.get(key.src).copied().unwrap_or(true) {
                return Err(DecompError::PeerExited { rank: src });
            }
            st = self.shared.cond.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Comm for ThreadComm {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.group.len()
    }

    fn kind(&self) -> &'static str {
        "threads"
    }

    fn barrier(&self) -> Result<(), DecompError> {
        for d in (0..self.size()).filter(|&d| d != self.rank) {
            self.send(d, Tag::Collective, Vec::new())?;
        }
        for s in (0..self.size()).filter(|&s| s != self.rank) {
            self.recv(s, Tag::Collective)?;
        }
        Ok(())
    }

    fn all_gather_bytes(&self, send: &[u8]) -> Result<Parts, DecompError> {
        for d in (0..self.size()).filter(|&d| d != self.rank) {
            self.send(d, Tag::Collective, send.to_vec())?;
        }
        let parts = (0..self.size())
            .map(|s| {
                if s == self.rank {
                    Ok(send.to_vec())
                } else {
                    self.recv(s, Tag::Collective)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Parts::from_vecs(parts))
    }

    fn all_to_all_v_bytes(&self, send: &[u8], send_counts: &[usize]) -> Result<Parts, DecompError> {
        check_counts(send, send_counts, self.size())?;
        let mut own = Vec::new();
        let mut off = 0;
        for (d, &c) in send_counts.iter().enumerate() {
            let part = send[off..off + c].to_vec();
            off += c;
            if d == self.rank {
                own = part;
            } else {
                self.send(d, Tag::Collective, part)?;
            }
        }
        let mut own = Some(own);
        let parts = (0..self.size())
            .map(|s| {
                if s == self.rank {
                    Ok(own.take().unwrap_or_default())
                } else {
                    self.recv(s, Tag::Collective)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Parts::from_vecs(parts))
    }

    fn broadcast_bytes(&self, root: usize, data: &mut Vec<u8>) -> Result<(), DecompError> {
        check_rank(root, self.size())?;
        if self.rank == root {
            for d in (0..self.size()).filter(|&d| d != root) {
                self.send(d, Tag::Collective, data.clone())?;
            }
        } else {
            *data = self.recv(root, Tag::Collective)?;
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
        check_rank(dest, self.size())?;
        check_rank(source, self.size())?;
        self.send(dest, Tag::User(tag), send.to_vec())?;
        self.recv(source, Tag::User(tag))
    }

    fn split(&self, color: usize, key: usize) -> Result<Box<dyn Comm>, DecompError> {
        let seq = self.splits.fetch_add(1, Ordering::Relaxed);
        let all = self.all_gather(&[color, key])?;
        let mut members: Vec<(usize, usize)> = all
            .iter()
            .enumerate()
            .filter_map(|(r, ck)| match ck.as_slice() {
                [c, k] if *c == color => Some((*k, r)),
                _ => None,
            })
            .collect();
        members.sort_unstable();
        let rank = members
            .iter()
            .position(|&(_, r)| r == self.rank)
            .ok_or_else(|| DecompError::Collective("split: this rank is not a member".into()))?;
        let group: Arc<[usize]> = members.iter().map(|&(_, r)| self.group[r]).collect();
        let ctx = {
            let mut st = self.shared.lock();
            let next = st.next_context;
            let ctx = *st.contexts.entry((self.ctx, seq, color)).or_insert(next);
            if ctx == next {
                st.next_context += 1;
            }
            ctx
        };
        Ok(Box::new(ThreadComm {
            shared: Arc::clone(&self.shared),
            ctx,
            group,
            rank,
            splits: AtomicU64::new(0),
        }))
    }
}
