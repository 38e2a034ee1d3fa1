//! Declared graphs: values, unknown names, duplicates, cycles named, DOT, and run statistics
//! checked by invariants that hold whatever the timings.

use std::sync::Arc;

use concur::graph::Graph;
use concur::{Error, Executor, Sequential, State, ThreadPool};

fn add_one(x: u64) -> u64 {
    x + 1
}
concur::task! { static ADD_ONE: fn(u64) -> u64 = add_one; }

/// A diamond with a tail: a -> {b, c} -> d -> e.
fn diamond(pool: &ThreadPool) -> Graph<u64> {
    let mut g = Graph::new();
    g.add_fn("e", &["d"], pool, |v| v[0] * 10).unwrap();
    g.add_fn("d", &["b", "c"], pool, |v| v[0] + v[1]).unwrap();
    g.add_fn("b", &["a"], pool, |v| v[0] + 1).unwrap();
    g.add_fn("c", &["a"], pool, |v| v[0] + 2).unwrap();
    g.add_fn("a", &[], pool, |_| 1).unwrap();
    g
}

#[test]
fn nodes_declared_in_any_order_compute_their_values() {
    let pool = ThreadPool::new(2).unwrap();
    let run = diamond(&pool).run().unwrap();
    assert_eq!(run.handle("e").unwrap().result(), Ok(50));
    let values: Vec<(String, u64)> = run
        .handles()
        .map(|(n, h)| (n.to_owned(), h.result().unwrap()))
        .collect();
    assert_eq!(values.len(), 5);
    assert!(run.handle("zzz").is_none());
}

#[test]
fn registered_tasks_on_any_executor_join_a_graph() {
    let seq = Arc::new(Sequential);
    let pool = Arc::new(ThreadPool::new(2).unwrap());
    let mut g = Graph::new();
    g.add_task("one", &[], &seq, &ADD_ONE, |_| 0).unwrap();
    g.add_task("two", &["one"], &pool, &ADD_ONE, |v| v[0])
        .unwrap();
    g.add_with("three", &["two"], move |v| pool.submit_task(&ADD_ONE, v[0]))
        .unwrap();
    let run = g.run().unwrap();
    assert_eq!(run.handle("three").unwrap().result(), Ok(3));
    assert_eq!(run.stats().ran, 3);
}

#[test]
fn cycles_are_rejected_and_named() {
    let pool = ThreadPool::new(1).unwrap();
    let mut g = Graph::<u64>::new();
    g.add_fn("load", &[], &pool, |_| 0).unwrap();
    g.add_fn("parse", &["load", "check"], &pool, |v| v[0])
        .unwrap();
    g.add_fn("index", &["parse"], &pool, |v| v[0]).unwrap();
    g.add_fn("check", &["index"], &pool, |v| v[0]).unwrap();
    let err = g.run().err().unwrap();
    assert_eq!(
        err,
        Error::Cycle(vec![
            "parse".into(),
            "index".into(),
            "check".into(),
            "parse".into()
        ])
    );
    assert_eq!(
        err.to_string(),
        "dependency cycle: parse -> index -> check -> parse"
    );

    let mut selfish = Graph::<u64>::new();
    selfish.add_fn("me", &["me"], &pool, |v| v[0]).unwrap();
    assert_eq!(
        selfish.run().err(),
        Some(Error::Cycle(vec!["me".into(), "me".into()]))
    );
}

#[test]
fn unknown_and_duplicate_names_are_errors_naming_them() {
    let pool = ThreadPool::new(1).unwrap();
    let mut g = Graph::<u64>::new();
    g.add_fn("a", &[], &pool, |_| 0).unwrap();
    let dup = g.add_fn("a", &[], &pool, |_| 0).err().unwrap();
    assert_eq!(
        dup,
        Error::Config("graph node `a` is declared twice".into())
    );
    g.add_fn("b", &["a", "ghost"], &pool, |v| v[0]).unwrap();
    assert_eq!(
        g.run().err(),
        Some(Error::Config(
            "graph node `b` depends on `ghost`, which is not declared".into()
        ))
    );
}

