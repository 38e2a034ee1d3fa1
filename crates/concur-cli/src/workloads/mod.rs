//! The experiments, each a plain function registered as a task.
