//! The seed's I/O-bound experiment: each book's most common word that is not a stop word.
//!
//! The seed runs `line.decode().strip().lower().split()` on every line of the book (read as bytes,
//! split at `b"\n"`) and counts the tokens. This module does exactly that, with Python's rules:
//!
//! - **Lines and memory**: the book is streamed line by line through one reused buffer, so memory
//!   is bounded by the longest line plus the distinct words, never by the book's size (and a
//!   thread keeps up to 2.5 MiB of a past book's table slots for its next book).
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
//! Speed: a block of lines has its ASCII capitals lowered in place (one vectorized pass that
//! also tells whether the block is all ASCII, which then needs no UTF-8 check; lowering cannot
//! change the check's result), then is read 64 bytes at a time: they are marked for ASCII
//! whitespace in one 64-bit word (SSE2; plain integer operations elsewhere), and their tokens
//! are read off its bit transitions while in cache. An ASCII token of up to 16 bytes (nearly
//! every token of an English book) is loaded as one or two 8-byte words (without a bounds
//! check: the read buffer keeps 16 bytes past the text) and found in an own linear-probing
//! table that holds the word inline, one load per probe: 16-byte slots for words of up to 8
//! bytes (90% of the tokens), 24-byte ones for 9 to 16; its home slot is taken without a
//! branch both when it holds the word and when it is free (a new word, 14% of the tokens),
//! and only another word there probes on. A new word's first-seen order is its token's
//! position in the book (a stamp, see `Counts::stamps`, not a count of the words so far), and
//! whether a table must grow is checked once per 64 bytes, not per token. Other tokens take the
//! general path, out of line (a hashbrown table of 32-byte entries). Stop words are looked up
//! once at the end, then one pass over each flat table ranks its slots (free ones included:
//! they have count 0) and frees them for the next book. A thread keeps the last book's flat
//! tables' memory for its next book (see `FlatTable::with_slots`), whose tables are sized to
//! its file size (see `Counts::for_book`).
//!
//! Measured, kept (full streaming pass over the seed books, A/B alternated in one run; session
//! 4): the flat table for words of up to 8 bytes, with the branch-free ranking, 5.35-5.66 ->
//! 5.28-5.45 ms; lowering each block in place, not each token's words, 5.52-5.74 -> 4.61-5.12;
//! the flat table for 9 to 16 bytes with slots kept across books, 4.77-4.84 -> 4.61-4.77
//! (7.25-7.62 without keeping them: fresh pages every book); Fibonacci hashing instead of a
//! folded 128-bit product, 4.59-4.86 -> 4.52-4.65; then no UTF-8 check for an all-ASCII
//! block, 4.49-4.75 -> 4.41-4.56; the padded, unchecked token load with the rare tokens out of
//! line, 4.41-4.56 -> 4.33-4.49; one 8-byte word, not two, for tokens of up to 8 bytes,
//! 4.27-4.57 -> 4.19-4.38; a hit reads a slot's `seq` only when its count wraps (out of line),
//! 4.26-4.51 -> 4.12-4.34. Session 5: the home slot taken branch-free for a hit or a new
//! word (a new word no longer mispredicts; 49% of the 9-to-16-byte tokens are new),
//! 4.10-4.30 -> 3.97-4.05; tables at most half full rather than 3/4, 3.84-4.08 -> 3.86-3.96;
//! the ranking pass freeing the slots for the next book, 3.93-4.12 -> 3.83-3.97; no ASCII
//! check per token in a block known to be all ASCII, 3.82-3.96 -> 3.73-3.85 (best of 21);
//! tables sized to the book's file size (`Counts::for_book`), not to the biggest book the
//! thread has seen, best of 21 lower in 13 of 16 rounds, by about 1%. Session 6: probing past
//! the home slot with one exit test (`FlatKey::other`), then counting like the home slot
//! (`count_at`), median of 21 lower in 10 of 12 rounds, by about 1.5% (3.84-3.99 -> 3.78-3.94);
//! each stop word looked up once, not twice (a set of `seq`s only for those outside the flat
//! tables), lower in 6 of 8 rounds, by about 2%; whether a flat table must grow checked once
//! per 64 bytes of text, not per token (`FlatTable::make_room`), 3.79-4.16 -> 3.59-3.90 ms,
//! lower in 7 of 8 rounds; a token's length marker from a table (`MARK`), not a shift,
//! 3.51-3.86 -> 3.45-3.78, lower in 7 of 8 rounds; a new word's `seq` its token's position
//! (a stamp: no loads of the tables' sizes per token, renumbered to ranks after 4 GiB of
//! text), best of 21 lower in 9 of 10 rounds, 3.53-3.71 -> 3.35-3.58 in the quiet ones.
//! Dropped: the read buffer kept per thread (no better in 14 rounds); unchecked slot indexing
//! (no better in 8, again in 10); the open token's end peeled off again (slower in 8 of 8);
//! whitespace marked by one comparison (every byte up to 0x20) in blocks that the lowering
//! pass finds free of other control bytes, slower in the quiet rounds (3.45-3.55 -> 3.56-3.72);
//! the crate built with BMI1/BMI2 or for the host CPU: 50% slower (not investigated); the
//! mask and the marker in one table (one address, not two), no better in 10 rounds; each
//! block's new words summed in locals and added to the tables' sizes once per 64 bytes,
//! 3.38-3.57 -> 3.65-3.81 ms.
//!
//! Measured, dropped (session 4): the leader kept up to date per count, 5.59-5.71 -> 5.69-5.94
//! ms; a third, L1-sized table for words of up to 4 bytes, 5.58-5.61 -> 5.90-6.08; one
//! 24-byte-slot table for all words of up to 16 bytes, 4.66-4.78 -> 4.89-4.99; the home slot
//! from the hash's low bits, 4.66-4.73 -> 4.87-4.96; each 64 bytes' tokens keyed and their
//! slots prefetched before lookup, 4.47-4.53 -> 5.30-5.50; each token counted one
//! step late so that the next one's slot is prefetched first, 4.39-4.55 -> 4.61-4.68 (4.70-4.87
//! without the prefetch); each 4 KiB's token starts and ends written out branch-free, then
//! counted in one loop (one loop exit per 4 KiB, not per 64 bytes), 4.24-4.29 -> 4.93-5.06; the
//! whole crate built for the host CPU (AVX2, BMI), an upper bound for runtime-detected AVX2
//! marking, 4.31-4.49 -> 4.25-4.40, not worth the dispatch; a thread's spare slots cut to the
//! size a book starts with, not the last book's, 4.04-4.13 -> 4.24-4.47; the open token's end
//! peeled off each 64 bytes' loop, 4.15-4.36 -> 4.38-4.47. Within the noise (about 0.1 ms):
//! 32-byte slots for 9 to 16 bytes; flat tables at half the size, or filled to 1/2 or 7/8
//! (then, with a branch for a new word);
//! hashbrown starting smaller; keeping the read buffer across books, or one of 32 or 64 KiB;
//! flat tables at twice the size; the tiny key's marker bit from a table (3% faster and kept in
//! session 6); an unchecked slot index; ranking by a vectorizable maximum count, then a scan
//! for it. Session 3 (another
//! machine): a prefetching queue 32 tokens ahead, and smaller read buffers, gained nothing.
//! Session 5: 128 bytes at a time in a `u128` (half the loop exits), 4.19-4.29 -> 4.59-4.80;
//! the choice between the two flat tables made branch-free (one hash for both, the slot picked
//! with `select_unpredictable`), 4.09-4.22 -> 5.92-6.03 (5.05-5.10 with raw pointers): the
//! length branch mispredicts cheaply, as it resolves before any load, and it tells the
//! hit-or-miss branch which table it is in; the home slot and the next one both checked
//! without a branch (fewer probes), 3.87-4.30 -> 4.43-4.66; each 1 Ki tokens' keys gathered
//! per table without a branch, then looked up in two tight loops (no length branch), no
//! better (3.79-4.12 -> 4.05-4.26); a list of the taken slots in first-seen order, so that
//! ranking and freeing skip the free ones, as much slower per token as it saves at the end;
//! tables at most 1/4 full (4.5% slower) or 3/4 full at half the size (10% slower); slots in
//! 2 MiB huge pages (no TLB misses), the growth reusing the spare's memory, the probe loop
//! inlined, ranking with four running maxima, a 64 KiB read buffer, the tables twice as big
//! again, or the whole build with one codegen unit and fat LTO: within the noise.
//!
//! Where the time goes (session 5, 3.7-3.9 ms a pass): the same pass without any table work
//! takes 2.2 ms (reading ~0.3, tokenizing, ranking); with the seed's books rewritten to a
//! 256-word vocabulary of the same token lengths (every slot in L1, no new words) 2.9 ms;
//! counting a book a second time into the same tables (no new words) saves only 7%. So the
//! remaining cost is the lookups' cache misses on a real vocabulary, not branches or new words.
//! A denser table would not gather the frequent words: the hash spreads them among all the
//! others at any load (the 2,000 most frequent words of the biggest book touch about 1,800
//! cache lines at its current load, still about 1,500 with 4-slot buckets filled to 85%), and
//! a small first table of frequent words costs every token either a second lookup or a branch
//! that mispredicts for a third of them. Nor did cache-friendly aggregation pay: each block's
//! keys partitioned 16 ways by their hash's top bits, then counted partition by partition (so
//! that each touches one sixteenth of a table), 3.99-4.07 -> 4.53-4.60 ms: writing and
//! re-reading the keys costs more than the misses it saves. Session 6: one table of 16-byte
//! slots for every ASCII word of up to 16 bytes without NUL, the count in the top bits of the
//! word's bytes and `seq` in a side array (no length branch, no 24-byte slots), 3.8 -> 5.7 ms
//! (5.2 without writing `seq` at all; at 3/4 load and 1.3 slots a word, no better).

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

