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
    /// A process-pool task ran longer than the pool's task timeout, so its worker was killed.
    #[error("task ran longer than its timeout of {timeout:?}; worker process {pid} was killed")]
    TaskTimeout {
        /// The worker's process id.
        pid: u32,
        /// The timeout it exceeded.
        timeout: Duration,
    },
    /// The named task is not registered in the binary that had to run it.
    #[error("task `{0}` is not registered in the worker binary (declare it with concur::task!)")]
    Unregistered(String),
    /// Arguments or results could not be carried between processes.
    #[error("wire error: {0}")]
    Wire(String),
    /// A task never ran because a task it depends on failed or was cancelled.
    ///
    /// However long the chain of dependents, the error stays one level deep: it names the
    /// dependency this task waited for and the task where the failure began, with that task's
    /// own error. Build one with [`Error::dependency_failed`].
    #[error("{}", describe_dependency_failure(.dependency, .root, .cause))]
    DependencyFailed {
        /// The dependency that failed (a graph node's name, or `#i`, its position among the
        /// dependencies).
        dependency: String,
        /// Where the failure began, if not at `dependency` itself: a task further up the chain,
        /// named as its own dependent named it.
        root: Option<String>,
        /// The error of the task where the failure began; never itself `DependencyFailed`.
        cause: Box<Error>,
    },
    /// Waiting would deadlock: the awaited task (transitively) waits on the waiting one.
    #[error("deadlock: {0}")]
    Deadlock(String),
    /// A declared task graph has a cycle; the names along it, the first repeated at the end.
    #[error("dependency cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
}

impl Error {
    /// The error of a task whose dependency `dependency` failed with `error`: names both that
    /// dependency and, if `error` already came down a chain, the task where the chain began.
    ///
    /// ```
    /// use concur::Error;
    /// let first = Error::dependency_failed("fetch", Error::Panicked("404".into()));
    /// assert_eq!(first.to_string(), "dependency `fetch` failed: task panicked: 404");
    /// let second = Error::dependency_failed("count", first);
    /// assert_eq!(second.to_string(), "dependency `count` failed, because `fetch` failed: task panicked: 404");
    /// ```
    pub fn dependency_failed(dependency: impl Into<String>, error: Error) -> Error {
        let dependency = dependency.into();
        match error {
            Error::DependencyFailed {
                dependency: via,
                root,
                cause,
            } => Error::DependencyFailed {
                dependency,
                root: root.or(Some(via)),
                cause,
            },
            cause => Error::DependencyFailed {
                dependency,
                root: None,
                cause: Box::new(cause),
            },
        }
    }
}

fn describe_dependency_failure(dependency: &str, root: &Option<String>, cause: &Error) -> String {
    match root {
        None => format!("dependency `{dependency}` failed: {cause}"),
        Some(root) => format!("dependency `{dependency}` failed, because `{root}` failed: {cause}"),
    }
}

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One input's result inside a chunk. The error is boxed so that a chunk of small outputs stays
/// small (16 bytes an item for a `u64`, not 56): a million-item `map` writes a million of them.
pub type ItemResult<O> = std::result::Result<O, Box<Error>>;

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
