//! The seed's I/O-bound experiment: each book's most common word that is not a stop word.
//!
//! The seed runs `line.decode().strip().lower().split()` on every line of the book (read as bytes,
//! split at `b"\n"`) and counts the tokens. This module does exactly that, with Python's rules:
//!
//! - **Lines and memory**: the book is streamed line by line through one reused buffer, so memory
//!   is bounded by the longest line plus the distinct words, never by the book's size.
//! - **Decoding**: each line must be UTF-8; the first bad byte fails the book with its absolute
//!   byte offset (the offset Python's `UnicodeDecodeError.start` gives). A UTF-8 byte-order mark is
//!   *kept*, as `bytes.decode()` keeps it: it is not whitespace, so it stays on the first token.
//! - **Whitespace** ([`is_py_space`]): Python's `str.split()`/`str.strip()` set, which is Unicode
//!   `White_Space` plus the four ASCII separators `\x1c`..`\x1f`. `strip()` before `split()` changes
//!   nothing, so only splitting is done.
//! - **Case** ([`py_lower`]): Python's `str.lower()` is the full Unicode lowercase mapping with the
//!   final-sigma rule, as Rust's `str::to_lowercase`. Tokens are lowered one by one: whitespace is
//!   neither cased nor case-ignorable, so a token's final-sigma context never crosses it.
//! - **Counting**: a token equal to a stop word (each stop-word line stripped, not lowered) does
//!   not count; punctuation stays part of a token. The most common word wins; a tie goes to the
//!   word seen first (as `Counter.most_common` does). No countable word is `word: None, count: 0`.
//!
//! Speed: an all-ASCII line (nearly every line of an English book) is split on bytes and lowered
//! into a reused buffer; a word allocates only the first time it is seen; stop words are looked
//! up once at the end, not per token.

use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::sources::Location;
use crate::workloads::Experiment;

/// One book to count.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WordfreqInput {
    /// The book's name, used in the output and in errors.
    pub name: String,
    /// Where to read it.
    pub location: Location,
    /// Words that do not count.
    pub stop_words: Vec<String>,
}

/// One book's most common word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WordCount {
    /// The book's name.
    pub name: String,
    /// The most common countable word, `None` if the book has none.
    pub word: Option<String>,
    /// How often it appears (0 if there is no word).
    pub count: u64,
}

impl std::fmt::Display for WordCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.word {
            Some(word) => write!(
                f,
                "Most common word in {} is \"{word}\" ({} appearances)",
                self.name, self.count
            ),
            None => write!(f, "No countable word in {}", self.name),
        }
    }
}

fn most_common_word(input: WordfreqInput) -> Result<WordCount, String> {
    let reader = input
        .location
        .open()
        .map_err(|e| format!("book {:?}: {e}", input.name))?;
    let counts = count_words(reader, &input.name, &input.location)?;
    let (word, count) = counts.most_common(&input.stop_words);
    Ok(WordCount {
        name: input.name,
        word,
        count,
    })
}

concur::task! {
    /// The most common word of one book; errors name the book (and the byte offset if it is not UTF-8).
    pub static MOST_COMMON_WORD: fn(WordfreqInput) -> Result<WordCount, String> = most_common_word;
}

/// The experiment over `books`, with `stop_words` not counting.
pub fn experiment(
    books: Vec<(String, Location)>,
    stop_words: Vec<String>,
) -> Experiment<WordfreqInput, WordCount> {
    let experiment =
        Experiment::over_books("wordfreq", &MOST_COMMON_WORD, books, |name, location| {
            WordfreqInput {
                name,
                location,
                stop_words: stop_words.clone(),
            }
        });
    Experiment {
        run_async: Some(|client, input| Box::pin(most_common_word_async(client, input))),
        ..experiment
    }
}

/// Python's `str.isspace()` for one character: what `split()` and `strip()` remove.
pub fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// Python's `str.strip()` with no arguments.
pub fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// Python's `str.lower()`.
pub fn py_lower(s: &str) -> String {
    s.to_lowercase()
}

/// Python's `str.split()` with no arguments.
pub fn py_split(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_py_space).filter(|t| !t.is_empty())
}

/// [`is_py_space`] for single bytes: the ASCII whitespace `\t \n \x0b \x0c \r \x1c..\x1f` and
/// space. Bytes from 0x80 up are never whitespace on their own (a multi-byte character may be).
const SPACE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(b, 0x09..=0x0d | 0x1c..=0x1f | 0x20);
        b += 1;
    }
    table
};