/// One distinct word in a [`FlatTable`].
#[derive(Debug, Clone, Copy)]
struct Slot<K> {
    key: K,
    count: u32,
    /// The stamp of the word's first sighting (see [`Counts::stamps`]): breaks ties.
    seq: u32,
}

/// An ASCII word of 1 to 8 bytes (most tokens of an English book) in 16 bytes: the word as a
/// little-endian `u64` with the top bit of its last byte set ([`tiny_key`]), which ASCII leaves
/// free, so the key alone also gives the length.
type Tiny = Slot<u64>;

/// An ASCII word of 9 to 16 bytes in 24: the same, as two `u64`s ([`mid_key`]).
type Mid = Slot<[u64; 2]>;

/// Any other distinct word, in 32 bytes: its first 16 bytes inline, zero-padded, so that finding
/// a word of up to 16 bytes reads nothing but its table slot.
#[derive(Debug, Clone, Copy)]
struct Entry {
    key: [u64; 2],
    len: u32,
    count: u32,
    seq: u32,
    /// For a word longer than 16 bytes: its index in [`Counts::long`].
    long: u32,
}

/// Word counts in first-seen order.
///
/// Three hash tables keyed by the lowercase word: `tiny` and `mid` (own linear-probing
/// `FlatTable`s) for ASCII words of up to 8 and of 9 to 16 bytes, `table` (hashbrown) for the
/// rest; a word longer than 16 bytes also keeps its whole text in `long` (allocated once, the
/// first time it is seen). Entries hold the low 32 bits of a count; `high` the rest, for the
/// (8 GB+) books that need it.
pub struct Counts {
    tiny: FlatTable<u64>,
    mid: FlatTable<[u64; 2]>,
    table: hashbrown::HashTable<Entry>,
    long: Vec<Box<[u8]>>,
    /// The high 32 bits of counts that overflowed an entry's `count`, by `seq`.
    high: rustc_hash::FxHashMap<u32, u64>,
    /// Scratch: an ASCII token longer than 16 bytes, lowered.
    lowered: Vec<u8>,
    /// The next byte's stamp (see [`stamps`](Self::stamps)).
    stamp: u32,
}

impl Default for Counts {
    fn default() -> Self {
        Counts::for_book(None)
    }
}

impl Counts {
    /// Empty counts for a book of `bytes` bytes, if that is known, with flat tables about twice
    /// the distinct words such a book has: every slot is ranked (and freed) at the end, so a
    /// small book should not get a big book's tables. Heaps' law, fitted to the seed's books
    /// (2.5 Ki to 12 Ki distinct ASCII words of up to 8 bytes, 0.5 Ki to 6.4 Ki of 9 to 16):
    /// about 240 and 130 times the book's size in kB to the power 0.6, an upper estimate; a
    /// table that fills up doubles. An unknown size gets 16 Ki and 8 Ki slots.
    pub fn for_book(bytes: Option<u64>) -> Counts {
        let (tiny, mid) = match bytes {
            Some(bytes) => {
                let scale = (bytes as f64 / 1e3).max(1.0).powf(0.6);
                let slots = |words: f64| {
                    ((2.0 * words) as usize)
                        .next_power_of_two()
                        .clamp(1 << 9, MAX_SPARE_SLOTS)
                };
                (slots(240.0 * scale), slots(130.0 * scale))
            }
            None => (1 << 14, 1 << 13),
        };
        Counts {
            tiny: FlatTable::with_slots(tiny),
            mid: FlatTable::with_slots(mid),
            table: hashbrown::HashTable::with_capacity(1 << 8),
            long: Vec::new(),
            high: Default::default(),
            lowered: Vec::new(),
            stamp: 0,
        }
    }
}

impl std::fmt::Debug for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counts")
            .field("distinct", &self.distinct())
            .finish()
    }
}

const HIGH: u64 = 0x8080_8080_8080_8080;
const ONES: u64 = 0x0101_0101_0101_0101;

/// 0x80 in each byte of `x` that lies in `lo..=hi` (both below 0x80), 0 in every other byte.
#[inline(always)]
fn in_range8(x: u64, lo: u8, hi: u8) -> u64 {
    let low7 = x & !HIGH; // at most 0x7f per byte: the additions below never carry across bytes
    let at_least_lo = low7 + ONES * (0x80 - u64::from(lo));
    let above_hi = low7 + ONES * (0x80 - u64::from(hi) - 1);
    at_least_lo & !above_hi & !x & HIGH
}

/// Lowers the ASCII capitals among eight bytes at once; bytes from 0x80 up are left alone.
#[inline(always)]
fn lower8(x: u64) -> u64 {
    x | (in_range8(x, b'A', b'Z') >> 2)
}

