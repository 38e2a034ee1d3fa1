//! An in-memory set of books, served without touching the file system (for `concur bench` and tests).
//!
//! Contract: every name is one non-empty path segment (no `/`, `\`, NUL, `.` or `..`), checked when the
//! book is added; `GET`/`HEAD /{percent-encoded name}` answers the bytes as `text/plain; charset=utf-8`
//! with an exact `content-length`; an unknown name is a `404` naming it, any other method a `405`.
//! The bytes are shared (`Bytes`), never copied per request.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::guard::{decode, DecodedPath};
use super::ServeError;

/// Named books held in memory; the server answers `/{name}` with the bytes.
#[derive(Clone, Debug, Default)]
pub struct Books {
    by_name: BTreeMap<String, Bytes>,
}

impl Books {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the book `name`; `Err(ServeError::Config)` names a name that is not one path segment.
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        bytes: impl Into<Bytes>,
    ) -> Result<(), ServeError> {
        let name = name.into();
        let encoded =
            percent_encoding::utf8_percent_encode(&name, percent_encoding::NON_ALPHANUMERIC);
        match decode(&format!("/{encoded}")) {
            Ok(DecodedPath(segments)) if segments.len() == 1 => {
                self.by_name.insert(name, bytes.into());
                Ok(())
            }
            _ => Err(ServeError::Config(format!(
                "book name {name:?} is not a single path segment"
            ))),
        }
    }

    /// Builds a set from `(name, bytes)` pairs; the first invalid name is the error.
    pub fn try_from_iter<N, B>(books: impl IntoIterator<Item = (N, B)>) -> Result<Self, ServeError>
    where
        N: Into<String>,
        B: Into<Bytes>,
    {
        let mut set = Self::new();
        for (name, bytes) in books {
            set.insert(name, bytes)?;
        }
        Ok(set)
    }

    /// The book names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// The bytes of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&Bytes> {
        self.by_name.get(name)
    }

    /// How many books.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// True when there are no books.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// The router's fallback in books mode; runs after the guard middleware stored the decoded path.
pub(super) async fn answer(
    State(books): State<Arc<Books>>,
    method: Method,
    Extension(DecodedPath(segments)): Extension<DecodedPath>,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            format!("method {method} not allowed"),
        )
            .into_response();
    }
    let name = segments.join("/");
    match (segments.len(), books.get(&name)) {
        (1, Some(bytes)) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            Body::from(bytes.clone()),
        )
            .into_response(),
        _ => (StatusCode::NOT_FOUND, format!("no book named {name:?}")).into_response(),
    }
}
