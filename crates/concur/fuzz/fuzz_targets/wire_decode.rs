//! Feeds arbitrary bytes to the process pool's frame reader and header decoders, as a worker
//! or the pool would receive them: any outcome but a panic (or a huge allocation) is fine.
//!
//! Run with `cargo +nightly fuzz run wire_decode` from `crates/concur`.
#![no_main]

use concur::process::wire::{decode, read_frame, ToParent, ToWorker};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut stream = data;
    let mut frame = Vec::new();
    while let Ok(true) = read_frame(&mut stream, 1 << 20, &mut frame) {
        let _ = decode::<ToWorker>(&frame);
        let _ = decode::<ToParent>(&frame);
    }
});