/// One bit per byte of eight (bit `i` for byte `i`), set for the bytes in [`SPACE`].
#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline(always)]
fn spaces8(x: u64) -> u64 {
    let marks = in_range8(x, 0x09, 0x0d) | in_range8(x, 0x1c, 0x20);
    // Gathers the eight 0x80 marks into the top byte: the partial products never overlap.
    (marks >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// One bit per byte of a 64-byte `block` (bit `i` for byte `i`), set for the bytes in [`SPACE`]:
/// sixteen bytes at a time with SSE2 (part of every x86-64 CPU).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn spaces64(block: &[u8]) -> u64 {
    use core::arch::x86_64::*;
    let mut word = 0;
    for (i, sixteen) in block.chunks_exact(16).enumerate() {
        // SAFETY: these intrinsics need SSE2 only, which every x86-64 target has enabled; the
        // load reads the 16 bytes of `sixteen` and needs no alignment.
        let marks = unsafe {
            let x = _mm_loadu_si128(sixteen.as_ptr().cast());
            // `x - lo <= 4` as unsigned bytes, for the ranges 0x09..=0x0d and 0x1c..=0x20.
            let four = _mm_set1_epi8(4);
            let a = _mm_sub_epi8(x, _mm_set1_epi8(0x09));
            let b = _mm_sub_epi8(x, _mm_set1_epi8(0x1c));
            let in_a = _mm_cmpeq_epi8(_mm_min_epu8(a, four), a);
            let in_b = _mm_cmpeq_epi8(_mm_min_epu8(b, four), b);
            _mm_movemask_epi8(_mm_or_si128(in_a, in_b))
        };
        word |= u64::from(marks as u16) << (16 * i);
    }
    word
}

/// [`spaces64`] without SSE2: eight bytes at a time.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn spaces64(block: &[u8]) -> u64 {
    let mut word = 0;
    for (i, eight) in block.chunks_exact(8).enumerate() {
        let x = u64::from_le_bytes(eight.try_into().unwrap_or([0; 8]));
        word |= spaces8(x) << (8 * i);
    }
    word
}

/// [`spaces64`] for the last `rest.len()` (< 64) bytes of a text, with every bit past them set:
/// a token always ends at a set bit.
fn tail_spaces(rest: &[u8]) -> u64 {
    let mut word = u64::MAX << rest.len();
    for (i, &b) in rest.iter().enumerate() {
        word |= u64::from(SPACE[b as usize]) << i;
    }
    word
}

/// The inline part of an [`Entry`] key: the first 16 bytes of `word`, zero-padded.
fn key_of(word: &[u8]) -> [u64; 2] {
    let mut padded = [0u8; 16];
    let n = word.len().min(16);
    padded[..n].copy_from_slice(&word[..n]);
    let (a, b) = padded.split_at(8);
    [
        u64::from_le_bytes(a.try_into().unwrap_or([0; 8])),
        u64::from_le_bytes(b.try_into().unwrap_or([0; 8])),
    ]
}

/// `u64 * u64` folded to 64 bits: one multiplication that mixes every input bit into the
/// bits hashbrown uses (the top 7 and the low ones).
#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// The hash of a word from its [`key_of`], its length and (longer than 16 bytes) its whole text.
#[inline(always)]
fn hash_of(key: [u64; 2], len: usize, word: &[u8]) -> u64 {
    let mut hash = fold_mul(
        key[0] ^ 0x243f_6a88_85a3_08d3,
        key[1] ^ 0x1319_8a2e_0370_7344,
    );
    hash ^= len as u64;
    if len > 16 {
        for piece in word[16..].chunks(8) {
            hash = fold_mul(hash ^ key_of(piece)[0], 0xa409_3822_299f_31d0);
        }
    }
    hash
}

/// Masks that keep the first `n` bytes (`n` = 0..=16) of a 16-byte key.
const KEEP: [[u64; 2]; 17] = {
    let mut masks = [[0u64; 2]; 17];
    let mut n = 1;
    while n <= 16 {
        masks[n] = if n <= 8 {
            [u64::MAX >> (64 - 8 * n), 0]
        } else {
            [u64::MAX, u64::MAX >> (128 - 8 * n)]
        };
        n += 1;
    }
    masks
};

/// The length marker of a word of `n` bytes (`n` = 1..=16): the top bit of its last byte, in
/// the 8-byte half that holds that byte. A table, not a shift: fewer instructions per token.
const MARK: [u64; 17] = {
    let mut marks = [0u64; 17];
    let mut n = 1;
    while n <= 16 {
        marks[n] = 0x80 << (8 * ((n - 1) % 8));
        n += 1;
    }
    marks
};

/// The [`Tiny`] key of `word` if it is ASCII and 1 to 8 bytes long: its bytes, zero-padded,
/// with the top bit of the last one set.
fn tiny_key(word: &[u8]) -> Option<u64> {
    if word.is_empty() || word.len() > 8 || !word.is_ascii() {
        return None;
    }
    Some(key_of(word)[0] | MARK[word.len()])
}

/// The [`Mid`] key of `word` if it is ASCII and 9 to 16 bytes long: its bytes, zero-padded,
/// with the top bit of the last one set.
fn mid_key(word: &[u8]) -> Option<[u64; 2]> {
    if !(9..=16).contains(&word.len()) || !word.is_ascii() {
        return None;
    }
    let [a, b] = key_of(word);
    Some([a, b | MARK[word.len()]])
}

/// A [`FlatTable`] key: never [`FREE`](Self::FREE) for a word.
trait FlatKey: Copy + Eq + 'static {
    const FREE: Self;
    /// The key's hash, whose top bits are its home slot.
    fn hash(self) -> u64;
    /// Whether a slot holding `self` holds a word other than `key` (neither `key` nor free),
    /// with no branch.
    fn other(self, key: Self) -> bool;
    /// This thread's spare slots: the largest a dropped table left.
    fn spare() -> &'static std::thread::LocalKey<std::cell::Cell<Vec<Slot<Self>>>>;
}

impl FlatKey for u64 {
    const FREE: Self = 0;
    #[inline(always)]
    fn other(self, key: Self) -> bool {
        (self ^ key).min(self) != 0
    }
    fn spare() -> &'static std::thread::LocalKey<std::cell::Cell<Vec<Slot<Self>>>> {
        thread_local!(static SPARE: std::cell::Cell<Vec<Tiny>> = const { std::cell::Cell::new(Vec::new()) });
        &SPARE
    }
    /// One 64-bit multiplication (Fibonacci hashing): its top bits, the home slot, depend on
    /// every bit of the key.
    #[inline(always)]
    fn hash(self) -> u64 {
        self.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
}

impl FlatKey for [u64; 2] {
    const FREE: Self = [0, 0];
    /// A word's second half is never 0: it holds the length marker.
    #[inline(always)]
    fn other(self, key: Self) -> bool {
        ((self[0] ^ key[0]) | (self[1] ^ key[1])).min(self[1]) != 0
    }
    fn spare() -> &'static std::thread::LocalKey<std::cell::Cell<Vec<Slot<Self>>>> {
        thread_local!(static SPARE: std::cell::Cell<Vec<Mid>> = const { std::cell::Cell::new(Vec::new()) });
        &SPARE
    }
    /// Two independent 64-bit multiplications.
    #[inline(always)]
    fn hash(self) -> u64 {
        self[0].wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ self[1].wrapping_mul(0xc2b2_ae3d_27d4_eb4f)
    }
}

