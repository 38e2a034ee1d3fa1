//! The error type every executor reports through.
//!
//! One enum, [`Error`], covers every way a task can fail to produce its value and every way an
//! executor can refuse work. It is `Clone` because one failure may have to be reported to many
//! readers (a failed chunk fails each of its items; a handle may be read many times), and every
//! variant carries owned text, never a borrowed payload, so it crosses threads and processes.

use std::any::Any;
use std::time::Duration;

/// Why a task produced no value, or why an executor refused it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Error {
    /// The task panicked; the payload's message (or a note that it was not text).
    #[error("task panicked: {0}")]
    Panicked(String),
    /// The task was cancelled before it ran (or, on a process pool, while it ran).
    #[error("task was cancelled")]
    Cancelled,
    /// A timed wait ran out. The task itself goes on unless the executor enforces a task timeout.
    #[error("timed out after {0:?} waiting for the task")]
    Timeout(Duration),
    /// The executor was shut down before it accepted or ran the task.
    #[error("the executor is shut down")]
    Shutdown,
    /// The executor is broken (for example a worker's initializer failed) and runs nothing more.
    #[error("the executor is broken: {0}")]
    Broken(String),
    /// Another clone of the handle already moved the value out with `Handle::into_result`.
    #[error("the result was already taken by another clone of this handle")]
    Taken,
    /// The executor was configured wrongly (for example zero workers).
    #[error("invalid executor configuration: {0}")]
    Config(String),
    /// A worker process died while running the task.
    #[error("worker process {pid} died while running the task: {cause}")]
    WorkerDied {
        /// The worker's process id.
        pid: u32,
        /// The signal or exit status that ended it.
        cause: String,
    },
    /// The named task is not registered in the binary that had to run it.
    #[error("task `{0}` is not registered in the worker binary (declare it with concur::task!)")]
    Unregistered(String),
    /// Arguments or results could not be carried between processes.
    #[error("wire error: {0}")]
    Wire(String),
    /// A task never ran because a task it depends on failed or was cancelled. `cause` is that
    /// dependency's own error, so a chain of these names the whole path back to the first failure.
    #[error("dependency `{dependency}` failed: {cause}")]
    DependencyFailed {
        /// The dependency's name (a graph node's name, or its position among the dependencies).
        dependency: String,
        /// Why the dependency failed.
        cause: Box<Error>,
    },
    /// A declared task graph has a cycle; the names along it, the first repeated at the end.
    #[error("dependency cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
}

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Turns a panic payload into readable text: `&str` and `String` payloads verbatim, anything
/// else a note naming that it was not text.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic payload is not a string".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_message_reads_str_string_and_other_payloads() {
        let a = std::panic::catch_unwind(|| panic!("plain")).unwrap_err();
        assert_eq!(panic_message(&*a), "plain");
        let b = std::panic::catch_unwind(|| panic!("formatted {}", 7)).unwrap_err();
        assert_eq!(panic_message(&*b), "formatted 7");
        let c = std::panic::catch_unwind(|| std::panic::panic_any(42_u8)).unwrap_err();
        assert_eq!(panic_message(&*c), "panic payload is not a string");
    }
}
