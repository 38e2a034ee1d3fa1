//! Books and stop words: from a folder, from a URL template, or from the seed's own public URLs.
//!
//! Contract:
//! - [`resolve_books`] turns `--source` and `--books` into `(name, Location)` pairs *before* any work
//!   starts, and fails (naming the folder or template) only on what makes the whole run
//!   impossible: a missing folder, a folder with no `*.txt`, a URL template without `{}` or
//!   without `--books`. A single missing or unreadable book is not caught here: it fails alone,
//!   later, in its own task.
//! - A folder's books are its `*.txt` files named by their stem, in name order; `--books` picks
//!   some of them in the order given. A URL template gets each name percent-encoded into its `{}`
//!   (a space becomes `%20`).
//! - Without `--source`, the seed's URL template and eight names; without `--stop-words`, the
//!   seed's stop-word URL. Those default downloads are cached under `dirs::cache_dir()/concur`, so
//!   a second run needs no network ([`Location::Cached`]).
//! - [`synthetic`] generates the bench's default corpus (eight deterministic books).
//! - [`Location::open`] streams (a `BufRead` over the file or the HTTP body, never the whole
//!   book in memory); [`Location::read_all`] reads everything (what PBKDF2 needs);
//!   [`Location::open_async`] streams chunk by chunk for `--mode async` (reqwest's async client).
//! - HTTP follows one policy, [`Http`], in both clients: a whole-request timeout (connecting,
//!   headers and body), a maximum body size (a larger `Content-Length` fails before the body is
//!   read; a body that grows past it fails when it does), and retries with exponential backoff
//!   on connection errors and 5xx answers only, never on 4xx, on a timeout (the time is spent),
//!   or once the body has started (its bytes may already be counted). A status other than 2xx
//!   is an error naming the URL, the status and the attempts made.

pub mod synthetic;

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{bail, Context};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};

/// What Python's `urllib.parse.quote(name, safe="")` encodes: all but letters, digits and `-._~`.
const QUOTE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The seed's book URL template (`{}` is the percent-encoded name).
pub const SEED_URL_TEMPLATE: &str =
    "https://raw.githubusercontent.com/yoavram/Py4Eng/master/data/{}.txt";

/// The seed's eight books, in the seed's order.
pub const SEED_BOOKS: [&str; 8] = [
    "Gulliver",
    "Alice in Wonderland",
    "Pride and prejudice",
    "Yellow wallpaper",
    "Metamorphosis",
    "A Tale of Two Cities",
    "The Importance of Being Earnest",
    "Frankenstein",
];

/// The seed's stop-word list (Alir3z4/stop-words, pinned commit, CC BY 4.0).
pub const SEED_STOP_WORDS: &str =
    "https://github.com/Alir3z4/stop-words/raw/25c6a0aea665871e887f155b883e950c3743ce50/english.txt";

/// Seconds an HTTP request may take, connecting and reading included, unless told otherwise.
pub const DEFAULT_TIMEOUT_SECONDS: f64 = 30.0;

/// The largest HTTP body accepted unless told otherwise: 1 GiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 1 << 30;

/// Retries after a connection error or a 5xx answer, unless told otherwise.
pub const DEFAULT_RETRIES: u32 = 2;

/// The first retry's delay in milliseconds, unless told otherwise; each later one doubles it.
pub const DEFAULT_BACKOFF_MS: u64 = 200;

/// How every HTTP request of a run behaves (see the module doc). Serializable: a task in another
/// process fetches with the same policy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Http {
    /// Seconds the whole request (connect, headers, body) may take.
    pub timeout_seconds: f64,
    /// The largest body accepted, in bytes.
    pub max_body_bytes: u64,
    /// Retries after a connection error or a 5xx answer.
    pub retries: u32,
    /// The first retry's delay in milliseconds; each later retry waits twice the one before.
    pub backoff_ms: u64,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            timeout_seconds: DEFAULT_TIMEOUT_SECONDS,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            retries: DEFAULT_RETRIES,
            backoff_ms: DEFAULT_BACKOFF_MS,
        }
    }
}