/// A hash table of [`Slot`]s with linear probing: a word's slot is read with one load (no
/// control bytes, no group match). A free slot has key [`FlatKey::FREE`] and count 0, so
/// [`Counts::most_common`] can rank every slot without asking whether it is taken.
struct FlatTable<K: FlatKey> {
    /// A power of two of them.
    slots: Vec<Slot<K>>,
    /// How many are taken.
    len: usize,
    /// Whether some slot may be taken: a table ranked by [`take_top`](Self::take_top) is not.
    dirty: bool,
    /// The most that may be taken before it doubles (see [`make_room`](Self::make_room)).
    limit: usize,
    /// `64 - log2(slots.len())`: a hash's top bits are its home slot.
    shift: u32,
}

/// The most slots a thread keeps for its next table (1 MiB of [`Tiny`] ones, 1.5 of [`Mid`]):
/// a book with a bigger vocabulary does not leave its memory behind.
const MAX_SPARE_SLOTS: usize = 1 << 16;

impl<K: FlatKey> Drop for FlatTable<K> {
    fn drop(&mut self) {
        let spare = K::spare().take();
        let (theirs, ours) = (spare.capacity(), self.slots.capacity());
        let keep = if theirs > ours || ours > MAX_SPARE_SLOTS {
            spare
        } else {
            if self.dirty {
                self.slots.fill(Slot::FREE);
            }
            std::mem::take(&mut self.slots)
        };
        K::spare().set(keep);
    }
}

impl<K: FlatKey> Slot<K> {
    const FREE: Self = Slot {
        key: K::FREE,
        count: 0,
        seq: 0,
    };
}

impl<K: FlatKey> FlatTable<K> {
    /// An empty table of `n` (a power of two) slots, in this thread's spare memory if it is
    /// enough. Every book allocating (and freeing) its own would leave it to the allocator
    /// whether they come back as fresh pages, each a page fault (glibc: when they reach its
    /// adaptive mmap and trim thresholds, as a 192 KiB `mid` table next to the others does).
    fn with_slots(n: usize) -> Self {
        // The spare's slots are free already (however many it has, in however much memory).
        let mut slots = K::spare().take();
        if slots.capacity() >= n {
            slots.truncate(n);
            slots.resize(n, Slot::FREE);
        } else {
            slots = vec![Slot::FREE; n];
        }
        let shift = 64 - slots.len().trailing_zeros();
        // Half full at most: a word outside its home slot costs a mispredicted branch that
        // waits for the slot's load (at 3/4, 0.1 ms more on the seed's books).
        let limit = slots.len() / 2;
        FlatTable {
            slots,
            len: 0,
            dirty: true,
            limit,
            shift,
        }
    }

    /// The slot of `key`, or the free slot where it would go.
    #[inline(always)]
    fn slot(&self, key: K) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = (key.hash() >> self.shift) as usize;
        while self.slots[i].key != key && self.slots[i].key != K::FREE {
            i = (i + 1) & mask;
        }
        i
    }

    fn find(&self, key: K) -> Option<Slot<K>> {
        Some(self.slots[self.slot(key)]).filter(|e| e.key != K::FREE)
    }

    fn iter(&self) -> impl Iterator<Item = Slot<K>> + '_ {
        self.slots.iter().copied().filter(|e| e.key != K::FREE)
    }

    /// Counts one more of `key`, a new word getting `seq`. The home slot is taken as it is,
    /// without a branch, both when it holds `key` and when it is free (a new word).
    #[inline(always)]
    fn count(&mut self, key: K, seq: u32, high: &mut rustc_hash::FxHashMap<u32, u64>) {
        let home = (key.hash() >> self.shift) as usize;
        if K::other(self.slots[home].key, key) {
            return self.count_probing(home, key, seq, high);
        }
        self.count_at(home, key, seq, high);
    }

    /// [`count`](Self::count) past a `home` slot that holds another word.
    #[inline(never)]
    fn count_probing(
        &mut self,
        home: usize,
        key: K,
        seq: u32,
        high: &mut rustc_hash::FxHashMap<u32, u64>,
    ) {
        let mask = self.slots.len() - 1;
        let mut i = (home + 1) & mask;
        while K::other(self.slots[i].key, key) {
            i = (i + 1) & mask;
        }
        self.count_at(i, key, seq, high);
    }

    /// Counts one more of `key` in slot `i`, which holds it or is free.
    #[inline(always)]
    fn count_at(&mut self, i: usize, key: K, seq: u32, high: &mut rustc_hash::FxHashMap<u32, u64>) {
        let e = &mut self.slots[i];
        let new = e.key == K::FREE;
        e.key = key;
        e.count = e.count.wrapping_add(1);
        // Not an `if`, nor a mask: either compiles to a branch (0.9 ms more on the seed's books).
        e.seq = std::hint::select_unpredictable(new, seq, e.seq);
        if e.count == 0 {
            carry(e.seq, high);
        }
        self.len += usize::from(new);
    }

    /// Doubles the table if more than [`limit`](Self::limit) slots are taken. Called after
    /// each 64 bytes of text (at most 32 words) and after each word counted alone, not per
    /// word: the table never fills up, and a token's count has no load and branch for it.
    #[inline(always)]
    fn make_room(&mut self) {
        if self.len > self.limit {
            self.grow();
        }
    }

    /// The taken slot with the highest count, the first seen among equals (a free slot if
    /// every count is 0). Frees every slot on the way, so that the next table takes them as
    /// they are: one pass over the memory, not two (3.93-4.12 -> 3.83-3.97 ms).
    fn take_top(&mut self) -> Slot<K> {
        let mut top = (0, Slot::FREE);
        for e in self.slots.iter_mut() {
            let rank = u64::from(e.count) << 32 | u64::from(!e.seq);
            if rank > top.0 {
                top = (rank, *e);
            }
            *e = Slot::FREE;
        }
        self.len = 0;
        self.dirty = false;
        top.1
    }

    /// Sets the count of `key` to 0, if it is in the table.
    fn zero(&mut self, key: K) {
        let i = self.slot(key);
        self.slots[i].count = 0;
    }

    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        let old = std::mem::take(&mut self.slots);
        let bigger = FlatTable::with_slots(old.len() * 2);
        let len = self.len;
        *self = bigger;
        for &e in old.iter().filter(|e| e.key != K::FREE) {
            let i = self.slot(e.key);
            self.slots[i] = e;
        }
        self.len = len;
    }
}

/// Counts one more in `count` (the low 32 bits); a wrap carries into `high[seq]`.
#[inline(always)]
fn bump(count: &mut u32, seq: u32, high: &mut rustc_hash::FxHashMap<u32, u64>) {
    *count = count.wrapping_add(1);
    if *count == 0 {
        carry(seq, high);
    }
}

/// Carries a wrapped count into `high[seq]`.
#[cold]
#[inline(never)]
fn carry(seq: u32, high: &mut rustc_hash::FxHashMap<u32, u64>) {
    *high.entry(seq).or_default() += 1 << 32;
}

/// The most common word seen so far by [`Counts::most_common`].
#[derive(Clone, Copy)]
enum Best {
    Tiny(Tiny),
    Mid(Mid),
    Entry(Entry),
}

impl Counts {
    /// How many distinct words were counted. More than 4 Gi distinct words (and words of
    /// 4 GiB) are out of reach.
    fn distinct(&self) -> usize {
        self.tiny.len + self.mid.len + self.table.len()
    }

    /// The stamps of the next `n` bytes of text: the first is returned, and the one after
    /// them is next. When the stamps would run out (after 4 GiB of text), every word's `seq`
    /// is renumbered first to its rank, which keeps their order. (Only a single line longer
    /// than the stamps left then, about 4 GiB, would reuse stamps, and a tie among its words
    /// could go to a later one.)
    fn stamps(&mut self, n: usize) -> u32 {
        if (u32::MAX - self.stamp) as usize <= n {
            self.renumber();
        }
        let first = self.stamp;
        self.stamp = self.stamp.saturating_add(n as u32);
        first
    }

