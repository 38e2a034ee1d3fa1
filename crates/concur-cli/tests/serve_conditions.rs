//! The simulated network: latency before the first byte and bandwidth pacing of the body.
//! Only lower bounds are asserted (a slow CI machine may add time, never remove it).

use std::time::{Duration, Instant};

use concur_cli::serve::{start, Books, ServerConfig};

fn one_book(size: usize) -> Books {
    let bytes: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
    Books::try_from_iter([("book.txt", bytes)]).unwrap()
}

#[test]
fn latency_delays_every_response() {
    let latency = Duration::from_millis(300);
    let server = start(ServerConfig {
        latency,
        ..ServerConfig::books(one_book(10))
    })
    .unwrap();
    let client = reqwest::blocking::Client::new();
    for name in ["book.txt", "missing.txt"] {
        let began = Instant::now();
        let response = client.get(server.url_for(name)).send().unwrap();
        assert!(
            began.elapsed() >= latency,
            "{name} answered after {:?}",
            began.elapsed()
        );
        let _ = response.bytes().unwrap();
    }
}

#[test]
fn jitter_only_adds_to_latency() {
    let latency = Duration::from_millis(100);
    let config = ServerConfig {
        latency,
        jitter: Duration::from_millis(100),
        seed: 42,
        ..ServerConfig::books(one_book(10))
    };
    let server = start(config).unwrap();
    let client = reqwest::blocking::Client::new();
    for _ in 0..3 {
        let began = Instant::now();
        assert_eq!(
            client
                .get(server.url_for("book.txt"))
                .send()
                .unwrap()
                .bytes()
                .unwrap()
                .len(),
            10
        );
        assert!(began.elapsed() >= latency);
    }
}

#[test]
fn bandwidth_paces_the_body() {
    let size = 100_000;
    let rate = 200_000; // bytes per second: at least 0.5 s for the whole body
    let server = start(ServerConfig {
        bandwidth: Some(rate),
        ..ServerConfig::books(one_book(size))
    })
    .unwrap();
    let began = Instant::now();
    let response = reqwest::blocking::get(server.url_for("book.txt")).unwrap();
    assert_eq!(
        response.content_length(),
        Some(size as u64),
        "pacing keeps the exact length"
    );
    let bytes = response.bytes().unwrap();
    let elapsed = began.elapsed();
    assert_eq!(bytes.len(), size);
    assert_eq!(&bytes[..], &one_book(size).get("book.txt").unwrap()[..]);
    let floor = Duration::from_secs_f64(size as f64 / rate as f64);
    assert!(
        elapsed >= floor,
        "{size} bytes at {rate} B/s took {elapsed:?} < {floor:?}"
    );
}

#[test]
fn bandwidth_paces_files_from_a_folder_too() {
    let dir = tempfile::tempdir().unwrap();
    let content = vec![b'x'; 50_000];
    std::fs::write(dir.path().join("f.txt"), &content).unwrap();
    let rate = 100_000;
    let server = start(ServerConfig {
        bandwidth: Some(rate),
        ..ServerConfig::dir(dir.path())
    })
    .unwrap();
    let began = Instant::now();
    let bytes = reqwest::blocking::get(server.url_for("f.txt"))
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(&bytes[..], &content[..]);
    assert!(
        began.elapsed() >= Duration::from_millis(500),
        "took {:?}",
        began.elapsed()
    );
}

#[test]
fn slow_client_defences_spare_slow_simulated_responses() {
    // Latency and pacing far beyond both timeouts: the server is slow on purpose, the client is not.
    let size = 20_000;
    let config = ServerConfig {
        latency: Duration::from_millis(600),
        bandwidth: Some(20_000),
        header_read_timeout: Duration::from_millis(100),
        idle_timeout: Duration::from_millis(100),
        ..ServerConfig::books(one_book(size))
    };
    let server = start(config).unwrap();
    for _ in 0..2 {
        // A fresh connection each time: a kept-alive one may meet the 100 ms idle close.
        let bytes = reqwest::blocking::get(server.url_for("book.txt"))
            .unwrap()
            .bytes()
            .unwrap();
        assert_eq!(bytes.len(), size);
    }
    let stats = server.stats();
    assert_eq!((stats.stalled, stats.header_timeouts), (0, 0), "{stats:?}");
}
