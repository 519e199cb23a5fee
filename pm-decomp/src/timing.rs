//! Lightweight wall-clock accounting of the phases of a distributed run: [`Stopwatch`]
//! (an accumulating, thread-safe timer) and [`PhaseTimes`] (seconds per phase).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::DecompError;
use crate::comm::{Comm, CommExt};

/// An accumulating wall-clock timer: the total time of the intervals given to
/// [`Stopwatch::time`] or [`Stopwatch::add`], in nanoseconds in an atomic counter, so it can
/// be shared by threads (each [`crate::ThreadComm`] rank is a thread) and updated through
/// `&self`. One `Instant` pair per interval: negligible next to a collective operation.
#[derive(Debug, Default)]
pub struct Stopwatch {
    nanos: AtomicU64,
}

impl Stopwatch {
    /// A stopwatch at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `d` (saturating at `u64::MAX` nanoseconds, about 585 years).
    pub fn add(&self, d: Duration) {
        let n = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        // fetch_update never fails with a closure that always returns Some.
        let _ = self
            .nanos
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                Some(t.saturating_add(n))
            });
    }

    /// Runs `f` and adds its wall time.
    pub fn time<R>(&self, f: impl FnOnce() -> R) -> R {
        let t = Instant::now();
        let r = f();
        self.add(t.elapsed());
        r
    }

    /// The accumulated time in seconds.
    pub fn seconds(&self) -> f64 {
        self.nanos.load(Ordering::Relaxed) as f64 * 1e-9
    }

    /// Sets the accumulated time back to zero.
    pub fn reset(&self) {
        self.nanos.store(0, Ordering::Relaxed);
    }
}

/// Wall-clock seconds spent by one rank in each phase of a distributed PM computation
/// (accumulated over calls; see `SlabFft::times`, `pm_mesh::MeshBlock::times`,
/// `pm_force::Gravity::times`, `pm_integrate::Simulation::times`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PhaseTimes {
    /// Local 1D FFT passes of the slab FFTs (their time without the transposes).
    pub fft: f64,
    /// All-to-all transposes of the slab FFTs (including waiting for the other ranks).
    pub transpose: f64,
    /// Mass assignment of particles to the local slab.
    pub paint: f64,
    /// Halo exchanges (ghost planes added after the paint, filled before the readout).
    pub halo: f64,
    /// Interpolation of the force fields to the particles.
    pub readout: f64,
    /// Particle migration between ranks.
    pub migration: f64,
    /// Everything else in the timed calls (kernel in Fourier space, set-up, kicks and
    /// drifts, initial conditions outside their FFTs).
    pub other: f64,
}

impl PhaseTimes {
    /// The phases in the order of the fields, with their names.
    pub fn named(&self) -> [(&'static str, f64); 7] {
        [
            ("fft", self.fft),
            ("transpose", self.transpose),
            ("paint", self.paint),
            ("halo", self.halo),
            ("readout", self.readout),
            ("migration", self.migration),
            ("other", self.other),
        ]
    }

    /// The sum of all phases.
    pub fn total(&self) -> f64 {
        self.named().iter().map(|(_, t)| t).sum()
    }

    /// Every phase multiplied by `s` (e.g. `1 / steps` for times per step).
    pub fn scaled(&self, s: f64) -> Self {
        Self {
            fft: self.fft * s,
            transpose: self.transpose * s,
            paint: self.paint * s,
            halo: self.halo * s,
            readout: self.readout * s,
            migration: self.migration * s,
            other: self.other * s,
        }
    }

    /// The phase-wise maximum over the ranks of `comm` (the same on every rank).
    /// Collective.
    pub fn max_over_ranks(&self, comm: &(impl Comm + ?Sized)) -> Result<Self, DecompError> {
        let mut v = self.named().map(|(_, t)| t);
        comm.all_reduce_max(&mut v)?;
        let [fft, transpose, paint, halo, readout, migration, other] = v;
        Ok(Self {
            fft,
            transpose,
            paint,
            halo,
            readout,
            migration,
            other,
        })
    }
}

impl std::ops::Add for PhaseTimes {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Self {
            fft: self.fft + o.fft,
            transpose: self.transpose + o.transpose,
            paint: self.paint + o.paint,
            halo: self.halo + o.halo,
            readout: self.readout + o.readout,
            migration: self.migration + o.migration,
            other: self.other + o.other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ThreadComm;

    #[test]
    fn stopwatch_accumulates_and_resets() {
        let s = Stopwatch::new();
        s.add(Duration::from_millis(3));
        let x = s.time(|| 7);
        assert_eq!(x, 7);
        assert!(s.seconds() >= 3e-3);
        s.reset();
        assert_eq!(s.seconds(), 0.0);
    }

    #[test]
    fn phase_times_max_over_ranks() {
        let got = ThreadComm::run(3, |comm| {
            let r = comm.rank() as f64;
            let t = PhaseTimes {
                fft: r,
                migration: 2.0 - r,
                ..PhaseTimes::default()
            };
            t.max_over_ranks(comm).unwrap()
        })
        .unwrap();
        for t in got {
            assert_eq!(t.fft, 2.0);
            assert_eq!(t.migration, 2.0);
            assert_eq!((t + t).scaled(0.5).total(), 4.0);
        }
    }
}
