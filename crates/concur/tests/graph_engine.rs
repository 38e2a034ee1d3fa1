//! The engine under `Graph::run` at scale and at its edges: graphs by position, failure and
//! cancel cascades down long chains, handles made late, several pools, a pool that refuses,
//! worker processes in the same graph.

use std::sync::mpsc;
use std::sync::Arc;

use concur::graph::{Graph, NodeId};
use concur::{Error, ProcessPool, State, ThreadPool};

concur::enable_test_workers!();

#[cfg(miri)]
const SCALE: u64 = 4;
#[cfg(not(miri))]
const SCALE: u64 = 1 << 14;

#[test]
fn a_tree_and_a_wavefront_by_position_compute_what_sequential_code_does() {
    let pool = ThreadPool::new(2).unwrap();
    let mut g = Graph::new();
    let mut level: Vec<NodeId> = (0..SCALE)
        .map(|i| g.push_fn(&[], &pool, move |_| i).unwrap())
        .collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| g.push_fn(pair, &pool, |v| v.iter().sum()).unwrap())
            .collect();
    }
    let run = g.run().unwrap();
    assert_eq!(run.node(level[0]).result(), Ok(SCALE * (SCALE - 1) / 2));
    assert_eq!(run.stats().ran as u64, 2 * SCALE - 1);

    let side = 64;
    let cell = |up: u64, left: u64| up.wrapping_mul(31).wrapping_add(left) ^ 1;
    let mut expected = vec![vec![0u64; side]; side];
    let mut g = Graph::new();
    let mut ids = vec![vec![]; side];
    for i in 0..side {
        for j in 0..side {
            let up = if i > 0 { expected[i - 1][j] } else { 0 };
            let left = if j > 0 { expected[i][j - 1] } else { 0 };
            expected[i][j] = if i + j == 0 { 1 } else { cell(up, left) };
            let mut deps = vec![];
            if i > 0 {
                deps.push(ids[i - 1][j]);
            }
            if j > 0 {
                deps.push(ids[i][j - 1]);
            }
            let id = g
                .push_fn(&deps, &pool, move |v: Vec<u64>| match (i, j) {
                    (0, 0) => 1,
                    (0, _) => cell(0, v[0]),
                    (_, 0) => cell(v[0], 0),
                    _ => cell(v[0], v[1]),
                })
                .unwrap();
            ids[i].push(id);
        }
    }
    let run = g.run().unwrap();
    for i in [0, side / 2, side - 1] {
        for j in [0, 1, side - 1] {
            assert_eq!(
                run.node(ids[i][j]).result(),
                Ok(expected[i][j]),
                "cell {i},{j}"
            );
        }
    }
}

#[test]
fn a_failure_travels_down_a_long_chain_naming_where_it_began() {
    let pool = ThreadPool::new(2).unwrap();
    let mut g = Graph::<u64>::new();
    let first = g
        .push_fn(&[], &pool, |_| panic!("disk full at block 7"))
        .unwrap();
    let mut last = first;
    for _ in 0..100_000 {
        last = g.push_fn(&[last], &pool, |v| v[0] + 1).unwrap();
    }
    let run = g.run().unwrap();
    let err = run.node(last).error().unwrap();
    assert_eq!(
        err.to_string(),
        "dependency `#99999` failed, because `#0` failed: task panicked: disk full at block 7"
    );
    assert_eq!(run.node(last).state(), State::Finished);
    assert_eq!(run.stats().ran, 1, "only the first node ran");
}

#[test]
fn unknown_positions_are_errors_naming_them() {
    let pool = ThreadPool::new(1).unwrap();
    let mut a = Graph::<u64>::new();
    let mut b = Graph::<u64>::new();
    let x = a.push_fn(&[], &pool, |_| 1).unwrap();
    let y = a.push_fn(&[x], &pool, |v| v[0]).unwrap();
    assert_eq!(
        b.push_fn(&[y], &pool, |v| v[0]).err(),
        Some(Error::Config(
            "graph node #0 depends on #1, which is not declared".into()
        ))
    );
    assert_eq!(a.id("nothing"), None);
}

#[test]
fn a_handle_asked_for_late_reads_running_then_the_value_and_cancel_cascades() {
    let pool = ThreadPool::new(2).unwrap();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let mut g = Graph::<u64>::new();
    g.add_fn("gate", &[], &pool, move |_| {
        started_tx.send(()).unwrap();
        go_rx.recv().map_or(0, |_| 5)
    })
    .unwrap();
    g.add_fn("double", &["gate"], &pool, |v| v[0] * 2).unwrap();
    g.add_fn("skipped", &["gate"], &pool, |v| v[0]).unwrap();
    g.add_fn("after_skipped", &["skipped"], &pool, |v| v[0])
        .unwrap();
    let run = g.run().unwrap();
    started_rx.recv().unwrap();
    assert_eq!(run.handle("gate").unwrap().state(), State::Running);
    assert!(
        !run.handle("gate").unwrap().cancel(),
        "a running closure runs on"
    );
    assert!(run.handle("skipped").unwrap().cancel());
    // Never asked for before: made now, already cancelled by the cascade.
    let after = run.handle("after_skipped").unwrap();
    assert_eq!(after.state(), State::Cancelled);
    assert_eq!(
        after.error().unwrap().to_string(),
        "dependency `skipped` failed: task was cancelled"
    );
    go_tx.send(()).unwrap();
    assert_eq!(run.handle("double").unwrap().result(), Ok(10));
    run.wait();
    // Asked for after the end: made finished.
    assert_eq!(run.handle("gate").unwrap().result(), Ok(5));
    let dot = run.to_dot();
    assert!(
        dot.contains("Cancelled: dependency `skipped` failed"),
        "{dot}"
    );
}