    /// Renumbers every word's `seq` (and the keys of `high`) to its rank among them, so that
    /// the next stamp can be their number.
    #[cold]
    fn renumber(&mut self) {
        let mut seqs: Vec<u32> = (self.tiny.iter().map(|e| e.seq))
            .chain(self.mid.iter().map(|e| e.seq))
            .chain(self.table.iter().map(|e| e.seq))
            .collect();
        seqs.sort_unstable();
        let rank = |seq: u32| seqs.partition_point(|&s| s < seq) as u32;
        for e in self.tiny.slots.iter_mut().filter(|e| e.key != 0) {
            e.seq = rank(e.seq);
        }
        for e in self.mid.slots.iter_mut().filter(|e| e.key != [0, 0]) {
            e.seq = rank(e.seq);
        }
        for e in self.table.iter_mut() {
            e.seq = rank(e.seq);
        }
        self.high = self.high.drain().map(|(seq, n)| (rank(seq), n)).collect();
        self.stamp = seqs.len() as u32;
    }

    /// Counts one more of a word (lowercase, neither a [`Tiny`] nor a [`Mid`] one), whose [`key_of`] is `key`
    /// and hash `hash`; `word` is needed only if it is longer than 16 bytes.
    #[inline(always)]
    fn add_entry(&mut self, key: [u64; 2], len: usize, hash: u64, word: &[u8], stamp: u32) {
        let Counts {
            table, long, high, ..
        } = self;
        let found = table.find_mut(hash, |e| {
            e.key == key && e.len as usize == len && (len <= 16 || *long[e.long as usize] == *word)
        });
        if let Some(e) = found {
            return bump(&mut e.count, e.seq, high);
        }
        let mut entry = Entry {
            key,
            len: len as u32,
            count: 1,
            seq: stamp,
            long: 0,
        };
        if len > 16 {
            entry.long = self.long.len() as u32;
            self.long.push(word.into());
        }
        let long = &self.long;
        self.table.insert_unique(hash, entry, |e| rehash(long, e));
    }

    /// Counts one word that is already lowercase, first seen at `stamp` if it is new.
    fn add_lowered(&mut self, word: &[u8], stamp: u32) {
        if let Some(key) = tiny_key(word) {
            self.tiny.count(key, stamp, &mut self.high);
        } else if let Some(key) = mid_key(word) {
            self.mid.count(key, stamp, &mut self.high);
        } else {
            let key = key_of(word);
            let hash = hash_of(key, word.len(), word);
            self.add_entry(key, word.len(), hash, word, stamp);
        }
        self.make_room();
    }

    /// Doubles the flat tables that are past their limit.
    #[inline(always)]
    fn make_room(&mut self) {
        self.tiny.make_room();
        self.mid.make_room();
    }

    /// Counts one whitespace-free token as the seed does: lowered first.
    pub fn add(&mut self, token: &str) {
        let stamp = self.stamps(1);
        self.add_stamped(token, stamp);
    }

    /// [`add`](Self::add) with the token's stamp.
    fn add_stamped(&mut self, token: &str, stamp: u32) {
        if token.is_ascii() {
            let mut lowered = std::mem::take(&mut self.lowered);
            lowered.clear();
            lowered.extend(token.bytes().map(|b| b.to_ascii_lowercase()));
            self.add_lowered(&lowered, stamp);
            self.lowered = lowered;
        } else {
            self.add_lowered(py_lower(token).as_bytes(), stamp);
        }
    }

    /// Counts every token of decoded text (one line or many: newlines are whitespace).
    ///
    /// Each 64 bytes are marked for ASCII whitespace in one 64-bit word (no branches), and
    /// their tokens read off its bit transitions. An ASCII token of up to 16 bytes is loaded,
    /// lowered and hashed as two 8-byte words, never copied byte by byte; longer tokens and
    /// tokens with other characters take the general path.
    pub fn add_text(&mut self, text: &str) {
        self.add_text_as::<false, false>(text, text.as_bytes());
    }

    /// [`add_text`](Self::add_text), for text whose ASCII capitals were lowered already
    /// (`LOWERED`), and that is all ASCII (`ASCII`: no token needs checking).
    ///
    /// `bytes` is `text`'s bytes, or those and at least 16 more (padding): then every token of
    /// up to 16 bytes is loaded without a bounds check.
    #[inline(always)]
    fn add_text_as<const LOWERED: bool, const ASCII: bool>(&mut self, text: &str, bytes: &[u8]) {
        assert!(bytes.as_ptr() == text.as_ptr() && bytes.len() >= text.len());
        debug_assert!(!ASCII || text.is_ascii());
        let first = self.stamps(text.len());
        if bytes.len() >= text.len() + PADDING {
            self.tokens::<LOWERED, true, ASCII>(text, bytes, first);
        } else {
            self.tokens::<LOWERED, false, ASCII>(text, bytes, first);
        }
    }

    /// [`add_text_as`](Self::add_text_as), `PADDED` if `bytes` has at least 16 bytes past `text`;
    /// the token at byte `i` of `text` is stamped `first + i`.
    #[inline(always)]
    fn tokens<const LOWERED: bool, const PADDED: bool, const ASCII: bool>(
        &mut self,
        text: &str,
        bytes: &[u8],
        first: u32,
    ) {
        // Each 64 bytes are marked just before their tokens are read, while they are in cache.
        let blocks = text.as_bytes().chunks_exact(64);
        let last = tail_spaces(blocks.remainder());
        let spaces = blocks.map(spaces64).chain(std::iter::once(last));
        // A token starts at a non-space after a space and ends at a space after a non-space;
        // `open` is a token that runs on past the current 64 bytes.
        let mut open = None;
        let mut space_before = 1;
        for (w, space) in spaces.enumerate() {
            let after_space = (space << 1) | space_before;
            space_before = space >> 63;
            let mut starts = !space & after_space;
            let mut ends = space & !after_space;
            while ends != 0 {
                let end = w * 64 + ends.trailing_zeros() as usize;
                ends &= ends - 1;
                let start = open.take().unwrap_or_else(|| {
                    let start = w * 64 + starts.trailing_zeros() as usize;
                    starts &= starts.wrapping_sub(1);
                    start
                });
                let stamp = first.wrapping_add(start as u32);
                self.add_span::<LOWERED, PADDED, ASCII>(text, bytes, start, end, stamp);
            }
            self.make_room();
            if starts != 0 {
                open = Some(w * 64 + starts.trailing_zeros() as usize);
            }
        }
    }