/// The default policy with this timeout in seconds.
impl From<f64> for Http {
    fn from(timeout_seconds: f64) -> Self {
        Http {
            timeout_seconds,
            ..Http::default()
        }
    }
}

/// What came back from one attempt, as [`Http::judge`] needs it: the status and `Content-Length`,
/// or the transport error.
type Answer<'a> = Result<(reqwest::StatusCode, Option<u64>), &'a reqwest::Error>;

impl Http {
    fn timeout(&self) -> Duration {
        Duration::try_from_secs_f64(self.timeout_seconds)
            .unwrap_or(Duration::from_secs_f64(DEFAULT_TIMEOUT_SECONDS))
    }

    /// The policy, written once for both clients: after attempt number `attempt` (0 first) of
    /// GET `url` answered `answer`, `Ok(None)` takes the response, `Ok(Some(delay))` retries
    /// after `delay`, `Err` gives up with a message naming the URL.
    fn judge(
        &self,
        url: &str,
        attempt: u32,
        answer: Answer<'_>,
    ) -> Result<Option<Duration>, String> {
        let retry = || {
            (attempt < self.retries).then(|| {
                Duration::from_millis(self.backoff_ms.saturating_mul(1 << attempt.min(20)))
            })
        };
        let tries = match attempt {
            0 => String::new(),
            n => format!(" (after {} attempts)", n + 1),
        };
        match answer {
            Ok((status, length)) if status.is_success() => match length {
                Some(n) if n > self.max_body_bytes => Err(format!(
                    "URL {url} has a body of {n} bytes, above the limit of {} bytes",
                    self.max_body_bytes
                )),
                _ => Ok(None),
            },
            Ok((status, _)) if status.is_server_error() => match retry() {
                Some(delay) => Ok(Some(delay)),
                None => Err(format!("URL {url} answered {status}{tries}")),
            },
            Ok((status, _)) => Err(format!("URL {url} answered {status}{tries}")),
            Err(e) if e.is_timeout() => Err(format!("URL {url} did not answer in time{tries}")),
            Err(e) => match retry().filter(|_| e.is_connect() || e.is_request()) {
                Some(delay) => Ok(Some(delay)),
                None => Err(format!("{}{tries}", describe_http_error(url, e))),
            },
        }
    }
}

/// Counts a body's bytes against [`Http::max_body_bytes`].
pub struct Budget {
    url: String,
    seen: u64,
    max: u64,
}

impl Budget {
    fn take(&mut self, n: usize) -> Result<(), String> {
        self.seen += n as u64;
        if self.seen > self.max {
            return Err(format!(
                "URL {} sent a body larger than the limit of {} bytes",
                self.url, self.max
            ));
        }
        Ok(())
    }
}

/// Where one book (or the stop-word list) lives. Serializable, so a task in another process can
/// open it itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Location {
    /// A local file.
    File(PathBuf),
    /// An http(s) URL, fetched on every run.
    Url {
        /// The URL.
        url: String,
        /// How to fetch it.
        http: Http,
    },
    /// One of the seed's default URLs: downloaded once into `cache`, then read from there.
    Cached {
        /// The URL.
        url: String,
        /// The file in the user's cache folder.
        cache: PathBuf,
        /// How to download it.
        http: Http,
    },
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(path) => write!(f, "file {:?}", path.display().to_string()),
            Location::Url { url, .. } | Location::Cached { url, .. } => write!(f, "URL {url}"),
        }
    }
}

impl Location {
    /// A URL (starting with `http://` or `https://`) or a file path.
    pub fn parse(text: &str, http: impl Into<Http>) -> Location {
        if is_url(text) {
            Location::Url {
                url: text.to_owned(),
                http: http.into(),
            }
        } else {
            Location::File(PathBuf::from(text))
        }
    }

    /// The seed's `url`, cached as `cache_name` in the user's cache folder if there is one.
    pub fn seed(url: String, cache_name: &str, http: impl Into<Http>) -> Location {
        let http = http.into();
        match dirs::cache_dir() {
            Some(dir) => Location::Cached {
                url,
                cache: dir.join("concur").join(cache_name),
                http,
            },
            None => Location::Url { url, http },
        }
    }

