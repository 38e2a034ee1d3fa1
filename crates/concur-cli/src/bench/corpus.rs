//! The bench's inputs: the books and the stop words, read or generated once before any timing.
//!
//! Contract: without `--books`, the corpus is always the synthetic one
//! ([`sources::synthetic`]) with its built-in stop words; it is never taken silently from
//! `../shared`. With `--books DIR`, the folder's `*.txt` books, and the stop words of
//! `--stop-words`, else `stop-words-english.txt` beside the folder, else the built-in list.
//! Every book is held in memory (the book server serves these bytes) and is also a file in
//! [`Corpus::folder`] (`DIR` itself, or a temporary folder holding the same bytes), which
//! fingerprint and the Python side read; the stop words are a file too, for Python. Errors name
//! the folder or file.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{json, Value};

use crate::sources::{self, synthetic};

/// The books and stop words of one bench run.
pub struct Corpus {
    /// `(name, bytes)`, in run order.
    pub books: Vec<(String, Vec<u8>)>,
    /// A folder with every book as `<name>.txt`.
    pub folder: PathBuf,
    /// The stop words.
    pub stop_words: Vec<String>,
    /// A file holding the stop words, one a line.
    pub stop_words_file: PathBuf,
    /// What ran, in one line: `synthetic Zipf, 8 books, N bytes` or the folder.
    pub about: String,
    /// The same for bench.json: `{"kind", "folder", "books", "bytes", "stop_words"}`.
    pub json: Value,
    /// Keeps the temporary files alive as long as the corpus.
    _temp: tempfile::TempDir,
}

impl Corpus {
    /// The corpus `--books` and `--stop-words` name (see the module doc).
    pub fn load(books: Option<&Path>, stop_words: Option<&Path>) -> anyhow::Result<Corpus> {
        let temp = tempfile::tempdir().context("cannot create a temporary folder")?;
        let (kind, folder, read) = match books {
            None => {
                let books = synthetic::books();
                for (name, bytes) in &books {
                    let path = temp.path().join(format!("{name}.txt"));
                    std::fs::write(&path, bytes)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                }
                ("synthetic", temp.path().to_path_buf(), books)
            }
            Some(dir) => {
                let text = dir.to_string_lossy();
                let mut read = Vec::new();
                for (name, location) in sources::resolve_books(Some(&text), None, 30.0)? {
                    read.push((name, location.read_all().map_err(anyhow::Error::msg)?));
                }
                ("folder", dir.to_path_buf(), read)
            }
        };
        let beside = books
            .and_then(Path::parent)
            .map(|p| p.join("stop-words-english.txt"))
            .filter(|p| p.is_file());
        let (stop_words, stop_words_file, stop_about) =
            match stop_words.map(Path::to_path_buf).or(beside) {
                Some(path) => {
                    let text = path.to_string_lossy().into_owned();
                    let words = sources::load_stop_words(Some(&text), 30.0)?;
                    (words, path, text)
                }
                None => {
                    let path = temp.path().join("stop-words.txt");
                    std::fs::write(&path, synthetic::stop_words_text())
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    let words = synthetic::STOP_WORDS.map(String::from).to_vec();
                    let about = format!("built-in ({} words)", words.len());
                    (words, path, about)
                }
            };
        let bytes: usize = read.iter().map(|(_, b)| b.len()).sum();
        let about = match kind {
            "synthetic" => format!("synthetic Zipf, {} books, {bytes} bytes", read.len()),
            _ => format!(
                "folder {}, {} books, {bytes} bytes",
                folder.display(),
                read.len()
            ),
        };
        let json = json!({
            "kind": kind,
            "folder": (kind == "folder").then(|| folder.display().to_string()),
            "books": read.len(),
            "bytes": bytes,
            "stop_words": stop_about,
        });
        Ok(Corpus {
            books: read,
            folder,
            stop_words,
            stop_words_file,
            about: format!("corpus: {about}; stop words: {stop_about}"),
            json,
            _temp: temp,
        })
    }

    /// The books as files, for fingerprint.
    pub fn locations(&self) -> Vec<(String, sources::Location)> {
        self.books
            .iter()
            .map(|(name, _)| {
                let path = self.folder.join(format!("{name}.txt"));
                (name.clone(), sources::Location::File(path))
            })
            .collect()
    }
}