/// One distinct word: 16 bytes, so the table of a whole book's vocabulary stays in cache.
/// `count` holds the low 32 bits of the count; [`Counts::high`] the rest, for the (8 GB+) books
/// that need it.
#[derive(Debug, Clone, Copy)]
struct Entry {
    hash: u32,
    start: u32,
    len: u32,
    count: u32,
}

/// Word counts in first-seen order.
///
/// Distinct words are stored once, back to back, in one arena (no allocation per word; the
/// arena order is the first-seen order, which breaks ties); the table holds 16-byte `Entry`s
/// and compares the stored hash before any bytes.
pub struct Counts {
    table: hashbrown::HashTable<Entry>,
    arena: Vec<u8>,
    /// The high 32 bits of counts that overflowed `Entry::count`, by `Entry::start`.
    high: rustc_hash::FxHashMap<u32, u64>,
}

impl Default for Counts {
    fn default() -> Self {
        // An English book has a few thousand to a few tens of thousands of distinct words.
        Counts {
            table: hashbrown::HashTable::with_capacity(1 << 11),
            arena: Vec::with_capacity(1 << 17),
            high: Default::default(),
        }
    }
}

impl std::fmt::Debug for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counts")
            .field("distinct", &self.table.len())
            .finish()
    }
}

/// Lowers the ASCII capitals among eight bytes at once; bytes from 0x80 up are left alone.
#[inline(always)]
fn lower8(x: u64) -> u64 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const ONES: u64 = 0x0101_0101_0101_0101;
    let low7 = x & !HIGH; // at most 0x7f per byte: the additions below never carry across bytes
    let at_least_a = low7 + ONES * (0x80 - u64::from(b'A'));
    let above_z = low7 + ONES * (0x80 - u64::from(b'Z') - 1);
    let upper = at_least_a & !above_z & !x & HIGH;
    x | (upper >> 2)
}