    /// The size in bytes, if it is known without fetching: a file's, or a cached download's.
    pub fn size(&self) -> Option<u64> {
        match self {
            Location::File(path) | Location::Cached { cache: path, .. } => {
                std::fs::metadata(path).ok().map(|m| m.len())
            }
            Location::Url { .. } => None,
        }
    }

    /// A buffered stream of the contents. The error names the file or URL.
    pub fn open(&self) -> Result<Box<dyn BufRead + Send>, String> {
        match self {
            Location::File(path) => File::open(path)
                .map(|f| Box::new(BufReader::with_capacity(1 << 16, f)) as Box<dyn BufRead + Send>)
                .map_err(|e| format!("cannot open {self}: {e}")),
            Location::Url { url, http } => {
                let response = get(url, http)?;
                Ok(Box::new(BufReader::with_capacity(
                    1 << 16,
                    UrlBody {
                        budget: http.budget(url),
                        response,
                    },
                )))
            }
            Location::Cached { cache, .. } => {
                self.fill_cache()?;
                Location::File(cache.clone()).open()
            }
        }
    }

    /// The whole contents. The error names the file or URL.
    pub fn read_all(&self) -> Result<Vec<u8>, String> {
        match self {
            Location::File(path) => {
                std::fs::read(path).map_err(|e| format!("cannot read {self}: {e}"))
            }
            Location::Url { .. } => {
                let mut bytes = Vec::new();
                self.open()?
                    .read_to_end(&mut bytes)
                    .map_err(|e| format!("cannot read {self}: {e}"))?;
                Ok(bytes)
            }
            Location::Cached { cache, .. } => {
                self.fill_cache()?;
                Location::File(cache.clone()).read_all()
            }
        }
    }

    /// Downloads a cached location unless its file is already there. Writes to a temporary file
    /// in the same folder and renames it, so an interrupted download never leaves half a book.
    fn fill_cache(&self) -> Result<(), String> {
        let Location::Cached { url, cache, http } = self else {
            return Ok(());
        };
        if cache.is_file() {
            return Ok(());
        }
        let dir = cache.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create cache folder {}: {e}", dir.display()))?;
        let response = get(url, http)?;
        let mut response = UrlBody {
            budget: http.budget(url),
            response,
        };
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| {
            format!(
                "cannot create a file in cache folder {}: {e}",
                dir.display()
            )
        })?;
        std::io::copy(&mut response, &mut tmp)
            .map_err(|e| format!("cannot download URL {url}: {e}"))?;
        tmp.persist(cache)
            .map_err(|e| format!("cannot store {} in the cache: {e}", cache.display()))?;
        Ok(())
    }
}

/// A response body whose read errors name the URL, held to the body-size limit.
struct UrlBody {
    budget: Budget,
    response: reqwest::blocking::Response,
}

impl Read for UrlBody {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.response.read(buf).map_err(|e| {
            std::io::Error::new(e.kind(), format!("reading URL {}: {e}", self.budget.url))
        })?;
        self.budget.take(n).map_err(std::io::Error::other)?;
        Ok(n)
    }
}

/// A body streamed chunk by chunk for `--mode async`: [`Location::open_async`] makes one.
pub enum AsyncBody {
    /// A local file, read in 64 KiB chunks.
    File(tokio::fs::File, String),
    /// An HTTP response body, held to the body-size limit.
    Url(reqwest::Response, Budget),
}

impl AsyncBody {
    /// The next chunk, `None` at the end. The error names the file or URL.
    pub async fn chunk(&mut self) -> Result<Option<bytes::Bytes>, String> {
        match self {
            AsyncBody::File(file, name) => {
                use tokio::io::AsyncReadExt;
                let mut buf = vec![0u8; 1 << 16];
                let n = file
                    .read(&mut buf)
                    .await
                    .map_err(|e| format!("reading {name}: {e}"))?;
                buf.truncate(n);
                Ok((n > 0).then(|| buf.into()))
            }
            AsyncBody::Url(response, budget) => {
                let chunk = response
                    .chunk()
                    .await
                    .map_err(|e| describe_http_error(&budget.url, &e))?;
                if let Some(chunk) = &chunk {
                    budget.take(chunk.len())?;
                }
                Ok(chunk)
            }
        }
    }
}

