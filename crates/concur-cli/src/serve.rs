//! The book server (issue 5).
