//! The seed's CPU-bound experiment that runs outside any interpreter lock: PBKDF2-HMAC-SHA512
//! fingerprints of books.
//!
//! Contract: password = the book's bytes (read whole, inside the task, so one unreadable book
//! fails alone), salt = `--salt` as UTF-8 bytes, `iterations` rounds (the seed's 1,000,000 by
//! default; zero is refused before any work by the CLI), 64 bytes of output printed as lowercase
//! hex. The hashing is RustCrypto's `pbkdf2::pbkdf2_hmac::<sha2::Sha512>`; on x86-64 the
//! workspace's `.cargo/config.toml` selects sha2's portable unrolled SHA-512 backend, which is
//! faster here than the AVX2 one it would pick at run time (figures there).
//!
//! Speed (session 6, thread CPU time per book, 1,000,000 iterations): 2,000,000 chained
//! `sha2::compress512` calls alone take 0.420-0.426 s, the whole `pbkdf2_hmac` 0.433-0.444 s,
//! so HMAC and PBKDF2 add about 3%; Python's `hashlib.pbkdf2_hmac` (OpenSSL) takes 0.52 s. An
//! own HMAC-SHA512 PRF for `pbkdf2::pbkdf2` over `compress512` (key blocks precomputed, the
//! 64-byte message kept as words) measured 1-2% slower, and a build for x86-64-v3 (BMI2's
//! `rorx`) 1-1.5% faster, within the noise: neither kept. Reaching 0.8x Python needs a faster
//! SHA-512 compression than sha2 0.11 has for this CPU.

use serde::{Deserialize, Serialize};

use crate::sources::Location;
use crate::workloads::Experiment;

/// The seed's iteration count.
pub const SEED_ITERATIONS: u32 = 1_000_000;

/// One book to fingerprint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FingerprintInput {
    /// The book's name.
    pub name: String,
    /// Where to read it.
    pub location: Location,
    /// The salt.
    pub salt: String,
    /// PBKDF2 rounds (at least 1).
    pub iterations: u32,
}

/// One book's fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// The book's name.
    pub name: String,
    /// 64 bytes of PBKDF2-HMAC-SHA512, lowercase hex.
    pub fingerprint: String,
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Fingerprint for {} is \"{}\"",
            self.name, self.fingerprint
        )
    }
}

/// PBKDF2-HMAC-SHA512 of `password`, 64 bytes, lowercase hex.
pub fn pbkdf2_hex(password: &[u8], salt: &[u8], iterations: u32) -> String {
    let mut out = [0u8; 64];
    pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password, salt, iterations, &mut out);
    hex::encode(out)
}

fn fingerprint(input: FingerprintInput) -> Result<Fingerprint, String> {
    if input.iterations == 0 {
        return Err(format!(
            "book {:?}: PBKDF2 needs at least 1 iteration",
            input.name
        ));
    }
    let bytes = input
        .location
        .read_all()
        .map_err(|e| format!("book {:?}: {e}", input.name))?;
    Ok(Fingerprint {
        fingerprint: pbkdf2_hex(&bytes, input.salt.as_bytes(), input.iterations),
        name: input.name,
    })
}

concur::task! {
    /// The fingerprint of one book; errors name the book and its file or URL.
    pub static FINGERPRINT: fn(FingerprintInput) -> Result<Fingerprint, String> = fingerprint;
}

/// The experiment over `books`.
pub fn experiment(
    books: Vec<(String, Location)>,
    salt: &str,
    iterations: u32,
) -> Experiment<FingerprintInput, Fingerprint> {
    Experiment::over_books("fingerprint", &FINGERPRINT, books, |name, location| {
        FingerprintInput {
            name,
            location,
            salt: salt.to_owned(),
            iterations,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_python_hashlib() {
        // python3 -c "import hashlib; print(hashlib.pbkdf2_hmac('sha512', b'book', b'salt', 1000).hex())"
        assert_eq!(
            pbkdf2_hex(b"book", b"salt", 1000),
            "4148ef881e7e615739ac8f0886f3cba099f401d9dbe54f215138f92e405a350a18999fcbd8a0f00e2cab6a5504f5b3b061a01f88d498bc7dd3a775a129ffffa5"
        );
    }
}
