//! The progress bar of `pm run` (indicatif) and the final summary's peak memory.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar over the steps showing a, the step, the time per step and the ETA; hidden under
/// `--quiet` or when stdout is not a terminal (logs and pipes get only the summary).
pub struct Progress {
    bar: ProgressBar,
    start: Instant,
}

impl Progress {
    /// A bar for `steps` steps, drawn on stderr when `visible` and stdout is a terminal.
    pub fn new(steps: usize, visible: bool) -> Self {
        let bar = if visible && std::io::stdout().is_terminal() {
            let bar = ProgressBar::with_draw_target(
                Some(steps as u64),
                ProgressDrawTarget::stderr_with_hz(4),
            );
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30.cyan/blue} step {pos}/{len}  {msg}  ETA {eta}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        Self {
            bar,
            start: Instant::now(),
        }
    }

    /// Step `index` (of the bar's length) has reached scale factor `a`.
    pub fn step(&self, index: usize, a: f64) {
        let per_step = if index > 0 {
            self.start.elapsed().as_secs_f64() / index as f64
        } else {
            0.0
        };
        self.bar.set_position(index as u64);
        self.bar
            .set_message(format!("a = {a:.4}  {per_step:.2} s/step"));
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The process's peak resident memory in bytes (Linux `VmHWM`), if the system says.
pub fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
