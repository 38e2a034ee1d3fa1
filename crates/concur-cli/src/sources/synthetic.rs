//! The synthetic corpus: eight deterministic books shaped like the seed's, for `concur bench`
//! without `--books` (and for tests that need books without `../shared`).
//!
//! Contract:
//! - [`books`] returns the seed's eight book names (in the seed's order) with generated texts of
//!   exactly the seed books' byte sizes ([`BOOKS`]): the same bytes on every run and machine (a
//!   ChaCha8 stream seeded with [`SEED`]; integer weights only, no floating point), 2.6 MB in
//!   well under 0.2 s in a release build.
//! - Words follow a Zipf law (weight of rank `k` ∝ `1/k`, sampled with `rand`'s `WeightedIndex`)
//!   over [`STOP_WORDS`] at the top ranks mixed with a few thousand generated words. Each book
//!   lifts a different generated word to the highest content rank, so each has its own answer.
//! - The text exercises wordfreq's rules: ASCII lines of 60–70 characters, paragraphs, capitals
//!   (sentence starts, names, an upper-case title), punctuation kept on tokens (`,` `.` `;` `?`
//!   `!`), a rare non-ASCII `—` joining two words, and a UTF-8 byte-order mark at the start of
//!   `Frankenstein` as in the seed's copy. Every book is valid UTF-8 and ends with `\n`.
//! - [`STOP_WORDS`] is our own short list of the 60 most frequent English function words (every
//!   one of them is also in the seed's list), so the bench works without `../shared`.

use std::collections::HashSet;

use rand::distr::weighted::WeightedIndex;
use rand::distr::Distribution;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The seed's eight books and their sizes in bytes, in the seed's order.
pub const BOOKS: [(&str, usize); 8] = [
    ("Gulliver", 308_573),
    ("Alice in Wonderland", 73_023),
    ("Pride and prejudice", 704_145),
    ("Yellow wallpaper", 50_840),
    ("Metamorphosis", 139_054),
    ("A Tale of Two Cities", 776_646),
    ("The Importance of Being Earnest", 138_885),
    ("Frankenstein", 441_036),
];

/// Total bytes of [`books`].
pub const TOTAL_BYTES: usize = {
    let mut total = 0;
    let mut i = 0;
    while i < BOOKS.len() {
        total += BOOKS[i].1;
        i += 1;
    }
    total
};

/// The seed of the generator; changing it changes every byte.
pub const SEED: u64 = 0x636f_6e63_7572_2137;

/// How many generated (non-stop) words the vocabulary has.
pub const GENERATED_WORDS: usize = 3000;

/// The built-in stop words, most frequent first (one a line when written to a file).
pub const STOP_WORDS: [&str; 60] = [
    "the", "of", "and", "to", "a", "in", "that", "it", "was", "he", "i", "his", "is", "with", "as",
    "for", "had", "you", "be", "at", "on", "not", "her", "but", "by", "which", "have", "she",
    "from", "they", "this", "all", "him", "were", "so", "my", "me", "we", "an", "are", "their",
    "or", "been", "there", "would", "no", "if", "what", "when", "who", "them", "into", "out", "up",
    "its", "very", "could", "some", "then", "than",
];

/// Ranks before this one are all stop words; after it, every third rank is a generated word
/// until the stop words run out.
const FIRST_CONTENT_RANK: usize = 9;

/// How many of the top generated words are rotated per book (distinct answers for 8 books).
const ROTATED: usize = BOOKS.len();

/// The eight books, `(name, bytes)`, in the seed's order (see the module doc).
pub fn books() -> Vec<(String, Vec<u8>)> {
    let vocabulary = Vocabulary::new();
    BOOKS
        .iter()
        .enumerate()
        .map(|(i, (name, size))| (name.to_string(), vocabulary.book(i, name, *size)))
        .collect()
}

/// The stop words as a file's text, one a line.
pub fn stop_words_text() -> String {
    let mut text = STOP_WORDS.join("\n");
    text.push('\n');
    text
}

/// The generated words and the Zipf sampler, shared by every book.
struct Vocabulary {
    /// Generated words, most frequent first.
    generated: Vec<String>,
    /// Samples a rank (0-based) with weight ∝ 1/(rank+1).
    zipf: WeightedIndex<u64>,
}

