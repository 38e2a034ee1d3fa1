//! The two 1 M-node graphs of issue 6, declared as a [`Graph`] by position: shared by
//! `benches/graph.rs` and `examples/graph_profile.rs`, so both measure the same thing.

use concur::graph::{Graph, NodeId};
use concur::ThreadPool;

/// Leaves of the binary-tree reduction: 2^20 - 1 nodes in all.
pub const LEAVES: u64 = 1 << 19;
/// Side of the wavefront grid.
pub const SIDE: usize = 1000;

/// A wavefront cell's value from the cells above and to the left.
pub fn cell(up: u64, left: u64) -> u64 {
    up.wrapping_mul(31).wrapping_add(left) ^ 1
}

/// Declares the tree reduction of `0..LEAVES` on `pool`; returns the root.
pub fn tree(g: &mut Graph<u64>, pool: &ThreadPool) -> NodeId {
    let mut level: Vec<NodeId> = (0..LEAVES)
        .map(|i| g.push_fn(&[], pool, move |_| i).unwrap())
        .collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| g.push_fn(pair, pool, |v| v[0] + v[1]).unwrap())
            .collect();
    }
    level[0]
}

/// Declares the `SIDE` x `SIDE` wavefront on `pool`, cell (i, j) needing (i-1, j) and (i, j-1);
/// returns the last cell.
pub fn wavefront(g: &mut Graph<u64>, pool: &ThreadPool) -> NodeId {
    let mut above: Vec<NodeId> = Vec::new();
    for i in 0..SIDE {
        let mut row: Vec<NodeId> = Vec::with_capacity(SIDE);
        for j in 0..SIDE {
            let id = match (i, j) {
                (0, 0) => g.push_fn(&[], pool, |_| 1),
                (0, _) => g.push_fn(&[row[j - 1]], pool, |v| cell(0, v[0])),
                (_, 0) => g.push_fn(&[above[0]], pool, |v| cell(v[0], 0)),
                _ => g.push_fn(&[above[j], row[j - 1]], pool, |v| cell(v[0], v[1])),
            };
            row.push(id.unwrap());
        }
        above = row;
    }
    above[SIDE - 1]
}
