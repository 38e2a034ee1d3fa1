//! What the book server answers for good, missing and hostile paths, and which configurations it refuses.

mod serve_common;

use concur_cli::serve::{start, url_for, Books, ServeError, ServerConfig};
use serve_common::{body, get_raw, status, Tree, SECRET};

#[test]
fn serves_files_and_404s_missing_ones() {
    let tree = Tree::new();
    let server = start(ServerConfig::dir(tree.served())).unwrap();
    let addr = server.local_addr();
    assert!(addr.ip().is_loopback());
    let answer = get_raw(addr, "/a.txt");
    assert_eq!(status(&answer), 200);
    assert_eq!(body(&answer), b"alpha");
    assert_eq!(body(&get_raw(addr, "/sub/b.txt")), b"beta");
    let missing = get_raw(addr, "/no-such-book.txt");
    assert_eq!(status(&missing), 404);
    assert!(String::from_utf8_lossy(body(&missing)).contains("no-such-book.txt"));
    server.shutdown().unwrap();
}

#[test]
fn refuses_traversal_in_every_spelling() {
    let tree = Tree::new();
    let server = start(ServerConfig::dir(tree.served())).unwrap();
    let addr = server.local_addr();
    for target in [
        "/../outside/secret.txt",
        "/sub/../../outside/secret.txt",
        "/%2e%2e/outside/secret.txt",
        "/%2E%2E/outside/secret.txt",
        "/.%2e/outside/secret.txt",
        "/..%2foutside%2fsecret.txt",
        "/sub%2f..%2f..%2foutside%2fsecret.txt",
        "/..%5coutside%5csecret.txt",
        "/..\\outside\\secret.txt",
        "//etc/passwd",
        "/%2fetc/passwd",
        "/%00",
    ] {
        let answer = get_raw(addr, target);
        assert!(
            status(&answer) == 400 || status(&answer) == 404,
            "{target}: {}",
            String::from_utf8_lossy(&answer)
        );
        assert!(
            !String::from_utf8_lossy(&answer).contains(SECRET),
            "{target} leaked the secret"
        );
    }
    // Absolute-form request target naming a file outside: only its path counts, and that is refused.
    let absolute = get_raw(addr, "http://test/../outside/secret.txt");
    assert!(!String::from_utf8_lossy(&absolute).contains(SECRET));
    assert_eq!(status(&get_raw(addr, "/etc/passwd")), 404);
}

#[cfg(unix)]
#[test]
fn symlinks_may_not_leave_the_folder() {
    let tree = Tree::new();
    let server = start(ServerConfig::dir(tree.served())).unwrap();
    let addr = server.local_addr();
    assert_eq!(
        body(&get_raw(addr, "/inside.txt")),
        b"alpha",
        "a symlink inside the folder is served"
    );
    for target in ["/escape.txt", "/escape_dir/secret.txt"] {
        let answer = get_raw(addr, target);
        assert_eq!(status(&answer), 404, "{target}");
        assert!(
            !String::from_utf8_lossy(&answer).contains(SECRET),
            "{target} leaked the secret"
        );
    }
}

#[test]
fn reqwest_fetches_encoded_names_from_memory() {
    let books = Books::try_from_iter([
        ("A Tale.txt", &b"it was the best of times"[..]),
        ("b.txt", b"b"),
    ])
    .unwrap();
    let server = start(ServerConfig::books(books)).unwrap();
    let url = server.url_for("A Tale.txt");
    assert!(url.ends_with("/A%20Tale.txt"), "{url}");
    let response = reqwest::blocking::get(&url).unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().unwrap(), "it was the best of times");
    let missing = reqwest::blocking::get(server.url_for("nope.txt")).unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.text().unwrap().contains("nope.txt"));
    let post = reqwest::blocking::Client::new()
        .post(server.url_for("b.txt"))
        .send()
        .unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(status(&get_raw(server.local_addr(), "/../b.txt")), 400);
}

#[test]
fn bad_book_names_are_refused_by_name() {
    for name in ["", "..", ".", "a/b", "a\\b"] {
        match Books::new().insert(name, "x") {
            Err(ServeError::Config(msg)) => assert!(msg.contains(&format!("{name:?}")), "{msg}"),
            other => panic!("{name:?}: {other:?}"),
        }
    }
}

#[test]
fn refuses_non_loopback_and_bad_settings() {
    let tree = Tree::new();
    let open = ServerConfig {
        addr: "0.0.0.0:0".parse().unwrap(),
        ..ServerConfig::dir(tree.served())
    };
    match start(open) {
        Err(e @ ServeError::NonLoopback { .. }) => assert!(e.to_string().contains("0.0.0.0:0")),
        other => panic!("non-loopback address accepted: {other:?}"),
    }
    let missing = tree.root.path().join("missing");
    match start(ServerConfig::dir(&missing)) {
        Err(e @ ServeError::Dir { .. }) => {
            assert!(e.to_string().contains(&*missing.to_string_lossy()))
        }
        other => panic!("missing folder accepted: {other:?}"),
    }
    let file = ServerConfig::dir(tree.served().join("a.txt"));
    assert!(matches!(start(file), Err(ServeError::Dir { .. })));
    let zero = ServerConfig {
        bandwidth: Some(0),
        ..ServerConfig::dir(tree.served())
    };
    assert!(matches!(start(zero), Err(ServeError::Config(m)) if m.contains("bandwidth")));
    let none = ServerConfig {
        max_connections: 0,
        ..ServerConfig::dir(tree.served())
    };
    assert!(matches!(start(none), Err(ServeError::Config(m)) if m.contains("max_connections")));
}

#[test]
fn url_for_encodes_one_segment() {
    assert_eq!(
        url_for("http://127.0.0.1:8000/", "Pride and prejudice.txt"),
        "http://127.0.0.1:8000/Pride%20and%20prejudice.txt"
    );
    assert_eq!(url_for("http://h", "a/b?c#d"), "http://h/a%2Fb%3Fc%23d");
}

#[test]
fn shutdown_closes_the_port() {
    let tree = Tree::new();
    let server = start(ServerConfig::dir(tree.served())).unwrap();
    let addr = server.local_addr();
    assert_eq!(status(&get_raw(addr, "/a.txt")), 200);
    server.shutdown().unwrap();
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "still accepting after shutdown"
    );
}

#[test]
fn ipv6_loopback_is_served_with_a_bracketed_url() {
    let tree = Tree::new();
    let config = ServerConfig {
        addr: "[::1]:0".parse().unwrap(),
        ..ServerConfig::dir(tree.served())
    };
    let server = match start(config) {
        Ok(server) => server,
        Err(ServeError::Bind { source, .. }) => {
            return eprintln!("no IPv6 loopback here ({source}); skipped")
        }
        Err(e) => panic!("{e}"),
    };
    assert!(
        server.base_url().starts_with("http://[::1]:"),
        "{}",
        server.base_url()
    );
    assert_eq!(
        reqwest::blocking::get(server.url_for("a.txt"))
            .unwrap()
            .text()
            .unwrap(),
        "alpha"
    );
}
