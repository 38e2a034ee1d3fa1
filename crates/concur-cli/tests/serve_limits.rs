//! The server's defences: slow and idle clients, oversized heads, clients that stop reading, and a clean
//! shutdown with responses in flight. Waits are generous fail-safes, never asserted durations.

mod serve_common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use concur_cli::serve::{start, Books, RunningServer, ServerConfig, ServerStats};
use serve_common::{body, raw, status, Tree};

/// Polls `stats` until `done` holds; panics after a minute.
fn eventually(server: &RunningServer, what: &str, done: impl Fn(&ServerStats) -> bool) {
    let began = Instant::now();
    while !done(&server.stats()) {
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "never saw {what}: {:?}",
            server.stats()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// True once the peer has closed (EOF, reset, or an error answer before we finished).
fn closed(stream: &mut TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 512];
    let seen = match stream.read(&mut buf) {
        Ok(_) => true, // EOF, or the server's error answer (408/400) just before it closes
        Err(e) => e.kind() != ErrorKind::WouldBlock,
    };
    stream.set_nonblocking(false).unwrap();
    seen
}

#[test]
fn slowloris_is_disconnected() {
    let tree = Tree::new();
    let config = ServerConfig {
        header_read_timeout: Duration::from_millis(500),
        ..ServerConfig::dir(tree.served())
    };
    let server = start(config).unwrap();
    let mut stream = TcpStream::connect(server.local_addr()).unwrap();
    stream
        .write_all(b"GET /a.txt HTTP/1.1\r\nHost: test\r\nX-Slow: ")
        .unwrap();
    // 400 bytes at 50 ms each would take 20 s, forty times the head timeout.
    let mut sent_all = true;
    for _ in 0..400 {
        if stream.write_all(b"a").is_err() || closed(&mut stream) {
            sent_all = false;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!sent_all, "the server waited for a 20 s request head");
    eventually(&server, "a head timeout", |s| s.header_timeouts >= 1);
    assert_eq!(
        server.stats().requests,
        0,
        "the slow request must never reach the handler"
    );
}

#[test]
fn idle_connections_are_closed() {
    let tree = Tree::new();
    let config = ServerConfig {
        header_read_timeout: Duration::from_millis(300),
        ..ServerConfig::dir(tree.served())
    };
    let server = start(config).unwrap();
    // Silent from the start.
    let mut silent = TcpStream::connect(server.local_addr()).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(
        silent.read(&mut buf).unwrap(),
        0,
        "a silent client was not closed"
    );
    // Kept alive after one answer, then silent.
    let mut kept = TcpStream::connect(server.local_addr()).unwrap();
    kept.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    kept.write_all(b"GET /a.txt HTTP/1.1\r\nHost: test\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    // Without Connection: close only the server's idle timeout can end this read (else: WouldBlock).
    kept.read_to_end(&mut answer)
        .expect("the idle kept-alive connection was not closed");
    assert_eq!(status(&answer), 200);
    assert_eq!(body(&answer), b"alpha");
}

#[test]
fn oversized_heads_are_refused() {
    let tree = Tree::new();
    let server = start(ServerConfig {
        header_limit: 1024,
        ..ServerConfig::dir(tree.served())
    })
    .unwrap();
    for size in [4 * 1024, 64 * 1024] {
        let request = format!(
            "GET /a.txt HTTP/1.1\r\nHost: test\r\nX-Big: {}\r\n\r\n",
            "b".repeat(size)
        );
        let answer = raw(server.local_addr(), request.as_bytes());
        assert_ne!(status(&answer), 200, "a {size}-byte header was accepted");
        assert!(
            answer.is_empty() || status(&answer) == 431,
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }
    let small = raw(
        server.local_addr(),
        b"GET /a.txt HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(body(&small), b"alpha");
}

#[test]
fn a_client_that_stops_reading_is_dropped() {
    let size = 32 << 20; // far more than loopback socket buffers hold
    let books = Books::try_from_iter([("big.txt", vec![b'z'; size])]).unwrap();
    let config = ServerConfig {
        idle_timeout: Duration::from_millis(300),
        ..ServerConfig::books(books)
    };
    let server = start(config).unwrap();
    let mut stream = TcpStream::connect(server.local_addr()).unwrap();
    stream
        .write_all(b"GET /big.txt HTTP/1.1\r\nHost: test\r\n\r\n")
        .unwrap();
    eventually(&server, "a stalled client dropped", |s| s.stalled >= 1);
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut received = Vec::new();
    let _ = stream.read_to_end(&mut received);
    assert!(
        received.len() < size,
        "the whole body arrived although the client stalled"
    );
    eventually(&server, "the connection closed", |s| s.open == 0);
}

#[test]
fn shutdown_lets_a_delayed_response_finish() {
    let tree = Tree::new();
    let config = ServerConfig {
        latency: Duration::from_millis(500),
        ..ServerConfig::dir(tree.served())
    };
    let server = start(config).unwrap();
    let url = server.url_for("a.txt");
    let fetch = std::thread::spawn(move || reqwest::blocking::get(url).and_then(|r| r.text()));
    eventually(&server, "the request arriving", |s| s.requests >= 1);
    server.shutdown().unwrap();
    assert_eq!(fetch.join().unwrap().unwrap(), "alpha");
}

#[test]
fn shutdown_aborts_what_outlives_the_grace() {
    let books = Books::try_from_iter([("slow.txt", vec![b's'; 1 << 20])]).unwrap();
    let config = ServerConfig {
        bandwidth: Some(1024), // 1 MiB at 1 KiB/s: about 17 minutes
        shutdown_grace: Duration::from_millis(100),
        ..ServerConfig::books(books)
    };
    let server = start(config).unwrap();
    let url = server.url_for("slow.txt");
    let fetch = std::thread::spawn(move || reqwest::blocking::get(url).and_then(|r| r.bytes()));
    eventually(&server, "the request arriving", |s| s.requests >= 1);
    server.shutdown().unwrap();
    assert!(
        fetch.join().unwrap().is_err(),
        "a body cut short must be an error, not a short success"
    );
}