impl Location {
    /// Opens the contents as an [`AsyncBody`] with `client` (one from [`async_client`]). A
    /// cached seed URL is downloaded (blocking) on first use, then read from the cache.
    pub async fn open_async(&self, client: &reqwest::Client) -> Result<AsyncBody, String> {
        match self {
            Location::File(path) => tokio::fs::File::open(path)
                .await
                .map(|f| AsyncBody::File(f, self.to_string()))
                .map_err(|e| format!("cannot open {self}: {e}")),
            Location::Url { url, http } => {
                let mut attempt = 0;
                loop {
                    let sent = client.get(url).timeout(http.timeout()).send().await;
                    let answer = sent.as_ref().map(|r| (r.status(), r.content_length()));
                    match http.judge(url, attempt, answer)? {
                        Some(delay) => tokio::time::sleep(delay).await,
                        None => {
                            return sent
                                .map(|r| AsyncBody::Url(r, http.budget(url)))
                                .map_err(|e| describe_http_error(url, &e))
                        }
                    }
                    attempt += 1;
                }
            }
            Location::Cached { cache, .. } => {
                self.fill_cache()?;
                Box::pin(Location::File(cache.clone()).open_async(client)).await
            }
        }
    }
}

impl Http {
    fn budget(&self, url: &str) -> Budget {
        Budget {
            url: url.to_owned(),
            seen: 0,
            max: self.max_body_bytes,
        }
    }
}

fn user_agent() -> &'static str {
    concat!("concur/", env!("CARGO_PKG_VERSION"))
}

/// The async HTTP client of one `--mode async` run (build it inside the run's runtime).
pub fn async_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .user_agent(user_agent())
        .build()
        .map_err(|e| format!("cannot start the HTTP client: {e}"))
}

