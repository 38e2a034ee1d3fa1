//! Framing and codec of the private channel between the pool and a worker process.
//!
//! # Frame layout
//!
//! ```text
//! [ length: u32, little endian ][ header: postcard ][ payload: raw bytes ]
//!   \_ counts header + payload _/
//! ```
//!
//! The header is a small postcard-encoded enum ([`ToWorker`] or [`ToParent`]); the payload is
//! already postcard (a task's `Vec<I>` inputs or `Vec<ItemResult<O>>` results; serde writes a
//! boxed error as the error itself) and is appended as is, so a 100 MB argument is never copied
//! into a second envelope.
//!
//! # What it promises
//!
//! - **Bounded**: a frame longer than the reader's cap is an [`Error::Wire`] naming both sizes,
//!   read before any allocation of that size; memory grows only as bytes actually arrive.
//! - **Total**: [`read_frame`] and the `decode` functions return an error, never panic, on any
//!   bytes (a proptest in this module and `process_pool_wire.rs` feed them arbitrary input).
//! - **Clean end**: end of stream exactly at a frame boundary is `Ok(None)`; anywhere else it is
//!   an error naming how many bytes were missing.
//! - Small frames go out in one `write` call; large ones in two (header, then payload).

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Version of this protocol; a worker built from another version of concur is refused.
pub const PROTOCOL: u32 = 1;

/// Default cap on one frame: 1 GiB.
pub const DEFAULT_MAX_FRAME: usize = 1 << 30;

/// The largest payload one frame carries (the length prefix is a `u32`; headers are small).
pub const MAX_PAYLOAD: usize = u32::MAX as usize - 4096;

/// Payloads up to this size are copied behind the header and sent in one `write`.
const COALESCE: usize = 64 * 1024;

/// A message from the pool to a worker. The payload follows the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToWorker<'a> {
    /// Run the named initializer; the payload is a postcard `Vec<A>` of one argument.
    Init {
        /// The registered task name.
        task: &'a str,
    },
    /// Run the named task over the payload, a postcard `Vec<I>`.
    Run {
        /// The registered task name.
        task: &'a str,
    },
    /// Exit cleanly (shutdown, or `max_tasks_per_child` reached).
    Exit,
}

/// A message from a worker to the pool. Only [`ToParent::Done`] carries a payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToParent {
    /// First frame of every worker: it entered worker mode.
    Hello {
        /// The worker's [`PROTOCOL`].
        protocol: u32,
        /// The worker's process id.
        pid: u32,
    },
    /// The initializer ran (or there was none): the worker takes tasks now.
    Ready,
    /// The initializer failed or panicked; the worker exits.
    InitFailed {
        /// What went wrong, naming the initializer.
        message: String,
    },
    /// The chunk ran; the payload is a postcard `Vec<ItemResult<O>>`, one per input.
    Done,
    /// The chunk could not run at all (unregistered task, undecodable inputs).
    Failed {
        /// Why; every item of the chunk gets it.
        error: Error,
    },
}

/// Writes one frame: `header`, then `payload`.
pub fn write_frame<W: Write, H: Serialize>(mut w: W, header: &H, payload: &[u8]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(64 + payload.len().min(COALESCE));
    buf.extend_from_slice(&[0; 4]);
    postcard::to_io(header, &mut buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let len = (buf.len() - 4)
        .checked_add(payload.len())
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame longer than 4 GiB"))?;
    buf[..4].copy_from_slice(&len.to_le_bytes());
    if payload.len() <= COALESCE {
        buf.extend_from_slice(payload);
        w.write_all(&buf)
    } else {
        w.write_all(&buf)?;
        w.write_all(payload)
    }
}

/// Why [`read_frame`] returned no frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The stream broke or ended inside a frame: the peer is gone (or going).
    Ended(String),
    /// A read timeout set on the stream ran out.
    TimedOut,
    /// The bytes are not a frame this side accepts (too long).
    Invalid(String),
}

impl From<FrameError> for Error {
    fn from(e: FrameError) -> Error {
        Error::Wire(match e {
            FrameError::Ended(why) | FrameError::Invalid(why) => why,
            FrameError::TimedOut => "timed out waiting for a frame".into(),
        })
    }
}

fn io_error(context: &str, e: io::Error) -> FrameError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => FrameError::TimedOut,
        _ => FrameError::Ended(format!("{context}: {e}")),
    }
}