#[test]
fn a_failing_node_fails_its_dependents_by_name_only() {
    let pool = ThreadPool::new(2).unwrap();
    let mut g = Graph::<u64>::new();
    g.add_fn("fetch", &[], &pool, |_| {
        panic!("http://127.0.0.1:1/book returned 404")
    })
    .unwrap();
    g.add_fn("count", &["fetch"], &pool, |v| v[0]).unwrap();
    g.add_fn("report", &["count", "side"], &pool, |v| v[0] + v[1])
        .unwrap();
    g.add_fn("side", &[], &pool, |_| 7).unwrap();
    let run = g.run().unwrap();
    assert_eq!(run.handle("side").unwrap().result(), Ok(7));
    assert_eq!(
        run.handle("report").unwrap().error().unwrap().to_string(),
        "dependency `count` failed, because `fetch` failed: task panicked: http://127.0.0.1:1/book returned 404"
    );
    let stats = run.stats();
    assert_eq!(
        stats.ran, 2,
        "fetch ran (and failed), side ran; count and report never ran"
    );
    let dot = run.to_dot();
    assert!(dot.contains("\"fetch\" -> \"count\";"), "{dot}");
    assert!(dot.contains("Finished: task panicked"), "{dot}");
}

#[test]
fn cancelling_a_node_cancels_what_depends_on_it() {
    let pool = ThreadPool::new(1).unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let mut g = Graph::<u64>::new();
    g.add_fn("gate", &[], &pool, move |_| rx.recv().map_or(0, |_| 1))
        .unwrap();
    g.add_fn("after_gate", &["gate"], &pool, |v| v[0]).unwrap();
    g.add_fn("last", &["after_gate"], &pool, |v| v[0]).unwrap();
    let run = g.run().unwrap();
    assert!(run.handle("after_gate").unwrap().cancel());
    assert_eq!(run.handle("last").unwrap().state(), State::Cancelled);
    tx.send(()).unwrap();
    assert_eq!(run.handle("gate").unwrap().result(), Ok(1));
}

#[test]
fn dot_export_lists_every_node_and_edge() {
    let pool = ThreadPool::new(1).unwrap();
    let g = diamond(&pool);
    let dot = g.to_dot();
    assert!(dot.starts_with("digraph concur {"));
    for edge in [
        "\"a\" -> \"b\"",
        "\"a\" -> \"c\"",
        "\"b\" -> \"d\"",
        "\"c\" -> \"d\"",
        "\"d\" -> \"e\"",
    ] {
        assert!(dot.contains(edge), "{edge} missing from {dot}");
    }
    assert_eq!(dot.matches(" -> ").count(), 5);
    assert_eq!(g.len(), 5);
}

#[test]
fn stats_critical_path_is_a_real_chain_bounded_by_wall_and_task_time() {
    let pool = ThreadPool::new(2).unwrap();
    let busy = |n: u64| (0..n * 100_000).fold(0u64, |a, x| a.wrapping_add(x ^ a));
    let mut g = Graph::<u64>::new();
    g.add_fn("a", &[], &pool, move |_| busy(3)).unwrap();
    g.add_fn("b", &["a"], &pool, move |v| v[0] ^ busy(2))
        .unwrap();
    g.add_fn("c", &["a"], &pool, move |v| v[0] ^ busy(2))
        .unwrap();
    g.add_fn("d", &["b", "c"], &pool, move |v| v[0] ^ v[1] ^ busy(1))
        .unwrap();
    let run = g.run().unwrap();
    let s = run.stats();
    assert_eq!(s.ran, 4);
    // Every graph path from a source to the sink goes a -> (b or c) -> d.
    assert_eq!(s.critical_path.first().map(String::as_str), Some("a"));
    assert_eq!(s.critical_path.last().map(String::as_str), Some("d"));
    assert_eq!(s.critical_path.len(), 3);
    // A chain's tasks run one after another inside the run, so they fit in its wall time; the
    // chain is part of all the work done.
    assert!(s.critical_path_time <= s.wall, "{s:?}");
    assert!(s.critical_path_time <= s.task_time, "{s:?}");
    assert!((s.parallelism - s.task_time.as_secs_f64() / s.wall.as_secs_f64()).abs() < 1e-9);
}