    /// Counts `text[start..end]`, the text between two ASCII whitespace bytes, stamped
    /// `stamp`; `bytes` as for [`tokens`](Self::tokens).
    #[inline(always)]
    fn add_span<const LOWERED: bool, const PADDED: bool, const ASCII: bool>(
        &mut self,
        text: &str,
        bytes: &[u8],
        start: usize,
        end: usize,
        stamp: u32,
    ) {
        let lower = |x| if LOWERED { x } else { lower8(x) };
        let len = end - start;
        let sixteen = match PADDED {
            // SAFETY: `start < end <= text.len()`, and `bytes` (`text`'s bytes first) has at
            // least 16 more: `start..start + 16` is in it.
            true => Some(unsafe {
                bytes
                    .as_ptr()
                    .add(start)
                    .cast::<[u8; 16]>()
                    .read_unaligned()
            }),
            false => bytes.get(start..start + 16).and_then(|b| b.try_into().ok()),
        };
        if let Some(sixteen) = sixteen {
            let word =
                |i: usize| u64::from_le_bytes(sixteen[i..i + 8].try_into().unwrap_or([0; 8]));
            if len <= 8 {
                let raw = word(0) & KEEP[len][0];
                if ASCII || raw & HIGH == 0 {
                    let key = lower(raw) | MARK[len];
                    return self.tiny.count(key, stamp, &mut self.high);
                }
            } else if len <= 16 {
                let raw = [word(0), word(8) & KEEP[len][1]];
                if ASCII || (raw[0] | raw[1]) & HIGH == 0 {
                    let key = [lower(raw[0]), lower(raw[1]) | MARK[len]];
                    return self.mid.count(key, stamp, &mut self.high);
                }
            }
        }
        self.add_token(&text[start..end], stamp);
    }

    /// Counts the text between two ASCII whitespace bytes, stamped `stamp` on: one token,
    /// unless non-ASCII whitespace splits it further (each piece stamped by its offset). ASCII
    /// whitespace is one byte, so the cuts are character boundaries.
    fn add_token(&mut self, text: &str, stamp: u32) {
        if text.is_ascii() {
            self.add_stamped(text, stamp);
        } else {
            for token in py_split(text) {
                let offset = token.as_ptr() as usize - text.as_ptr() as usize;
                self.add_stamped(token, stamp.wrapping_add(offset as u32));
            }
        }
    }

    /// The low 32 bits of the count of `word` (exact bytes) and its `seq`, if it was counted.
    fn find(&self, word: &[u8]) -> Option<(u32, u32)> {
        if let Some(key) = tiny_key(word) {
            let e = self.tiny.find(key)?;
            return Some((e.count, e.seq));
        }
        if let Some(key) = mid_key(word) {
            let e = self.mid.find(key)?;
            return Some((e.count, e.seq));
        }
        let key = key_of(word);
        let hash = hash_of(key, word.len(), word);
        let e = self.table.find(hash, |e| {
            e.key == key
                && e.len as usize == word.len()
                && (word.len() <= 16 || *self.long[e.long as usize] == *word)
        })?;
        Some((e.count, e.seq))
    }

    /// The whole count from its low 32 bits and the word's `seq`.
    #[inline(always)]
    fn total(&self, count: u32, seq: u32) -> u64 {
        let high = match self.high.is_empty() {
            true => 0,
            false => self.high.get(&seq).copied().unwrap_or(0),
        };
        u64::from(count) + high
    }

    /// How often `word` (lowercase) was counted.
    pub fn get(&self, word: &str) -> u64 {
        self.find(word.as_bytes())
            .map_or(0, |(count, seq)| self.total(count, seq))
    }

    /// Every word and its count.
    #[cfg(test)]
    fn all(&self) -> std::collections::HashMap<String, u64> {
        let tiny = self.tiny.iter().map(|e| (Best::Tiny(e), e.count, e.seq));
        let mid = self.mid.iter().map(|e| (Best::Mid(e), e.count, e.seq));
        let rest = self.table.iter().map(|&e| (Best::Entry(e), e.count, e.seq));
        tiny.chain(mid)
            .chain(rest)
            .map(|(w, count, seq)| (self.word(w), self.total(count, seq)))
            .collect()
    }

