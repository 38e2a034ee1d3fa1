//! The async entry point `concur serve` uses: `serve(config, on_bound, shutdown)` on the caller's runtime.

mod serve_common;

use concur_cli::serve::{bind, serve, ServerConfig};

#[tokio::test(flavor = "current_thread")]
async fn serve_runs_on_the_callers_runtime_until_the_signal() {
    let tree = serve_common::Tree::new();
    let (url_tx, url_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        ServerConfig::dir(tree.served()),
        move |url: &str| drop(url_tx.send(url.to_string())),
        async move { drop(stop_rx.await) },
    ));
    let base = url_rx.await.expect("serve announced its URL");
    assert!(
        base.starts_with("http://127.0.0.1:") && !base.ends_with(":0"),
        "{base}"
    );
    let text = reqwest::get(format!("{base}/a.txt"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(text, "alpha");
    stop_tx.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(
        reqwest::get(format!("{base}/a.txt")).await.is_err(),
        "still serving after the signal"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn bind_reports_errors_before_serving() {
    let config = ServerConfig {
        addr: "192.0.2.1:80".parse().unwrap(),
        ..ServerConfig::dir(".")
    };
    let err = bind(config).await.err().expect("non-loopback refused");
    assert!(err.to_string().contains("192.0.2.1:80"), "{err}");
    let err = serve(
        ServerConfig::dir("/definitely/not/here"),
        |_: &str| {},
        async {},
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("/definitely/not/here"), "{err}");
}
