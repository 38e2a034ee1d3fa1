//! Helpers shared by the `serve_*` tests: raw HTTP over `std::net::TcpStream` and a served folder with
//! symlinks pointing in and out of it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use tempfile::TempDir;

/// Sends `request` as is (no normalisation) and reads the whole answer; the server closes after it.
pub fn raw(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect to the test server");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    // The server may close before reading everything (oversized heads): keep what it answered.
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    // A reset after the answer still leaves what arrived in `answer`.
    let _ = stream.read_to_end(&mut answer);
    answer
}

/// `GET {target}` with `Connection: close`, sent raw.
pub fn get_raw(addr: SocketAddr, target: &str) -> Vec<u8> {
    raw(
        addr,
        format!("GET {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// The status code of a raw HTTP/1.1 answer, 0 when there is none.
pub fn status(answer: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(&answer[..answer.len().min(64)]);
    text.strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The body of a raw answer (after the blank line).
pub fn body(answer: &[u8]) -> &[u8] {
    let at = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(answer.len(), |i| i + 4);
    &answer[at..]
}

/// What lies outside the served folder, which no request may ever read.
pub const SECRET: &str = "top secret, outside the served folder";

/// A served folder and a sibling outside it:
/// `served/{a.txt, sub/b.txt, inside.txt -> a.txt, escape.txt -> ../outside/secret.txt, escape_dir -> ../outside}`.
pub struct Tree {
    pub root: TempDir,
}

impl Tree {
    pub fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let served = root.path().join("served");
        let outside = root.path().join("outside");
        std::fs::create_dir_all(served.join("sub")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(served.join("a.txt"), "alpha").unwrap();
        std::fs::write(served.join("sub/b.txt"), "beta").unwrap();
        std::fs::write(outside.join("secret.txt"), SECRET).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::symlink;
            symlink("a.txt", served.join("inside.txt")).unwrap();
            symlink(outside.join("secret.txt"), served.join("escape.txt")).unwrap();
            symlink("../outside", served.join("escape_dir")).unwrap();
        }
        Self { root }
    }

    pub fn served(&self) -> PathBuf {
        self.root.path().join("served")
    }
}

/// The seed's books folder (`../shared/data/books` beside the repository), if present.
pub fn seed_books() -> Option<PathBuf> {
    let dir = match std::env::var_os("CONCUR_DATA") {
        Some(data) => PathBuf::from(data).join("books"),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/books"),
    };
    dir.is_dir().then_some(dir)
}
