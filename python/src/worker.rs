//! Work off the interpreter: a run on its own thread (with the config's rayon pool), the GIL
//! released, the calling thread watching for Ctrl-C (`KeyboardInterrupt`) meanwhile, and a
//! Rust panic caught and turned into a `RuntimeError`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pm_integrate::{IntegrateError, StepInfo};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

/// Set when Python has received SIGINT (or any signal whose handler raised) during a run:
/// the run stops at its next check (a simulation at the end of the current step).
pub struct Stop(AtomicBool);

impl Stop {
    /// True once the run should stop.
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// A step observer's check: after any step but the last, an error that ends the run
    /// once a stop is requested (the worker then raises Python's own exception).
    pub fn check(&self, info: &StepInfo) -> Result<(), IntegrateError> {
        if info.index < info.steps && self.requested() {
            return Err(IntegrateError::Observer("interrupted".into()));
        }
        Ok(())
    }
}

/// How often the calling thread looks at Python's signal handlers while a run works.
const POLL: Duration = Duration::from_millis(20);

/// Runs `work` on a thread of its own inside a rayon pool of `threads` workers (0: one per
/// core) with the GIL released. Meanwhile the calling thread (Python's main thread, where
/// signal handlers run) checks for signals every 20 ms; when a handler raises (Ctrl-C's
/// `KeyboardInterrupt`), `work` is asked to stop through its [`Stop`], the call waits for it
/// and raises that exception. A panic inside `work` becomes a `RuntimeError`.
pub fn run_detached<R, F>(py: Python<'_>, threads: usize, work: F) -> PyResult<R>
where
    R: Send,
    F: FnOnce(&Stop) -> PyResult<R> + Send,
{
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| PyValueError::new_err(format!("simulation.threads: {e}")))?;
    let stop = Stop(AtomicBool::new(false));
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("pmrs-run".into())
            .spawn_scoped(scope, || {
                catch_unwind(AssertUnwindSafe(|| pool.install(|| work(&stop))))
            })
            .map_err(|e| PyRuntimeError::new_err(format!("could not start a thread: {e}")))?;
        let mut raised = None;
        while !handle.is_finished() {
            py.detach(|| std::thread::sleep(POLL));
            if raised.is_none()
                && let Err(e) = py.check_signals()
            {
                stop.0.store(true, Ordering::SeqCst);
                raised = Some(e);
            }
        }
        let outcome = handle.join().unwrap_or_else(Err);
        match (outcome, raised) {
            (_, Some(e)) => Err(e),
            (Ok(result), None) => result,
            (Err(panic), None) => Err(PyRuntimeError::new_err(format!(
                "internal error in pmrs (please report it): {}",
                panic_message(panic.as_ref())
            ))),
        }
    })
}

/// The text of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic".into()
    }
}
