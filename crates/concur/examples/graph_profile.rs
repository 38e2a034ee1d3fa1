//! Where a declared graph's time and allocations go, per node, on the two 1 M-node shapes of
//! `benches/graph.rs`: building (`push_fn`), `run` (checks and set-up), running to the end, and dropping the run.
//! A counting global allocator counts allocations.
//!
//! `cargo run --release -p concur --example graph_profile [rounds]`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use concur::graph::{Graph, NodeId};
use concur::ThreadPool;

#[path = "../benches/common/graph_shapes.rs"]
mod graph_shapes;
use graph_shapes::{tree, wavefront};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator, which upholds the
// `GlobalAlloc` contract; the counter is a side effect only.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's layout is passed on as received.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout (above).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let pool = ThreadPool::new(2).unwrap();
    type Shape = fn(&mut Graph<u64>, &ThreadPool) -> NodeId;
    let shapes: [(&str, Shape); 2] = [("tree_1m", tree), ("wavefront_1m", wavefront)];
    println!("shape         build  run()  to-end   drop  total  (ns/node)  allocs/node");
    for _ in 0..rounds {
        for (name, shape) in shapes {
            let a0 = ALLOCS.load(Ordering::Relaxed);
            let t0 = Instant::now();
            let mut g = Graph::new();
            let last = shape(&mut g, &pool);
            let n = g.len() as f64;
            let t1 = Instant::now();
            let run = g.run().unwrap();
            let t2 = Instant::now();
            run.wait();
            let t3 = Instant::now();
            let _ = run.node(last).result().unwrap();
            drop(run);
            let t4 = Instant::now();
            let allocs = ALLOCS.load(Ordering::Relaxed) - a0;
            let ns = |a: Instant, b: Instant| (b - a).as_nanos() as f64 / n;
            println!(
                "{name:13} {:5.0}  {:5.0}  {:6.0}  {:5.0}  {:5.0}             {:11.2}",
                ns(t0, t1),
                ns(t1, t2),
                ns(t2, t3),
                ns(t3, t4),
                ns(t0, t4),
                allocs as f64 / n
            );
        }
    }
}