#[test]
fn nodes_on_two_pools_run_on_their_own_pool() {
    let left = ThreadPool::builder()
        .workers(1)
        .thread_name("left")
        .build()
        .unwrap();
    let right = ThreadPool::builder()
        .workers(2)
        .thread_name("right")
        .build()
        .unwrap();
    let here = || std::thread::current().name().unwrap_or("").to_owned();
    let mut g = Graph::<String>::new();
    let mut ids = vec![];
    for i in 0..40 {
        let pool = if i % 2 == 0 { &left } else { &right };
        let deps: Vec<NodeId> = ids.last().copied().into_iter().collect();
        ids.push(g.push_fn(&deps, pool, move |_| here()).unwrap());
    }
    let run = g.run().unwrap();
    for (i, &id) in ids.iter().enumerate() {
        let thread = run.node(id).result().unwrap();
        let want = if i % 2 == 0 { "left-" } else { "right-" };
        assert!(thread.starts_with(want), "node {i} ran on {thread}");
    }
}

#[test]
fn a_pool_that_refuses_fails_its_nodes_and_their_dependents() {
    let pool = ThreadPool::new(1).unwrap();
    let other = ThreadPool::new(1).unwrap();
    let mut g = Graph::<u64>::new();
    g.add_fn("a", &[], &pool, |_| 1).unwrap();
    g.add_fn("b", &["a"], &other, |v| v[0] + 1).unwrap();
    g.add_fn("c", &["b"], &pool, |v| v[0] + 1).unwrap();
    other.shutdown(true, false);
    let run = g.run().unwrap();
    run.wait();
    assert_eq!(run.handle("a").unwrap().result(), Ok(1));
    assert_eq!(run.handle("b").unwrap().result(), Err(Error::Shutdown));
    assert_eq!(
        run.handle("c").unwrap().error().unwrap().to_string(),
        format!("dependency `b` failed: {}", Error::Shutdown)
    );
}

fn square(x: u64) -> u64 {
    x * x
}
concur::task! { static SQUARE: fn(u64) -> u64 = square; }

fn refuse(x: u64) -> u64 {
    panic!("worker refuses {x}")
}
concur::task! { static REFUSE: fn(u64) -> u64 = refuse; }

#[test]
fn worker_processes_and_threads_share_one_graph() {
    let threads = ThreadPool::new(2).unwrap();
    let processes = Arc::new(ProcessPool::new(2).unwrap());
    let mut g = Graph::<u64>::new();
    g.add_fn("seed", &[], &threads, |_| 7).unwrap();
    g.add_task("square", &["seed"], &processes, &SQUARE, |v| v[0])
        .unwrap();
    g.add_task("bad", &["seed"], &processes, &REFUSE, |v| v[0])
        .unwrap();
    g.add_fn("plus_one", &["square"], &threads, |v| v[0] + 1)
        .unwrap();
    g.add_fn("never", &["bad", "plus_one"], &threads, |v| v[0])
        .unwrap();
    let run = g.run().unwrap();
    assert_eq!(run.handle("plus_one").unwrap().result(), Ok(50));
    assert_eq!(
        run.handle("never").unwrap().error().unwrap().to_string(),
        "dependency `bad` failed: task panicked: worker refuses 7"
    );
    let stats = run.stats();
    assert_eq!(stats.ran, 4, "{stats:?}");
    assert_eq!(
        stats.critical_path.first().map(String::as_str),
        Some("seed")
    );
}

#[test]
fn racing_cancels_and_late_handles_leave_every_chain_consistent() {
    let pool = ThreadPool::new(2).unwrap();
    let rounds = if cfg!(miri) { 2 } else { 300 };
    for round in 0..rounds {
        let mut g = Graph::<u64>::new();
        let mut chain = vec![g.push_fn(&[], &pool, |_| 0).unwrap()];
        for _ in 0..40 {
            let last = *chain.last().unwrap();
            chain.push(g.push_fn(&[last], &pool, |v| v[0] + 1).unwrap());
        }
        let run = g.run().unwrap();
        let k = 1 + round % 39;
        let cancelled = run.node(chain[k]).cancel();
        run.wait();
        for (i, &id) in chain.iter().enumerate() {
            let h = run.node(id);
            match (cancelled, i >= k) {
                (true, true) => assert_eq!(h.state(), State::Cancelled, "round {round} node {i}"),
                _ => assert_eq!(h.result(), Ok(i as u64), "round {round} node {i}"),
            }
        }
    }
}