/// A word's place in the rank order: a stop word or the `i`-th generated word (before rotation).
#[derive(Clone, Copy)]
enum Slot {
    Stop(usize),
    Generated(usize),
}

impl Vocabulary {
    fn new() -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(SEED);
        const ONSETS: [&str; 27] = [
            "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w",
            "br", "ch", "cl", "dr", "gr", "pl", "sh", "st", "th", "tr",
        ];
        const VOWELS: [&str; 9] = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "ie"];
        const CODAS: [&str; 10] = ["", "", "n", "r", "s", "l", "th", "nd", "st", "m"];
        let stop: HashSet<&str> = STOP_WORDS.into_iter().collect();
        let mut seen = HashSet::new();
        let mut generated = Vec::with_capacity(GENERATED_WORDS);
        while generated.len() < GENERATED_WORDS {
            let syllables = [1, 2, 2, 2, 3][rng.random_range(0..5u32) as usize];
            let mut word = String::new();
            for _ in 0..syllables {
                word.push_str(ONSETS[rng.random_range(0..ONSETS.len() as u32) as usize]);
                word.push_str(VOWELS[rng.random_range(0..VOWELS.len() as u32) as usize]);
            }
            word.push_str(CODAS[rng.random_range(0..CODAS.len() as u32) as usize]);
            if word.len() >= 3 && !stop.contains(word.as_str()) && seen.insert(word.clone()) {
                generated.push(word);
            }
        }
        let ranks = STOP_WORDS.len() + GENERATED_WORDS;
        let zipf = WeightedIndex::new((1..=ranks as u64).map(|k| 1_000_000_000_000 / k))
            .expect("positive weights");
        Vocabulary { generated, zipf }
    }

    /// The rank order: stop words first, then interleaved with generated words (see
    /// [`FIRST_CONTENT_RANK`]), then the remaining generated words.
    fn slots() -> Vec<Slot> {
        let mut slots = Vec::with_capacity(STOP_WORDS.len() + GENERATED_WORDS);
        let (mut stop, mut generated) = (0, 0);
        while stop < STOP_WORDS.len() || generated < GENERATED_WORDS {
            let rank = slots.len();
            let content = stop == STOP_WORDS.len()
                || (rank >= FIRST_CONTENT_RANK && (rank - FIRST_CONTENT_RANK).is_multiple_of(3));
            if content {
                slots.push(Slot::Generated(generated));
                generated += 1;
            } else {
                slots.push(Slot::Stop(stop));
                stop += 1;
            }
        }
        slots
    }

    /// Book `index`'s text: `size` bytes exactly.
    fn book(&self, index: usize, name: &str, size: usize) -> Vec<u8> {
        let mut rng = ChaCha8Rng::seed_from_u64(SEED.wrapping_add(1 + index as u64));
        let slots = Self::slots();
        // This book's top generated words: the first ROTATED rotated by its index.
        let word = |slot: Slot| -> (&str, bool) {
            match slot {
                Slot::Stop(i) => (STOP_WORDS[i], false),
                Slot::Generated(i) => {
                    let i = if i < ROTATED {
                        (i + index) % ROTATED
                    } else {
                        i
                    };
                    // Every 40th generated word is a name, always capitalised.
                    (&self.generated[i], i % 40 == 7)
                }
            }
        };
        let mut text = String::with_capacity(size + 80);
        if name == "Frankenstein" {
            text.push('\u{feff}');
        }
        text.push_str(&name.to_uppercase());
        text.push_str("\n\n");
        let mut line_len = 0;
        let mut width = rng.random_range(60..=70u32) as usize;
        let mut lines_left = rng.random_range(6..=14u32);
        let mut sentence_left = 0;
        let mut joined = false;
        let mut token = String::with_capacity(32);
        while text.len() < size {
            let slot = slots[self.zipf.sample(&mut rng)];
            let (w, is_name) = word(slot);
            // Punctuation follows generated words only (as it rarely follows "the" in English).
            let punctuable = matches!(slot, Slot::Generated(_));
            let starts_sentence = sentence_left == 0;
            if starts_sentence {
                sentence_left = rng.random_range(4..=18u32);
            }
            if sentence_left > 1 || punctuable {
                sentence_left -= 1;
            }
            token.clear();
            if starts_sentence || is_name {
                let mut chars = w.chars();
                token.extend(chars.next().map(|c| c.to_ascii_uppercase()));
                token.push_str(chars.as_str());
            } else {
                token.push_str(w);
            }
            let next_joined = if sentence_left == 0 {
                const ENDS: [&str; 7] = [".", ".", ".", ".", "?", "!", ";"];
                token.push_str(ENDS[rng.random_range(0..ENDS.len() as u32) as usize]);
                false
            } else if punctuable {
                match rng.random_range(0..100u32) {
                    0..=11 => {
                        token.push(',');
                        false
                    }
                    12 => {
                        token.push('—');
                        true
                    }
                    _ => false,
                }
            } else {
                false
            };
            if joined {
                text.push_str(&token);
                line_len += token.len();
            } else if line_len > 0 && line_len + 1 + token.len() > width {
                text.push('\n');
                lines_left -= 1;
                if lines_left == 0 {
                    text.push('\n');
                    lines_left = rng.random_range(6..=14u32);
                }
                width = rng.random_range(60..=70u32) as usize;
                text.push_str(&token);
                line_len = token.len();
            } else {
                if line_len > 0 {
                    text.push(' ');
                    line_len += 1;
                }
                text.push_str(&token);
                line_len += token.len();
            }
            joined = next_joined;
        }
        // Exactly `size` bytes, ending with a newline, cut at a character boundary.
        let mut cut = size - 1;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        while text.len() < size - 1 {
            text.push('.');
        }
        text.push('\n');
        text.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workloads::wordfreq::Counts;

    #[test]
    fn same_bytes_every_time_with_the_seed_sizes() {
        let first = books();
        let second = books();
        assert_eq!(first, second);
        let names: Vec<&str> = first.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, crate::sources::SEED_BOOKS);
        for ((_, bytes), (name, size)) in first.iter().zip(BOOKS) {
            assert_eq!(bytes.len(), size, "{name}");
            let text = std::str::from_utf8(bytes).unwrap();
            assert!(text.ends_with('\n'), "{name}");
            assert!(text.lines().all(|l| l.chars().count() <= 80), "{name}");
        }
        assert!(first[7].1.starts_with("\u{feff}FRANKENSTEIN".as_bytes()));
        assert_eq!(
            first.iter().map(|(_, b)| b.len()).sum::<usize>(),
            TOTAL_BYTES
        );
        // The same bytes on every machine: a digest of the whole corpus, fixed here.
        use sha2::Digest;
        let mut digest = sha2::Sha256::new();
        for (name, bytes) in &first {
            digest.update(name.as_bytes());
            digest.update(bytes);
        }
        assert_eq!(hex::encode(digest.finalize()), EXPECTED_SHA256);
    }

    const EXPECTED_SHA256: &str =
        "4b34553e98012d0140913ccc2d9d72e67f5c79ff0325a6bbdb098f8aafa7e412";

    fn counts(bytes: &[u8]) -> Counts {
        let mut counts = Counts::default();
        counts.add_text(std::str::from_utf8(bytes).unwrap());
        counts
    }

    #[test]
    fn stop_words_lead_and_every_book_has_its_own_answer() {
        let stop: Vec<String> = STOP_WORDS.map(String::from).to_vec();
        let mut answers = HashSet::new();
        for (name, bytes) in books() {
            let c = counts(&bytes);
            assert!(
                c.get("the") > c.get("of") && c.get("of") > c.get("and"),
                "{name}"
            );
            let (word, count) = counts(&bytes).most_common(&stop);
            let word = word.unwrap();
            assert!(
                !STOP_WORDS.contains(&word.as_str()) && count > 10,
                "{name}: {word}"
            );
            answers.insert(word);
        }
        assert_eq!(answers.len(), BOOKS.len(), "{answers:?}");
    }

    #[test]
    fn text_has_capitals_punctuation_and_a_non_ascii_dash() {
        let (_, bytes) = &books()[0];
        let text = std::str::from_utf8(bytes).unwrap();
        for needle in [",", ".", "?", "!", ";", "—", "\n\n"] {
            assert!(text.contains(needle), "{needle:?}");
        }
        // Capitals: "The" at sentence starts is counted as the stop word "the".
        assert!(text.contains("The "));
        assert!(counts(bytes).get("the") > counts(bytes).get("of"));
    }
}