fn client() -> Result<&'static reqwest::blocking::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::blocking::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::blocking::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .user_agent(user_agent())
                .build()
                .map_err(|e| format!("cannot start the HTTP client: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// GET `url` as `http` says (retries included); a transport error, a timeout, a non-2xx status
/// or a too-large body is an error naming the URL.
fn get(url: &str, http: &Http) -> Result<reqwest::blocking::Response, String> {
    let client = client()?;
    let mut attempt = 0;
    loop {
        let sent = client.get(url).timeout(http.timeout()).send();
        let answer = sent.as_ref().map(|r| (r.status(), r.content_length()));
        match http.judge(url, attempt, answer)? {
            Some(delay) => std::thread::sleep(delay),
            None => return sent.map_err(|e| describe_http_error(url, &e)),
        }
        attempt += 1;
    }
}

fn describe_http_error(url: &str, e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("URL {url} did not answer in time")
    } else {
        // reqwest's top-level message is generic; the source chain says what went wrong.
        let mut text = format!("cannot fetch URL {url}");
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        text
    }
}

/// Whether `text` names an http(s) resource rather than a local path.
pub fn is_url(text: &str) -> bool {
    text.starts_with("http://") || text.starts_with("https://")
}

/// `template` with `name` percent-encoded into its `{}` (a space becomes `%20`).
pub fn fill_template(template: &str, name: &str) -> String {
    template.replace("{}", &utf8_percent_encode(name, QUOTE).to_string())
}

/// `--books a,b` as names (trimmed, empty entries dropped).
pub fn parse_names(books: Option<&str>) -> Option<Vec<String>> {
    let names: Vec<String> = books?
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    (!names.is_empty()).then_some(names)
}

/// The books of a run, in order, from `--source` and `--books` (see the module doc).
pub fn resolve_books(
    source: Option<&str>,
    books: Option<&str>,
    http: impl Into<Http>,
) -> anyhow::Result<Vec<(String, Location)>> {
    let http = http.into();
    let names = parse_names(books);
    let Some(source) = source else {
        let names = names.unwrap_or_else(|| SEED_BOOKS.iter().map(|s| s.to_string()).collect());
        return Ok(names
            .into_iter()
            .map(|name| {
                let url = fill_template(SEED_URL_TEMPLATE, &name);
                let cache = format!("books/{}.txt", utf8_percent_encode(&name, QUOTE));
                let location = Location::seed(url, &cache, http);
                (name, location)
            })
            .collect());
    };
    if source.contains("{}") {
        let Some(names) = names else {
            bail!("--source {source:?} is a URL template: name the books with --books");
        };
        return Ok(names
            .into_iter()
            .map(|name| {
                let location = Location::parse(&fill_template(source, &name), http);
                (name, location)
            })
            .collect());
    }
    if is_url(source) {
        bail!("URL template {source:?} has no {{}} for the book name");
    }
    let folder = Path::new(source);
    if !folder.is_dir() {
        bail!("book folder {source:?} does not exist or is not a folder");
    }
    if let Some(names) = names {
        return Ok(names
            .into_iter()
            .map(|name| {
                let path = folder.join(format!("{name}.txt"));
                (name, Location::File(path))
            })
            .collect());
    }
    let entries =
        std::fs::read_dir(folder).with_context(|| format!("cannot list book folder {source:?}"))?;
    let mut found = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot list book folder {source:?}"))?
            .path();
        if path.extension().is_some_and(|e| e == "txt") && path.is_file() {
            if let Some(stem) = path.file_stem() {
                found.push((stem.to_string_lossy().into_owned(), Location::File(path)));
            }
        }
    }
    if found.is_empty() {
        bail!("book folder {source:?} holds no *.txt book");
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// The stop words from `--stop-words` (a path or URL; default the seed's URL, cached): one a line,
/// each stripped as Python's `str.strip()` does. Any failure names the file or URL.
pub fn load_stop_words(
    location: Option<&str>,
    http: impl Into<Http>,
) -> anyhow::Result<Vec<String>> {
    let location = match location {
        Some(text) => Location::parse(text, http),
        None => Location::seed(SEED_STOP_WORDS.to_owned(), "stop-words-english.txt", http),
    };
    let bytes = location
        .read_all()
        .map_err(|e| anyhow::anyhow!("cannot read stop words: {e}"))?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "stop words ({location}) are not UTF-8: invalid byte at offset {}",
            e.valid_up_to()
        )
    })?;
    // Python iterates a binary file by b"\n"; strip() then removes the rest of the whitespace.
    Ok(text
        .split('\n')
        .map(|line| crate::workloads::wordfreq::py_strip(line).to_owned())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_percent_encodes_like_python_quote_with_no_safe_chars() {
        assert_eq!(
            fill_template("http://h/{}.txt", "A Tale of Two Cities"),
            "http://h/A%20Tale%20of%20Two%20Cities.txt"
        );
        assert_eq!(
            fill_template("http://h/{}", "a/b?c_d.e~f-g"),
            "http://h/a%2Fb%3Fc_d.e~f-g"
        );
    }

    #[test]
    fn names_are_trimmed_and_empty_ones_dropped() {
        assert_eq!(
            parse_names(Some(" a , b,,")),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(parse_names(Some(" , ")), None);
        assert_eq!(parse_names(None), None);
    }

    #[test]
    fn url_template_needs_braces_and_names() {
        assert!(resolve_books(Some("http://h/x.txt"), Some("a"), 1.0).is_err());
        assert!(resolve_books(Some("http://h/{}.txt"), None, 1.0).is_err());
        let books = resolve_books(Some("http://h/{}.txt"), Some("a b"), 1.0).unwrap();
        assert_eq!(books[0].1.to_string(), "URL http://h/a%20b.txt");
    }

    /// Serves `body` to exactly one request on 127.0.0.1, then stops listening.
    fn serve_once(body: &'static [u8]) -> String {
        use std::io::{BufRead, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/book.txt", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).unwrap();
            stream.write_all(body).unwrap();
        });
        url
    }

    #[test]
    fn cached_location_downloads_once_then_reads_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("concur/books/x.txt");
        let location = Location::Cached {
            url: serve_once(b"cached words"),
            cache: cache.clone(),
            http: Http::from(5.0),
        };
        assert_eq!(location.read_all().unwrap(), b"cached words");
        assert_eq!(std::fs::read(&cache).unwrap(), b"cached words");
        // The server is gone: the second read must come from the cache alone.
        let mut text = String::new();
        location.open().unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "cached words");
    }
}
