//! Which request paths the server answers, decided before any file is touched.
//!
//! Contract: [`decode`] accepts only `/` followed by `/`-separated segments that each percent-decode (once)
//! to valid UTF-8 naming one ordinary path component: no `.` or `..` (raw or encoded, e.g. `%2e%2e`), no
//! encoded separators (`%2f`, `%5c`), no backslash, no NUL, no empty segment except a trailing one.
//! Anything else is a `400 Bad Request` naming the path. [`contained`] then resolves every symlink of the
//! decoded path inside the served folder and answers `false` when the real file lies outside it (the
//! server turns that into a `404`, so it reveals nothing about the outside). The check and the later open
//! are two steps: a symlink swapped in between by someone with write access to the folder is not covered.

use std::path::{Component, Path, PathBuf};

use percent_encoding::percent_decode_str;

/// The decoded segments of an accepted request path (`/` gives none), stored as a request extension.
#[derive(Clone, Debug)]
pub(super) struct DecodedPath(pub(super) Vec<String>);

/// Decodes and checks `path` (the request target's path, without the query); `Err` says why it is refused.
pub(super) fn decode(path: &str) -> Result<DecodedPath, String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!("path {path:?} does not start with '/'"));
    };
    let mut segments = Vec::new();
    let raw: Vec<&str> = rest.split('/').collect();
    for (i, seg) in raw.iter().enumerate() {
        if seg.is_empty() {
            if i + 1 == raw.len() {
                break; // "/" or a trailing slash
            }
            return Err(format!("path {path:?} has an empty segment"));
        }
        let lower = seg.to_ascii_lowercase();
        if seg.contains('\\') || lower.contains("%2f") || lower.contains("%5c") {
            return Err(format!(
                "path {path:?} has an encoded or backslash separator"
            ));
        }
        let decoded = percent_decode_str(seg)
            .decode_utf8()
            .map_err(|_| format!("path {path:?} does not decode to UTF-8"))?;
        if decoded.contains('\0') {
            return Err(format!("path {path:?} contains NUL"));
        }
        let mut parts = Path::new(decoded.as_ref()).components();
        match (parts.next(), parts.next()) {
            (Some(Component::Normal(_)), None) => segments.push(decoded.into_owned()),
            _ => {
                return Err(format!(
                    "path {path:?} has a segment {decoded:?} that leaves or names the folder"
                ))
            }
        }
    }
    Ok(DecodedPath(segments))
}

/// True when `segments` under `root` (already canonical) exist and resolve, symlinks followed, inside `root`.
pub(super) async fn contained(root: &Path, segments: &[String]) -> bool {
    let joined: PathBuf = segments.iter().fold(root.to_path_buf(), |p, s| p.join(s));
    match tokio::fs::canonicalize(&joined).await {
        Ok(real) => real.starts_with(root),
        Err(_) => false,
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn ok(path: &str) -> Vec<String> {
        decode(path)
            .unwrap_or_else(|e| panic!("{path} refused: {e}"))
            .0
    }

    #[test]
    fn accepts_plain_and_encoded_names() {
        assert_eq!(ok("/"), Vec::<String>::new());
        assert_eq!(
            ok("/Alice%20in%20Wonderland.txt"),
            ["Alice in Wonderland.txt"]
        );
        assert_eq!(ok("/sub/a.txt"), ["sub", "a.txt"]);
        assert_eq!(ok("/sub/"), ["sub"]);
        assert_eq!(ok("/..x"), ["..x"]);
    }

    #[test]
    fn refuses_traversal_separators_and_garbage() {
        for bad in [
            "/../etc/passwd",
            "/a/../../b",
            "/%2e%2e/etc/passwd",
            "/%2E%2e/x",
            "/.%2e/x",
            "/./a",
            "/..%2fetc%2fpasswd",
            "/a%2Fb",
            "/a%5cb",
            "/a\\b",
            "//etc/passwd",
            "/a//b",
            "/%00",
            "/%ff",
            "etc/passwd",
            "*",
        ] {
            assert!(decode(bad).is_err(), "{bad} accepted");
        }
    }
}
