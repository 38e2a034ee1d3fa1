//! A thousand concurrent clients on loopback: every one gets its whole book, and the connection limit
//! makes the excess wait instead of failing.

mod serve_common;

use std::sync::Arc;

use concur_cli::serve::{start, Books, RunningServer, ServerConfig};

const CLIENTS: usize = if cfg!(miri) { 10 } else { 1000 };

/// The seed books if the shared data is present, else eight synthetic ones; (name, bytes).
fn corpus() -> Vec<(String, Vec<u8>)> {
    if let Some(dir) = serve_common::seed_books() {
        let mut books: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .collect();
        books.sort();
        return books;
    }
    eprintln!("seed books not found; using a synthetic corpus");
    (0..8)
        .map(|i| {
            (
                format!("book {i}.txt"),
                vec![b'a' + i as u8; 100_000 + i * 50_000],
            )
        })
        .collect()
}

/// Fetches `CLIENTS` of `books` from `server` at once over separate connections; returns how many came
/// back intact.
fn fetch_all(server: &RunningServer, books: Vec<(String, Vec<u8>)>) -> usize {
    let urls: Vec<_> = books
        .into_iter()
        .map(|(name, bytes)| (server.url_for(&name), Arc::new(bytes)))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // One client per task: no connection reuse, so the server really sees CLIENTS connections.
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let (url, expected) = urls[i % urls.len()].clone();
                tokio::spawn(async move {
                    let client = reqwest::Client::builder()
                        .pool_max_idle_per_host(0)
                        .build()
                        .unwrap();
                    match client
                        .get(&url)
                        .send()
                        .await
                        .and_then(|r| r.error_for_status())
                    {
                        Ok(response) => match response.bytes().await {
                            Ok(bytes) if bytes[..] == expected[..] => true,
                            Ok(bytes) => {
                                panic!("{url}: {} bytes, wanted {}", bytes.len(), expected.len())
                            }
                            Err(e) => panic!("{url}: body: {e}"),
                        },
                        Err(e) => panic!("{url}: {e}"),
                    }
                })
            })
            .collect();
        let mut intact = 0;
        for task in tasks {
            intact += usize::from(task.await.unwrap());
        }
        intact
    })
}

#[test]
fn a_thousand_clients_fetch_books_from_a_folder() {
    let dir = serve_common::seed_books();
    let books = corpus();
    let server = match &dir {
        Some(dir) => start(ServerConfig::dir(dir)).unwrap(),
        None => start(ServerConfig::books(
            Books::try_from_iter(books.clone()).unwrap(),
        ))
        .unwrap(),
    };
    assert_eq!(fetch_all(&server, books), CLIENTS);
    let stats = server.stats();
    assert_eq!(stats.requests, CLIENTS as u64);
    assert!(stats.peak_open <= 1024, "{stats:?}");
}

#[test]
fn the_connection_limit_queues_the_excess() {
    let limit = 64;
    let books: Vec<_> = (0..8)
        .map(|i| (format!("b{i}.txt"), vec![b'0' + i as u8; 20_000]))
        .collect();
    let config = ServerConfig {
        max_connections: limit,
        ..ServerConfig::books(Books::try_from_iter(books.clone()).unwrap())
    };
    let server = start(config).unwrap();
    assert_eq!(fetch_all(&server, books), CLIENTS);
    let stats = server.stats();
    assert!(
        stats.peak_open <= limit,
        "{} connections open at once, limit {limit}",
        stats.peak_open
    );
    assert_eq!(stats.accepted, CLIENTS as u64);
}
