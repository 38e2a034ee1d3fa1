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
    Experiment::over_books("wordfreq", &MOST_COMMON_WORD, books, |name, location| {
        WordfreqInput {
            name,
            location,
            stop_words: stop_words.clone(),
        }
    })
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

/// Counts every token of a book, streaming it in blocks of whole lines through one buffer (which
/// grows only for a line longer than itself). `name` and `location` name the book in errors: a
/// read failure, or the absolute byte offset of the first byte that is not UTF-8.
///
/// Validating a block of whole lines at once finds the same first bad byte, at the same offset,
/// as Python's line-by-line `decode()`: lines end at `\n`, which never occurs inside a UTF-8
/// sequence, so a sequence cut short by a line end is invalid either way at its first byte.
pub fn count_words(
    mut reader: impl Read,
    name: &str,
    location: &Location,
) -> Result<Counts, String> {
    let mut counts = Counts::default();
    let mut buf = vec![0u8; 1 << 18];
    let mut filled = 0;
    let mut offset: u64 = 0; // of buf[0] in the book
    loop {
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = match reader.read(&mut buf[filled..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let at = offset + filled as u64;
                return Err(format!(
                    "book {name:?} ({location}): read failed at byte offset {at}: {e}"
                ));
            }
        };
        filled += n;
        let end = if n == 0 {
            filled
        } else {
            match buf[..filled].iter().rposition(|&b| b == b'\n') {
                Some(i) => i + 1,
                None => continue,
            }
        };
        match std::str::from_utf8(&buf[..end]) {
            Ok(text) => counts.add_text(text),
            Err(e) => {
                return Err(format!(
                    "book {name:?} is not UTF-8: invalid byte at offset {}",
                    offset + e.valid_up_to() as u64
                ))
            }
        }
        if n == 0 {
            return Ok(counts);
        }
        buf.copy_within(end..filled, 0);
        filled -= end;
        offset += end as u64;
    }
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
    fn lines_longer_than_the_buffer_and_offsets_past_it() {
        let long = "a ".repeat(300_000); // one 600,000-byte line: the buffer must grow
        let counts = count(format!("{long}\nb\n").as_bytes()).unwrap();
        assert_eq!((counts.get("a"), counts.get("b")), (300_000, 1));
        let mut bytes = b"ab\n".repeat(100_000); // 300,000 bytes: the bad byte is in a later block
        bytes.extend_from_slice(b"x\xff\n");
        assert!(count(&bytes).unwrap_err().contains("offset 300001"));
    }
}