/// The 32-bit hash of a word's lowercase form (ASCII capitals lowered; the rest as it is, which
/// is already lowercase for a word from [`py_lower`]). One multiplication per eight bytes; the
/// last (or only) piece is read with overlapping loads, never copied byte by byte, so short
/// words cost no loop and no store-to-load stall.
#[inline(always)]
fn hash32(word: &[u8]) -> u32 {
    const K: u64 = 0xf135_7aea_2e62_a9c5;
    let len = word.len();
    let mix = |hash: u64, piece: u64| (hash.rotate_left(23) ^ lower8(piece)).wrapping_mul(K);
    let u64_at = |i: usize| u64::from_le_bytes(word[i..i + 8].try_into().unwrap_or([0; 8]));
    let u32_at = |i: usize| {
        u64::from(u32::from_le_bytes(
            word[i..i + 4].try_into().unwrap_or([0; 4]),
        ))
    };
    let mut hash = (len as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let last = if len >= 8 {
        let mut i = 0;
        while i + 8 < len {
            hash = mix(hash, u64_at(i));
            i += 8;
        }
        u64_at(len - 8)
    } else if len >= 4 {
        u32_at(0) | (u32_at(len - 4) << 32)
    } else if len > 0 {
        u64::from(word[0]) | (u64::from(word[len / 2]) << 8) | (u64::from(word[len - 1]) << 16)
    } else {
        0
    };
    hash = mix(hash, last);
    (hash ^ (hash >> 29)) as u32
}

/// Whether a stored lowercase word equals `token` (lowered first if `fold_case`).
#[inline(always)]
fn same(stored: &[u8], token: &[u8], fold_case: bool) -> bool {
    if fold_case {
        stored
            .iter()
            .zip(token)
            .all(|(s, t)| *s == t.to_ascii_lowercase())
    } else {
        stored == token
    }
}

/// The table position of a 32-bit hash, its bits spread over all 64 (hashbrown uses the top 7).
fn spread(hash: u32) -> u64 {
    u64::from(hash).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

impl Counts {
    fn find(&self, word: &[u8]) -> Option<&Entry> {
        let hash = hash32(word);
        self.table
            .find(spread(hash), |e| e.hash == hash && self.word(e) == word)
    }

    /// Counts one word that is already lowercase.
    fn add_lowered(&mut self, word: &[u8]) {
        self.add_hashed(word, hash32(word), false);
    }

    /// Counts `token`, whose lowercase form hashes to `hash`. With `fold_case`, `token` is ASCII
    /// and may hold capitals (compared and stored lowered); otherwise it is already lowercase.
    #[inline(always)]
    fn add_hashed(&mut self, token: &[u8], hash: u32, fold_case: bool) {
        let arena = &self.arena;
        let found = self.table.find_mut(spread(hash), |e| {
            e.hash == hash
                && e.len as usize == token.len()
                && same(&arena[e.start as usize..][..token.len()], token, fold_case)
        });
        if let Some(entry) = found {
            entry.count = entry.count.wrapping_add(1);
            if entry.count == 0 {
                *self.high.entry(entry.start).or_default() += 1 << 32;
            }
            return;
        }
        // The arena holds each distinct word once: 4 GiB of distinct words is out of reach.
        let start = self.arena.len() as u32;
        if fold_case {
            self.arena.extend(token.iter().map(u8::to_ascii_lowercase));
        } else {
            self.arena.extend_from_slice(token);
        }
        let entry = Entry {
            hash,
            start,
            len: token.len() as u32,
            count: 1,
        };
        self.table
            .insert_unique(spread(hash), entry, |e| spread(e.hash));
    }

    fn total(&self, e: &Entry) -> u64 {
        u64::from(e.count) + self.high.get(&e.start).copied().unwrap_or(0)
    }

    /// Counts one whitespace-free token as the seed does: lowered first.
    pub fn add(&mut self, token: &str) {
        if token.is_ascii() {
            self.add_hashed(token.as_bytes(), hash32(token.as_bytes()), true);
        } else {
            self.add_lowered(py_lower(token).as_bytes());
        }
    }

    /// Counts every token of decoded text (one line or many: newlines are whitespace).
    ///
    /// One pass over the bytes finds each token and notes whether it is ASCII; an ASCII token is
    /// hashed and compared in its lowercase form without being copied; only a token with other
    /// characters takes the Unicode path.
    pub fn add_text(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let n = bytes.len();
        let mut i = 0;
        loop {
            while i < n && SPACE[bytes[i] as usize] {
                i += 1;
            }
            if i == n {
                return;
            }
            let start = i;
            let mut high = 0u8;
            while i < n && !SPACE[bytes[i] as usize] {
                high |= bytes[i];
                i += 1;
            }
            if high < 0x80 {
                let token = &bytes[start..i];
                self.add_hashed(token, hash32(token), true);
            } else {
                // Not ASCII: the token may hold Unicode whitespace, and lowers by Unicode rules.
                // Cutting at ASCII whitespace and only at character boundaries keeps it valid UTF-8.
                for token in py_split(&text[start..i]) {
                    self.add(token);
                }
            }
        }
    }

    /// How often `word` (lowercase) was counted.
    pub fn get(&self, word: &str) -> u64 {
        self.find(word.as_bytes()).map_or(0, |e| self.total(e))
    }

    fn word(&self, e: &Entry) -> &[u8] {
        &self.arena[e.start as usize..(e.start + e.len) as usize]
    }

    /// The most common word that is not a stop word, and its count; ties go to the word seen
    /// first; `(None, 0)` if no word counts.
    pub fn most_common(mut self, stop_words: &[String]) -> (Option<String>, u64) {
        for stop in stop_words {
            let stop = stop.as_bytes();
            let hash = hash32(stop);
            let arena = &self.arena;
            if let Some(entry) = self.table.find_mut(spread(hash), |e| {
                e.hash == hash && &arena[e.start as usize..(e.start + e.len) as usize] == stop
            }) {
                entry.count = 0;
                self.high.remove(&entry.start);
            }
        }
        // Arena order is first-seen order: the smallest start wins a tie.
        let best = self
            .table
            .iter()
            .map(|e| (self.total(e), e))
            .filter(|(count, _)| *count > 0)
            .max_by(|(a, ea), (b, eb)| a.cmp(b).then(eb.start.cmp(&ea.start)));
        best.map_or((None, 0), |(count, e)| {
            (
                Some(String::from_utf8_lossy(self.word(e)).into_owned()),
                count,
            )
        })
    }
}

/// Counts every token of a book, streaming it in blocks of whole lines through one
/// [`LineCounter`]. `name` and `location` name the book in errors: a read failure, or the
/// absolute byte offset of the first byte that is not UTF-8.
pub fn count_words(
    mut reader: impl Read,
    name: &str,
    location: &Location,
) -> Result<Counts, String> {
    let mut counter = LineCounter::new(name);
    loop {
        match reader.read(counter.spare()) {
            Ok(0) => return counter.finish(),
            Ok(n) => counter.commit(n)?,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(counter.read_failed(location, e)),
        }
    }
}

/// The word-counting core that the blocking and the async paths share: bytes go in (read into
/// [`LineCounter::spare`], or fed as chunks), every complete line is counted, the tail at the end.
///
/// One buffer holds the unfinished line (it grows only for a line longer than itself). Validating
/// a block of whole lines at once finds the same first bad byte, at the same offset, as Python's
/// line-by-line `decode()`: lines end at `\n`, which never occurs inside a UTF-8 sequence, so a
/// sequence cut short by a line end is invalid either way at its first byte.
pub struct LineCounter {
    name: String,
    counts: Counts,
    buf: Vec<u8>,
    filled: usize,
    /// Of `buf[0]` in the book.
    offset: u64,
}

impl LineCounter {
    /// A counter for the book `name` (named in its errors).
    pub fn new(name: &str) -> Self {
        LineCounter {
            name: name.to_owned(),
            counts: Counts::default(),
            buf: vec![0u8; 1 << 18],
            filled: 0,
            offset: 0,
        }
    }

    /// Free space to read the next bytes into (never empty), then [`commit`](Self::commit) them.
    pub fn spare(&mut self) -> &mut [u8] {
        if self.filled == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        &mut self.buf[self.filled..]
    }

    /// Takes `n` bytes written into [`spare`](Self::spare) and counts every line they complete.
    pub fn commit(&mut self, n: usize) -> Result<(), String> {
        let new = self.filled..self.filled + n;
        self.filled += n;
        // Bytes before `new` hold no line end: they were left over from a previous block.
        let Some(last) = self.buf[new.clone()].iter().rposition(|&b| b == b'\n') else {
            return Ok(());
        };
        let end = new.start + last + 1;
        self.count(end)?;
        self.buf.copy_within(end..self.filled, 0);
        self.filled -= end;
        self.offset += end as u64;
        Ok(())
    }

    /// Counts `bytes` (a chunk of the book, cut anywhere).
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), String> {
        while !bytes.is_empty() {
            let spare = self.spare();
            let n = spare.len().min(bytes.len());
            spare[..n].copy_from_slice(&bytes[..n]);
            self.commit(n)?;
            bytes = &bytes[n..];
        }
        Ok(())
    }

    /// Counts the last line (which may lack its `\n`) and returns the counts.
    pub fn finish(mut self) -> Result<Counts, String> {
        self.count(self.filled)?;
        Ok(self.counts)
    }

    /// The error for a read of `location` that failed at the current position.
    pub fn read_failed(&self, location: &Location, e: impl std::fmt::Display) -> String {
        let at = self.offset + self.filled as u64;
        format!(
            "book {:?} ({location}): read failed at byte offset {at}: {e}",
            self.name
        )
    }

    fn count(&mut self, end: usize) -> Result<(), String> {
        match std::str::from_utf8(&self.buf[..end]) {
            Ok(text) => {
                self.counts.add_text(text);
                Ok(())
            }
            Err(e) => Err(format!(
                "book {:?} is not UTF-8: invalid byte at offset {}",
                self.name,
                self.offset + e.valid_up_to() as u64
            )),
        }
    }
}

/// `most_common_word` for `--mode async`: the same counting, fed the body's chunks as they
/// arrive on the async client.
pub async fn most_common_word_async(
    client: reqwest::Client,
    input: WordfreqInput,
) -> Result<WordCount, String> {
    let in_book = |e: String| format!("book {:?}: {e}", input.name);
    let mut body = input.location.open_async(&client).await.map_err(in_book)?;
    let mut counter = LineCounter::new(&input.name);
    loop {
        match body.chunk().await {
            Ok(Some(chunk)) => counter.feed(&chunk)?,
            Ok(None) => break,
            Err(e) => return Err(counter.read_failed(&input.location, e)),
        }
    }
    let (word, count) = counter.finish()?.most_common(&input.stop_words);
    Ok(WordCount {
        name: input.name,
        word,
        count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(text: &[u8]) -> Result<Counts, String> {
        count_words(text, "t", &Location::File("t.txt".into()))
    }

    #[test]
    fn python_whitespace_set_is_unicode_white_space_plus_file_separators() {
        // The set python3 -c "[c for c in range(0x110000) if chr(c).isspace()]" prints.
        let python: Vec<u32> = [
            0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680,
        ]
        .into_iter()
        .chain(0x2000..=0x200a)
        .chain([0x2028, 0x2029, 0x202f, 0x205f, 0x3000])
        .collect();
        let ours: Vec<u32> = (0..=0x10ffff_u32)
            .filter_map(char::from_u32)
            .filter(|&c| is_py_space(c))
            .map(|c| c as u32)
            .collect();
        assert_eq!(ours, python);
        for b in 0..128u8 {
            assert_eq!(SPACE[b as usize], is_py_space(b as char), "byte {b:#x}");
        }
        // Not whitespace for Python: zero-width space, the BOM, the Mongolian vowel separator.
        assert!(!is_py_space('\u{200b}') && !is_py_space('\u{feff}') && !is_py_space('\u{180e}'));
    }

    #[test]
    fn split_and_strip_match_python() {
        let line = "\u{feff}a\x1cb\u{85}c\u{a0}d\u{3000}e\u{200b}f\x0bg\r\n";
        assert_eq!(
            py_split(line).collect::<Vec<_>>(),
            ["\u{feff}a", "b", "c", "d", "e\u{200b}f", "g"]
        );
        assert_eq!(py_strip("\x1f\u{2028} x y \u{205f}\r\n"), "x y");
    }

    #[test]
    fn lower_matches_python_including_final_sigma_and_expansions() {
        // Values printed by python3: 'ΑΣ'.lower(), 'ΑΣ.'.lower(), 'Σ'.lower(), 'İ'.lower().
        assert_eq!(py_lower("ΑΣ"), "ας");
        assert_eq!(py_lower("ΑΣ."), "ας.");
        assert_eq!(py_lower("Σ"), "σ");
        assert_eq!(py_lower("ΣΑ"), "σα");
        assert_eq!(py_lower("İ"), "i\u{307}");
        assert_eq!(py_lower("ÉCOLE"), "école");
        let mut counts = Counts::default();
        counts.add_text("ΟΔΟΣ οδος ΟΔΟΣ.");
        assert_eq!(counts.get("οδος"), 2);
        assert_eq!(counts.get("οδος."), 1);
    }

    #[test]
    fn tie_goes_to_the_word_seen_first_and_stop_words_never_win() {
        let counts = count(b"b a\nA B\nthe the the\n").unwrap();
        assert_eq!(counts.most_common(&["the".into()]), (Some("b".into()), 2));
    }

    #[test]
    fn punctuation_stays_and_crlf_is_whitespace() {
        let counts = count(b"Mr. mr. MR\r\nmr\r\n").unwrap();
        assert_eq!(counts.get("mr."), 2);
        assert_eq!(counts.get("mr"), 2);
        assert_eq!(counts.get("mr\r"), 0);
    }

    #[test]
    fn bom_is_kept_on_the_first_token() {
        let counts = count(b"\xef\xbb\xbfThe end\n").unwrap();
        assert_eq!(counts.get("\u{feff}the"), 1);
        assert_eq!(counts.get("the"), 0);
    }

    #[test]
    fn empty_or_all_stop_words_has_no_word() {
        assert_eq!(count(b"").unwrap().most_common(&[]), (None, 0));
        assert_eq!(
            count(b"a a\n").unwrap().most_common(&["a".into()]),
            (None, 0)
        );
    }

    #[test]
    fn invalid_utf8_names_the_absolute_byte_offset() {
        // python3: (b"ok\n" + b"ab\xffc").decode() fails at 5; truncated sequences at their start.
        assert!(count(b"ok\nab\xffc").unwrap_err().contains("offset 5"));
        assert!(count(b"ok\nab\xe2\x82").unwrap_err().contains("offset 5"));
        assert!(count(b"\xed\xa0\x80").unwrap_err().contains("offset 0"));
    }

    #[test]
    fn feeding_chunks_cut_anywhere_counts_as_reading() {
        let text = "Alice was tired.\nOf sitting by her sister\non the bank\nalice\n".repeat(50);
        let whole = count(text.as_bytes()).unwrap().most_common(&[]);
        for cut in [1, 3, 7, 64, 1000] {
            let mut counter = LineCounter::new("t");
            for chunk in text.as_bytes().chunks(cut) {
                counter.feed(chunk).unwrap();
            }
            assert_eq!(
                counter.finish().unwrap().most_common(&[]),
                whole,
                "cut {cut}"
            );
        }
        let mut counter = LineCounter::new("t");
        counter.feed(b"ok\nab").unwrap();
        assert!(counter.feed(b"\xffc\n").unwrap_err().contains("offset 5"));
    }

    #[test]
    fn lines_longer_than_the_buffer_and_offsets_past_it() {
        let long = "a ".repeat(300_000); // one 600,000-byte line: the buffer must grow
        let counts = count(format!("{long}\nb\n").as_bytes()).unwrap();
        assert_eq!((counts.get("a"), counts.get("b")), (300_000, 1));
        let mut bytes = b"ab\n".repeat(100_000); // 300,000 bytes: the bad byte is in a later block
        bytes.extend_from_slice(b"x\xff\n");
        assert!(count(&bytes).unwrap_err().contains("offset 300001"));
    }
}
