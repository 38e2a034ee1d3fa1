//! The loop of ranks 1..: run registered tasks by name for rank 0 until it says `Exit`.
//!
//! Messages are the process pool's ([`concur::process::wire`]): a postcard header
//! ([`ToWorker`] from rank 0, [`ToParent`] back) followed by the raw payload, one MPI message
//! each, so MPI's own message length replaces the frame's length prefix. A worker first sends
//! `Hello` (its protocol version and pid), then answers every `Run` with `Done` (the postcard
//! results, one per input, each item's panic caught as its own error) or `Failed` (the task is
//! not registered in this binary, the inputs do not decode, the results do not fit in one
//! message). It never exits on anything rank 0 sends except `Exit`; waiting is `backoff`'s.

use concur::process::wire::{self, ToParent, ToWorker};
use concur::{task, Error, Result};
use mpi::point_to_point::{Destination, MatchedReceiveVec, Source};
use mpi::topology::{Communicator, SimpleCommunicator};
use serde::Serialize;

use crate::backoff::Backoff;
use crate::pool::MAX_PAYLOAD;

/// One message: the postcard `header`, then `payload` as is.
pub(crate) fn message<H: Serialize>(header: &H, payload: &[u8]) -> Result<Vec<u8>> {
    let mut bytes = postcard::to_stdvec(header)
        .map_err(|e| Error::Wire(format!("encoding a message header: {e}")))?;
    bytes.extend_from_slice(payload);
    Ok(bytes)
}

/// Serves rank 0 until it says `Exit`; returns the process's exit status.
pub(crate) fn serve(world: &SimpleCommunicator) -> i32 {
    let rank = world.rank();
    let root = world.process_at_rank(0);
    let send = |header: &ToParent, payload: &[u8]| match message(header, payload) {
        Ok(bytes) => root.send(&bytes[..]),
        Err(e) => eprintln!("concur-mpi: rank {rank}: {e}"),
    };
    send(
        &ToParent::Hello {
            protocol: wire::PROTOCOL,
            pid: std::process::id(),
        },
        &[],
    );
    let mut backoff = Backoff::default();
    loop {
        let Some(probed) = root.immediate_matched_probe() else {
            backoff.snooze();
            continue;
        };
        backoff.reset();
        let (bytes, _) = probed.matched_receive_vec::<u8>();
        let outcome = match wire::decode::<ToWorker>(&bytes) {
            Ok((ToWorker::Exit, _)) => return 0,
            Ok((ToWorker::Run { task }, payload)) => run(task, payload),
            Ok((ToWorker::Init { task }, _)) => Err(Error::Wire(format!(
                "rank {rank}: initializers (`{task}`) are not supported over MPI"
            ))),
            Err(e) => Err(Error::Wire(format!("rank {rank}: {e}"))),
        };
        match outcome {
            Ok(results) => send(&ToParent::Done, &results),
            Err(error) => send(&ToParent::Failed { error }, &[]),
        }
    }
}

/// Runs one chunk of the task called `name`.
fn run(name: &str, payload: &[u8]) -> Result<Vec<u8>> {
    let results = task::lookup(name).and_then(|t| t.run_chunk(payload))?;
    if results.len() > MAX_PAYLOAD {
        return Err(Error::Wire(format!(
            "the results of `{name}` take {} bytes, more than one MPI message carries ({MAX_PAYLOAD} bytes)",
            results.len()
        )));
    }
    Ok(results)
}