    fn word(&self, best: Best) -> String {
        let bytes = match best {
            Best::Tiny(e) => {
                let len = (64 - e.key.leading_zeros() as usize) / 8;
                let key = e.key & !(0x80 << (8 * (len - 1)));
                key.to_le_bytes()[..len].to_vec()
            }
            Best::Mid(e) => {
                let len = 8 + (64 - e.key[1].leading_zeros() as usize) / 8;
                let key = [e.key[0], e.key[1] & !(0x80 << (8 * (len - 9)))];
                let bytes = [key[0].to_le_bytes(), key[1].to_le_bytes()].concat();
                bytes[..len].to_vec()
            }
            Best::Entry(e) if e.len > 16 => self.long[e.long as usize].to_vec(),
            Best::Entry(e) => {
                let bytes = [e.key[0].to_le_bytes(), e.key[1].to_le_bytes()].concat();
                bytes[..e.len as usize].to_vec()
            }
        };
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The most common word that is not a stop word, and its count; ties go to the word seen
    /// first; `(None, 0)` if no word counts.
    pub fn most_common(mut self, stop_words: &[String]) -> (Option<String>, u64) {
        // When every count fits its entry, the flat tables' stop words are zeroed below, and
        // only the other stop words' `seq`s are needed (none of the seed's).
        let zero = self.high.is_empty();
        let flat = |w: &[u8]| tiny_key(w).is_some() || mid_key(w).is_some();
        let stop: rustc_hash::FxHashSet<u32> = stop_words
            .iter()
            .map(|w| w.as_bytes())
            .filter(|w| !(zero && flat(w)))
            .filter_map(|w| self.find(w).map(|(_, seq)| seq))
            .collect();
        let mut best: Option<(u64, u32, Best)> = None;
        let mut consider = |count: u64, seq: u32, word: Best| {
            let better = best.is_none_or(|(c, s, _)| count > c || (count == c && seq < s));
            if count > 0 && better && !stop.contains(&seq) {
                best = Some((count, seq, word));
            }
        };
        if zero {
            // The slots are ranked by count then seq without a branch per slot (a free one
            // has count 0): a taken-or-free test per slot is a coin toss the branch predictor
            // loses.
            for word in stop_words {
                let word = word.as_bytes();
                if let Some(key) = tiny_key(word) {
                    self.tiny.zero(key);
                } else if let Some(key) = mid_key(word) {
                    self.mid.zero(key);
                }
            }
            let (tiny, mid) = (self.tiny.take_top(), self.mid.take_top());
            consider(u64::from(tiny.count), tiny.seq, Best::Tiny(tiny));
            consider(u64::from(mid.count), mid.seq, Best::Mid(mid));
        } else {
            for e in self.tiny.iter() {
                consider(self.total(e.count, e.seq), e.seq, Best::Tiny(e));
            }
            for e in self.mid.iter() {
                consider(self.total(e.count, e.seq), e.seq, Best::Mid(e));
            }
        }
        for &e in &self.table {
            consider(self.total(e.count, e.seq), e.seq, Best::Entry(e));
        }
        best.map_or((None, 0), |(count, _, word)| (Some(self.word(word)), count))
    }
}

/// The hash of a stored entry, for the table to grow.
fn rehash(long: &[Box<[u8]>], e: &Entry) -> u64 {
    let word: &[u8] = if e.len > 16 {
        &long[e.long as usize]
    } else {
        &[]
    };
    hash_of(e.key, e.len as usize, word)
}

/// Counts every token of a book, streaming it in blocks of whole lines through one
/// [`LineCounter`]. `name` and `location` name the book in errors: a read failure, or the
/// absolute byte offset of the first byte that is not UTF-8.
pub fn count_words(
    mut reader: impl Read,
    name: &str,
    location: &Location,
) -> Result<Counts, String> {
    let mut counter = LineCounter::for_book(name, location.size());
    loop {
        match reader.read(counter.spare()) {
            Ok(0) => return counter.finish(),
            Ok(n) => counter.commit(n)?,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(counter.read_failed(location, e)),
        }
    }
}

/// Bytes past the end of a [`LineCounter`]'s text, so that a token's 16 bytes load unchecked.
const PADDING: usize = 16;

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
        LineCounter::for_book(name, None)
    }

    /// A counter for the book `name` of `bytes` bytes, if that is known (see [`Counts::for_book`]).
    pub fn for_book(name: &str, bytes: Option<u64>) -> Self {
        LineCounter {
            name: name.to_owned(),
            counts: Counts::for_book(bytes),
            buf: vec![0u8; (1 << 18) + PADDING],
            filled: 0,
            offset: 0,
        }
    }

    /// Free space to read the next bytes into (never empty), then [`commit`](Self::commit) them.
    /// The buffer's last 16 bytes are never handed out: tokens at the text's end load them.
    pub fn spare(&mut self) -> &mut [u8] {
        if self.filled + PADDING == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let end = self.buf.len() - PADDING;
        &mut self.buf[self.filled..end]
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
        // Lowering the ASCII capitals first, in place, changes neither whether the bytes are
        // UTF-8 nor where they stop being (every byte of a multi-byte sequence is 0x80 or
        // more), nor any token's lowercase form (ASCII letters are cased either way, so the
        // final-sigma rule sees the same context).
        let ascii = lower_ascii(&mut self.buf[..end]);
        let padded = &self.buf[..end + PADDING];
        if ascii {
            // SAFETY: every byte is ASCII, so the bytes are UTF-8.
            let text = unsafe { std::str::from_utf8_unchecked(&self.buf[..end]) };
            self.counts.add_text_as::<true, true>(text, padded);
            return Ok(());
        }
        match std::str::from_utf8(&self.buf[..end]) {
            Ok(text) => {
                self.counts.add_text_as::<true, false>(text, padded);
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

/// Lowers the ASCII capitals of `bytes` in place (one vectorized pass) and says whether every
/// byte is ASCII, in which case the bytes are UTF-8 with no further check.
fn lower_ascii(bytes: &mut [u8]) -> bool {
    let mut seen = 0u8;
    for b in bytes.iter_mut() {
        seen |= *b;
        *b = b.to_ascii_lowercase();
    }
    seen < 0x80
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

    /// Every byte value at every position of an `N`-byte block, among neighbours of every
    /// kind: `marks` sets exactly the bits of the bytes in [`SPACE`], never a neighbour's.
    fn assert_marks<const N: usize>(marks: impl Fn(&[u8; N]) -> u64) {
        for b in 0..=255u8 {
            for at in 0..N {
                for fill in [0u8, b' ', b'A', 0x7f, 0x80, 0xff] {
                    let mut bytes = [fill; N];
                    bytes[at] = b;
                    let marks = marks(&bytes);
                    for (i, &x) in bytes.iter().enumerate() {
                        let (mark, space) = (marks >> i & 1 == 1, SPACE[x as usize]);
                        assert_eq!(mark, space, "{b:#x} at {at} among {fill:#x}: bit {i}");
                    }
                }
            }
        }
    }

    #[test]
    fn eight_and_sixty_four_byte_space_marks_match_the_byte_table() {
        assert_marks::<8>(|bytes| spaces8(u64::from_le_bytes(*bytes)));
        assert_marks::<64>(|bytes| spaces64(bytes));
        // The tail: its own bytes, then every bit past them set.
        assert_eq!(tail_spaces(b"a b\t"), u64::MAX << 4 | 0b1010);
    }

    /// The seed's counting, spelled out with `py_split` and `py_lower` and a `HashMap`.
    fn reference(text: &str) -> std::collections::HashMap<String, u64> {
        let mut counts = std::collections::HashMap::new();
        for token in py_split(text) {
            *counts.entry(py_lower(token)).or_default() += 1;
        }
        counts
    }

    #[test]
    fn counts_match_a_plain_reference_on_mixed_text() {
        // Pieces that stress the fast path's edges: words of 15 to 17 bytes, NUL and control
        // bytes inside words, Unicode whitespace and case (next to ASCII capitals), tokens
        // crossing 64-byte words.
        let pieces = [
            "a",
            "A",
            "a\0",
            "The",
            "THE",
            "mr.",
            "abcdefghijklmnop",
            "ABCDEFGHIJKLMNOPQ",
            "abcdefghijklmnopq",
            "abcdefghijklmno",
            "\u{1}x",
            "x\u{7f}",
            "École",
            "ΟΔΟΣ",
            "AΣ", // lowered ASCII first (as LineCounter does) or not: still a final sigma
            "ΣA",
            "ß",
            "İ",
            " ",
            "  ",
            "\n",
            "\r\n",
            "\t",
            "\x1c",
            "\u{a0}",
            "\u{3000}",
            "\u{85}",
            "\u{200b}",
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut text = String::new();
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            text.push_str(pieces[(state % pieces.len() as u64) as usize]);
        }
        let expected = reference(&text);
        for cut in [text.len(), 1000, 64, 7] {
            let mut counter = LineCounter::new("t");
            for chunk in text.as_bytes().chunks(cut) {
                counter.feed(chunk).unwrap();
            }
            let counts = counter.finish().unwrap();
            assert_eq!(counts.all(), expected, "chunks of {cut}");
            for (word, &n) in &expected {
                assert_eq!(counts.get(word), n, "{word:?}, chunks of {cut}");
            }
        }
    }

    #[test]
    fn many_distinct_words_grow_the_tables_and_keep_their_counts() {
        // Some 30,000 distinct words of 1 to 16 bytes: more than the flat tables hold before
        // they double.
        let mut text = String::new();
        let mut expected = std::collections::HashMap::new();
        let mut first_seen = Vec::new();
        for i in 0..40_000u64 {
            let len = 1 + (i % 16) as usize;
            let word: String = format!("{i:x}{}", "Q".repeat(16))
                .chars()
                .take(len)
                .collect();
            for _ in 0..1 + i % 3 {
                text.push_str(&word);
                text.push(' ');
            }
            let lowered = py_lower(&word);
            if !expected.contains_key(&lowered) {
                first_seen.push(lowered.clone());
            }
            *expected.entry(lowered).or_default() += 1 + i % 3;
        }
        assert!(expected.len() > 30_000);
        let counts = count(text.as_bytes()).unwrap();
        assert_eq!(counts.all(), expected);
        let stop: Vec<String> = first_seen[..5].to_vec();
        let top = first_seen[5..].iter().map(|w| expected[w]).max().unwrap();
        let winner = first_seen[5..]
            .iter()
            .find(|w| expected[*w] == top)
            .unwrap();
        assert_eq!(counts.most_common(&stop), (Some(winner.clone()), top));
    }

    #[test]
    fn a_book_counted_after_others_on_the_same_thread_starts_from_free_slots() {
        // A thread's next table takes the slots the last one left: freed while ranking
        // (`most_common`) or, for a table dropped unranked, when dropped.
        let words = |text: &[u8]| {
            let mut all: Vec<_> = count(text).unwrap().all().into_iter().collect();
            all.sort();
            all
        };
        let unranked = count(b"alpha beta beta extraordinarily").unwrap();
        assert_eq!(unranked.get("beta"), 2);
        drop(unranked);
        assert_eq!(words(b"gamma"), [("gamma".to_string(), 1)]);
        let ranked = count(b"delta delta extraordinarily").unwrap();
        assert_eq!(ranked.most_common(&[]), (Some("delta".into()), 2));
        assert_eq!(words(b"Epsilon"), [("epsilon".to_string(), 1)]);
        let after = count(b"zeta").unwrap();
        assert_eq!((after.get("delta"), after.get("extraordinarily")), (0, 0));
        assert_eq!(after.most_common(&[]), (Some("zeta".into()), 1));
    }

    #[test]
    fn tables_are_sized_to_the_book_and_grow_past_the_estimate() {
        let slots = |bytes| {
            let counts = Counts::for_book(bytes);
            (counts.tiny.slots.len(), counts.mid.slots.len())
        };
        assert_eq!(slots(None), (1 << 14, 1 << 13));
        assert_eq!(slots(Some(73_023)), (1 << 13, 1 << 12)); // Alice: 2.5 Ki and 0.6 Ki words
        assert_eq!(slots(Some(776_646)), (1 << 15, 1 << 14)); // 12.2 Ki and 6.4 Ki words
        assert_eq!(slots(Some(0)), (1 << 9, 1 << 9));
        assert_eq!(slots(Some(1 << 40)), (MAX_SPARE_SLOTS, MAX_SPARE_SLOTS));
        // A book far richer than its size suggests: the smallest tables double, counts intact.
        let text: String = (0..3000)
            .map(|i| format!("w{i} longerword{i} w{i}\n"))
            .collect();
        let mut counter = LineCounter::for_book("t", Some(0));
        counter.feed(text.as_bytes()).unwrap();
        let counts = counter.finish().unwrap();
        assert!(counts.tiny.slots.len() >= 4096 && counts.mid.slots.len() >= 4096);
        let all = counts.all();
        assert_eq!(all.len(), 6000);
        assert_eq!((all["w2999"], all["longerword0"]), (2, 1));
    }

    #[test]
    fn words_of_nine_to_sixteen_bytes_win_and_stop() {
        let counts = count(b"Abcdefghij abcdefghij b\n").unwrap();
        assert_eq!(counts.most_common(&[]), (Some("abcdefghij".into()), 2));
        let counts = count(b"Abcdefghij abcdefghij b\n").unwrap();
        assert_eq!(
            counts.most_common(&["abcdefghij".into()]),
            (Some("b".into()), 1)
        );
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
    fn stop_words_of_every_kind_never_win_with_or_without_carried_counts() {
        // One stop word per table (up to 8 bytes, 9 to 16, non-ASCII, longer than 16), each
        // more common than "x"; ranked by the flat tables' pass, then with a carried count
        // (`high` not empty), which ranks every word by its whole count.
        let stop: Vec<String> = ["ab", "abcdefghij", "école", "abcdefghijklmnopqrs"]
            .map(String::from)
            .to_vec();
        let text = format!("x x {} zz\n", stop.join(" ").repeat(3));
        let counts = count(text.as_bytes()).unwrap();
        assert_eq!(counts.get("école"), 3);
        assert_eq!(counts.most_common(&stop), (Some("x".into()), 2));
        let mut counts = count(text.as_bytes()).unwrap();
        counts.high.insert(counts.find(b"zz").unwrap().1, 1 << 32);
        assert_eq!(
            counts.most_common(&stop),
            (Some("zz".into()), (1 << 32) + 1)
        );
        let mut counts = count(text.as_bytes()).unwrap();
        counts.high.insert(counts.find(b"x").unwrap().1, 1 << 32);
        assert_eq!(counts.most_common(&stop), (Some("x".into()), (1 << 32) + 2));
    }

    #[test]
    fn stamps_running_out_renumber_every_word_in_first_seen_order() {
        // Three words (one per table) stamped just below `u32::MAX`, one with a carried
        // count; the next text needs more stamps than are left.
        let mut counts = Counts {
            stamp: u32::MAX - 30,
            ..Counts::default()
        };
        counts.add_text("b abcdefghij école\n");
        let (_, seq) = counts.find("école".as_bytes()).unwrap();
        counts.high.insert(seq, 1 << 32);
        let next = "zz école abcdefghij b zz zz extraordinary\n";
        counts.add_text(next);
        assert_eq!(counts.stamp as usize, 3 + next.len());
        let seq = |counts: &Counts, word: &str| counts.find(word.as_bytes()).unwrap().1;
        let order = ["b", "abcdefghij", "école", "zz", "extraordinary"].map(|w| seq(&counts, w));
        assert_eq!(order[..3], [0, 1, 2]);
        assert!(order.is_sorted() && order[3] >= 3);
        assert_eq!(counts.get("école"), (1 << 32) + 2);
        counts.high.clear(); // ties of 2: the first seen wins
        assert_eq!(counts.most_common(&[]), (Some("zz".into()), 3));
        let mut counts = Counts {
            stamp: u32::MAX - 30,
            ..Counts::default()
        };
        counts.add_text("b abcdefghij école\n");
        counts.add_text("zz école abcdefghij b zz extraordinary\n");
        assert_eq!(counts.most_common(&[]), (Some("b".into()), 2));
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
    fn lowering_in_place_tells_whether_every_byte_is_ascii() {
        let mut ascii = *b"Hello, WORLD\x7f\x00 zZ@[`{";
        assert!(lower_ascii(&mut ascii));
        assert_eq!(&ascii, b"hello, world\x7f\x00 zz@[`{");
        let mut mixed = "ÉCOLE École x".as_bytes().to_vec();
        assert!(!lower_ascii(&mut mixed));
        assert_eq!(mixed, "École École x".as_bytes());
        assert!(lower_ascii(&mut []));
    }

    #[test]
    fn tokens_ending_at_the_end_of_the_buffer_ignore_the_bytes_past_it() {
        // The last line (no `\n`) ends at or near the end of the read buffer, after a line of
        // other letters that leaves its bytes past the text: a token's 16-byte load reads them.
        // One book has a non-ASCII word up front, so its first block takes the UTF-8 check.
        let buffer = 1 << 18;
        for first in ["Xyz\n", "École\n"] {
            for len in (buffer - 40..buffer + 3).chain([1, 17, 100]) {
                let mut text = String::from(first);
                text.push_str(&"QWERTYUIOPASDFGHJKL ".repeat(buffer / 40));
                text.push('\n');
                let words = "Abcdefghijklmnop abcdEFGH Ab ".repeat(len / 16 + 1);
                text.push_str(&words[..len.saturating_sub(text.len()).max(1)]);
                let counts = count(text.as_bytes()).unwrap();
                assert_eq!(counts.all(), reference(&text), "{first:?} {len}");
            }
        }
    }

    #[test]
    fn counts_past_32_bits_carry_into_the_high_part() {
        let mut counts = Counts::default();
        for word in ["ab", "abcdefghij", "ÉCOLE"] {
            counts.add(word);
        }
        // Every word's count at the last value its 32 bits hold.
        let tiny = counts.tiny.slots.iter_mut().filter(|e| e.key != 0);
        tiny.for_each(|e| e.count = u32::MAX);
        let mid = counts.mid.slots.iter_mut().filter(|e| e.key != [0, 0]);
        mid.for_each(|e| e.count = u32::MAX);
        counts.table.iter_mut().for_each(|e| e.count = u32::MAX);
        for word in ["ab", "Abcdefghij", "école", "ab", "ab"] {
            counts.add(word);
        }
        assert_eq!(counts.get("ab"), (1 << 32) + 2);
        assert_eq!(counts.get("abcdefghij"), 1 << 32);
        assert_eq!(counts.get("école"), 1 << 32);
        assert_eq!(counts.most_common(&[]), (Some("ab".into()), (1 << 32) + 2));
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
