//! The task registry: a name for every function that may run in another process.
//!
//! A closure cannot cross a process boundary, but a *name* can. [`task!`](crate::task!) declares a
//! `static` [`TaskFn`] for a plain `fn(I) -> O` and registers it (through `inventory`) under a
//! name built from its module path, so every copy of the same binary — the parent, its worker
//! processes, every MPI rank — finds the same function under the same name. Executors that run
//! tasks in-process (the thread pool, [`Sequential`](crate::Sequential)) call the function
//! directly and never serialise anything.
//!
//! Registration needs no `unsafe`, no function-pointer offsets and no transmutes: the registry
//! holds `&'static dyn ErasedTask` trait objects, and lookup is by exact name. Asking for a name the
//! binary lacks is [`Error::Unregistered`], never a crash.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{panic_message, Error, ItemResult, Result};

/// A type that can be a task's input or output: sent between threads, and between processes.
pub trait Wire: Serialize + DeserializeOwned + Send + 'static {}
impl<T: Serialize + DeserializeOwned + Send + 'static> Wire for T {}

/// A named function that any executor can run. Declare one with [`task!`](crate::task!).
pub struct TaskFn<I, O> {
    name: &'static str,
    f: fn(I) -> O,
}

impl<I, O> TaskFn<I, O> {
    /// A task named `name` that runs `f`. Prefer [`task!`](crate::task!), which also registers it.
    pub const fn new(name: &'static str, f: fn(I) -> O) -> Self {
        TaskFn { name, f }
    }

    /// The registered name (`module::path::NAME`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Runs the function in this thread.
    pub fn call(&self, input: I) -> O {
        (self.f)(input)
    }
}

/// Runs `f` on each input, catching each panic as that item's [`Error::Panicked`]: one bad item
/// never loses the others.
pub(crate) fn run_each<I, O>(inputs: Vec<I>, f: impl Fn(I) -> O) -> Vec<ItemResult<O>> {
    inputs
        .into_iter()
        .map(|x| {
            catch_unwind(AssertUnwindSafe(|| f(x)))
                .map_err(|p| Box::new(Error::Panicked(panic_message(&*p))))
        })
        .collect()
}

/// A registered task with its types erased: bytes in, bytes out. What a worker process calls.
pub trait ErasedTask: Sync {
    /// The registered name.
    fn name(&self) -> &'static str;
    /// Decodes a postcard-encoded `Vec<I>`, runs the task on each item (catching each panic) and
    /// returns the postcard-encoded `Vec<ItemResult<O>>`.
    fn run_chunk(&self, inputs: &[u8]) -> Result<Vec<u8>>;
}

impl<I: Wire, O: Wire> ErasedTask for TaskFn<I, O> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn run_chunk(&self, inputs: &[u8]) -> Result<Vec<u8>> {
        let inputs: Vec<I> = postcard::from_bytes(inputs)
            .map_err(|e| Error::Wire(format!("decoding the inputs of `{}`: {e}", self.name)))?;
        let outputs = run_each(inputs, self.f);
        postcard::to_stdvec(&outputs)
            .map_err(|e| Error::Wire(format!("encoding the results of `{}`: {e}", self.name)))
    }
}

/// Encodes one input for a worker in another process, as [`ErasedTask::run_chunk`] takes it (a
/// chunk of one), and returns the payload with the decoder of the worker's answer. With
/// [`encode_chunk`], the whole of `submit_task`/`submit_chunk` for every executor that ships
/// work to other processes ([`ProcessPool`](crate::ProcessPool), `concur_mpi::MpiPool`).
#[allow(clippy::type_complexity)] // a payload and its decoder
pub fn encode_one<I: Wire, O: Wire>(
    task: &'static TaskFn<I, O>,
    input: I,
) -> Result<(Vec<u8>, impl FnOnce(&[u8]) -> Result<O> + Send + 'static)> {
    let (payload, decode) = encode_chunk(task, vec![input])?;
    Ok((payload, move |bytes: &[u8]| {
        decode(bytes)?
            .pop()
            .expect("one result, checked")
            .map_err(|e| *e)
    }))
}

/// Encodes a chunk of inputs for a worker in another process and returns the payload with the
/// decoder of the worker's answer: an [`Error::Wire`] naming the task unless it decodes to one
/// result per input.
#[allow(clippy::type_complexity)] // a payload and its decoder
pub fn encode_chunk<I: Wire, O: Wire>(
    task: &'static TaskFn<I, O>,
    inputs: Vec<I>,
) -> Result<(
    Vec<u8>,
    impl FnOnce(&[u8]) -> Result<Vec<ItemResult<O>>> + Send + 'static,
)> {
    let name = task.name();
    let len = inputs.len();
    let payload = postcard::to_stdvec(&inputs)
        .map_err(|e| Error::Wire(format!("encoding the inputs of `{name}`: {e}")))?;
    Ok((payload, move |bytes: &[u8]| {
        decode_results(name, bytes, len)
    }))
}