/// Reads one frame into `buf` (header and payload, without the length). `Ok(false)` on a clean
/// end of stream before the first byte of a frame.
pub fn read_frame<R: Read>(
    mut r: R,
    max_frame: usize,
    buf: &mut Vec<u8>,
) -> Result<bool, FrameError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => {
                return Err(FrameError::Ended(format!(
                    "stream ended inside a frame length ({got} of 4 bytes)"
                )))
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error("reading a frame length", e)),
        }
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > max_frame {
        return Err(FrameError::Invalid(format!(
            "frame of {len} bytes exceeds the cap of {max_frame} bytes"
        )));
    }
    buf.clear();
    // Grow as bytes arrive: a lying length costs no more memory than the bytes really sent.
    buf.reserve(len.min(1 << 20));
    let read = r
        .take(len as u64)
        .read_to_end(buf)
        .map_err(|e| io_error(&format!("reading a frame of {len} bytes"), e))?;
    if read != len {
        return Err(FrameError::Ended(format!(
            "stream ended inside a frame: got {read} of {len} bytes"
        )));
    }
    Ok(true)
}

/// Splits a frame read by [`read_frame`] into its header and payload.
pub fn decode<'a, H: Deserialize<'a>>(frame: &'a [u8]) -> Result<(H, &'a [u8])> {
    postcard::take_from_bytes(frame)
        .map_err(|e| Error::Wire(format!("undecodable frame header: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Writes one frame and reads it back: the frame as `read_frame` returns it.
    fn through_stream<H: Serialize>(h: &H, payload: &[u8]) -> Vec<u8> {
        let mut stream = Vec::new();
        write_frame(&mut stream, h, payload).unwrap();
        let mut r = &stream[..];
        let mut buf = Vec::new();
        assert!(read_frame(&mut r, DEFAULT_MAX_FRAME, &mut buf).unwrap());
        assert!(
            !read_frame(&mut r, DEFAULT_MAX_FRAME, &mut buf).unwrap(),
            "clean end"
        );
        buf
    }

    #[test]
    fn frames_roundtrip_small_and_large() {
        let frame = through_stream(&ToWorker::Run { task: "a::B" }, b"xyz");
        assert_eq!(
            decode::<ToWorker>(&frame).unwrap(),
            (ToWorker::Run { task: "a::B" }, &b"xyz"[..])
        );
        let frame = through_stream(&ToWorker::Exit, &[]);
        assert_eq!(
            decode::<ToWorker>(&frame).unwrap(),
            (ToWorker::Exit, &[][..])
        );
        let big = vec![7u8; COALESCE + 1];
        let frame = through_stream(&ToParent::Done, &big);
        assert_eq!(
            decode::<ToParent>(&frame).unwrap(),
            (ToParent::Done, &big[..])
        );
        let failed = ToParent::Failed {
            error: Error::Unregistered("x".into()),
        };
        let frame = through_stream(&failed, &[]);
        assert_eq!(decode::<ToParent>(&frame).unwrap().0, failed);
        let hello = ToParent::Hello {
            protocol: PROTOCOL,
            pid: 42,
        };
        assert_eq!(
            decode::<ToParent>(&through_stream(&hello, &[])).unwrap().0,
            hello
        );
    }

    #[test]
    fn oversized_and_truncated_frames_are_errors() {
        let mut stream = Vec::new();
        write_frame(&mut stream, &ToParent::Done, &[1; 100]).unwrap();
        let mut buf = Vec::new();
        let err = Error::from(read_frame(&stream[..], 50, &mut buf).unwrap_err());
        assert!(err.to_string().contains("exceeds the cap of 50"), "{err}");
        let err = read_frame(&stream[..stream.len() - 1], 1000, &mut buf).unwrap_err();
        assert!(
            matches!(&err, FrameError::Ended(why) if why.contains("got 100 of 101")),
            "{err:?}"
        );
        let err = read_frame(&stream[..2], 1000, &mut buf).unwrap_err();
        assert!(
            matches!(&err, FrameError::Ended(why) if why.contains("2 of 4")),
            "{err:?}"
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut r = &bytes[..];
            let mut buf = Vec::new();
            while let Ok(true) = read_frame(&mut r, 1 << 16, &mut buf) {
                let _ = decode::<ToWorker>(&buf);
                let _ = decode::<ToParent>(&buf);
            }
        }

        #[test]
        fn arbitrary_headers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode::<ToWorker>(&bytes);
            let _ = decode::<ToParent>(&bytes);
        }
    }
}
