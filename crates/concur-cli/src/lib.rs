//! The `concur` command's library: the workloads, their inputs, the book server and the report.
//! `main.rs` only parses arguments and calls into here, so tests can drive every part directly.

pub mod bench;
pub mod serve;
pub mod sources;
pub mod workloads;