fn decode_results<O: Wire>(task: &str, payload: &[u8], len: usize) -> Result<Vec<ItemResult<O>>> {
    let results: Vec<ItemResult<O>> = postcard::from_bytes(payload).map_err(|e| {
        Error::Wire(format!(
            "decoding the results of `{task}` from a worker: {e}"
        ))
    })?;
    if results.len() != len {
        return Err(Error::Wire(format!(
            "a worker returned {} results of `{task}` for {len} inputs",
            results.len()
        )));
    }
    Ok(results)
}

/// One entry in the registry; [`task!`](crate::task!) submits it.
pub struct Registration {
    task: &'static dyn ErasedTask,
}

impl Registration {
    /// Wraps a task for `inventory::submit!`.
    pub const fn new(task: &'static dyn ErasedTask) -> Self {
        Registration { task }
    }
}

inventory::collect!(Registration);

fn registry() -> &'static HashMap<&'static str, &'static dyn ErasedTask> {
    static REGISTRY: OnceLock<HashMap<&'static str, &'static dyn ErasedTask>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        inventory::iter::<Registration>
            .into_iter()
            .map(|r| (r.task.name(), r.task))
            .collect()
    })
}

/// The registered task called `name`, or [`Error::Unregistered`].
pub fn lookup(name: &str) -> Result<&'static dyn ErasedTask> {
    registry()
        .get(name)
        .copied()
        .ok_or_else(|| Error::Unregistered(name.to_owned()))
}

/// The names of every task registered in this binary, sorted.
pub fn registered_names() -> Vec<&'static str> {
    let mut names: Vec<_> = registry().keys().copied().collect();
    names.sort_unstable();
    names
}

/// Declares a task: a `static` [`TaskFn`] for a plain function, registered under
/// `module::path::NAME` so that worker processes and MPI ranks can run it by name.
///
/// The function takes one input and returns one output, both [`Wire`] types (use a tuple or a
/// struct for several arguments).
///
/// ```
/// fn square(x: u64) -> u64 {
///     x * x
/// }
/// concur::task! {
///     /// Squares a number, on any executor.
///     pub static SQUARE: fn(u64) -> u64 = square;
/// }
///
/// use concur::Executor;
/// let pool = concur::ThreadPool::new(2).unwrap();
/// let squares: Vec<u64> = pool.map_task(&SQUARE, 1..=4).map(Result::unwrap).collect();
/// assert_eq!(squares, [1, 4, 9, 16]);
/// assert!(concur::task::lookup(SQUARE.name()).is_ok());
/// ```
#[macro_export]
macro_rules! task {
    ($(#[$meta:meta])* $vis:vis static $name:ident : fn($input:ty) -> $output:ty = $func:expr;) => {
        $(#[$meta])*
        $vis static $name: $crate::TaskFn<$input, $output> =
            $crate::TaskFn::new(concat!(module_path!(), "::", stringify!($name)), $func);
        $crate::__private::inventory::submit! {
            $crate::task::Registration::new(&$name)
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn double(x: i32) -> i32 {
        if x == 13 {
            panic!("unlucky {x}");
        }
        x * 2
    }
    crate::task! {
        static DOUBLE: fn(i32) -> i32 = double;
    }

    #[test]
    fn registered_task_runs_by_name_through_bytes() {
        let task = lookup("concur::task::tests::DOUBLE").unwrap();
        let input = postcard::to_stdvec(&vec![1, 13, 4]).unwrap();
        let out: Vec<Result<i32>> = postcard::from_bytes(&task.run_chunk(&input).unwrap()).unwrap();
        assert_eq!(out[0], Ok(2));
        assert_eq!(out[1], Err(Error::Panicked("unlucky 13".into())));
        assert_eq!(out[2], Ok(8));
        assert!(registered_names().contains(&DOUBLE.name()));
    }

    #[test]
    fn unknown_name_and_bad_bytes_are_errors() {
        assert_eq!(
            lookup("no::such").err(),
            Some(Error::Unregistered("no::such".into()))
        );
        let task = lookup(DOUBLE.name()).unwrap();
        assert!(matches!(
            task.run_chunk(&[0xff, 0xff, 0xff]),
            Err(Error::Wire(_))
        ));
    }
}
