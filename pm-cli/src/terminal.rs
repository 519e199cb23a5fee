//! What `pm` prints. Standard output carries results (`pm info`, `pm power`) and the run's
//! report; a write to it that fails (a closed pipe, a full disk) is an error the command
//! returns, never a panic. Standard error carries warnings and errors, written on a best
//! effort basis (there is nowhere left to report its own failure).

use std::io::Write;

use crate::CliError;

/// Writes one line to standard output and flushes it.
///
/// A closed pipe (`pm info snap | head -1`) gives [`CliError::Stdout`] with `closed_pipe`
/// set, which the binary ends with the status of a process stopped by SIGPIPE (141) and no
/// message, as `head` users expect; any other failure (`> /dev/full`) is reported.
pub fn say_line(args: std::fmt::Arguments<'_>) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(stdout_error)
}

/// Writes `text` to standard output as it is (no newline added) and flushes it.
pub fn say_text(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(stdout_error)
}

/// Writes one line to standard error, ignoring a failure to do so.
pub fn warn_line(args: std::fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.write_all(b"\n"));
}

fn stdout_error(e: std::io::Error) -> CliError {
    CliError::Stdout {
        closed_pipe: e.kind() == std::io::ErrorKind::BrokenPipe,
        reason: e.to_string(),
    }
}

/// `say!(...)`: [`say_line`] with `format!` arguments; returns `Result<(), CliError>`.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::terminal::say_line(format_args!($($arg)*))
    };
}

/// `warn!(...)`: [`warn_line`] with `format!` arguments.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => {
        $crate::terminal::warn_line(format_args!($($arg)*))
    };
}
