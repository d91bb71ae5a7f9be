//! The keys that open SOPS data keys: age X25519 identities and OpenPGP secret keys, held in
//! memory only, and the recipients a new file is encrypted for.

use std::fmt;
use std::io::{Read, Write};
use std::str::FromStr;

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use pgp::composed::{Deserializable, Message, SignedSecretKey};
use pgp::types::{KeyDetails, Password};

use crate::metadata::{AgeStanza, Metadata, PgpStanza};

/// Why key material was refused. Never carries the key itself.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "{source_name}: line {line} is a post-quantum age identity (AGE-SECRET-KEY-PQ-1…); Ferry's age \
         library (age 0.12) reads X25519 identities only: use an age-keygen key without -pq"
    )]
    PostQuantum { source_name: String, line: usize },
    #[error("{source_name}: line {line} is not an age identity (expected AGE-SECRET-KEY-1…)")]
    BadAge { source_name: String, line: usize },
    #[error("{source_name}: holds no age identity")]
    NoAge { source_name: String },
    #[error("{source_name}: is not an armored OpenPGP secret key: {message}")]
    BadPgp { source_name: String, message: String },
    #[error("{0:?} is not an age recipient (expected age1…): {1}")]
    BadRecipient(String, String),
    #[error(
        "{0:?} is a post-quantum age recipient (age1pq1…); Ferry's age library (age 0.12) encrypts to \
         X25519 recipients only"
    )]
    PostQuantumRecipient(String),
}

/// Identities that may open a file's data key. `Debug` shows where keys came from, never keys.
#[derive(Default)]
pub struct Keyring {
    age: Vec<age::x25519::Identity>,
    pgp: Vec<SignedSecretKey>,
    sources: Vec<String>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("age_identities", &self.age.len())
            .field("pgp_keys", &self.pgp.len())
            .field("sources", &self.sources)
            .finish()
    }
}

impl Keyring {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the ring holds no key at all.
    pub fn is_empty(&self) -> bool {
        self.age.is_empty() && self.pgp.is_empty()
    }

    /// How many keys the ring holds.
    pub fn len(&self) -> usize {
        self.age.len() + self.pgp.len()
    }

    /// A digest of the ring's public halves (age recipients, OpenPGP fingerprints): equal for
    /// equal rings, so a cache of renders can tell a change of keys. Reveals nothing secret.
    pub fn id(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        for public in self.age_recipients().iter().chain(self.pgp_fingerprints().iter()) {
            hash.update(public.as_bytes());
            hash.update([0]);
        }
        hex::encode(hash.finalize())
    }

    /// Where the keys came from (for error messages), e.g. `Secret apps/sops-keys key age.agekey`.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// Adds the age identities of an `age-keygen` file: one `AGE-SECRET-KEY-1…` per line, `#`
    /// comments and blank lines skipped. `source_name` names the text in errors.
    pub fn add_age(&mut self, text: &str, source_name: &str) -> Result<usize, KeyError> {
        let mut added = 0;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |line| (source_name.to_owned(), line);
            if line.starts_with("AGE-SECRET-KEY-PQ-") {
                let (source_name, line) = err(i + 1);
                return Err(KeyError::PostQuantum { source_name, line });
            }
            let identity = age::x25519::Identity::from_str(line).map_err(|_| {
                let (source_name, line) = err(i + 1);
                KeyError::BadAge { source_name, line }
            })?;
            self.age.push(identity);
            added += 1;
        }
        if added == 0 {
            return Err(KeyError::NoAge { source_name: source_name.to_owned() });
        }
        self.sources.push(source_name.to_owned());
        Ok(added)
    }

    /// Adds an armored OpenPGP secret key (`gpg --export-secret-keys --armor`), unprotected.
    pub fn add_pgp(&mut self, armored: &str, source_name: &str) -> Result<usize, KeyError> {
        let bad = |e: pgp::errors::Error| KeyError::BadPgp {
            source_name: source_name.to_owned(),
            message: e.to_string(),
        };
        let (keys, _) = SignedSecretKey::from_string_many(armored).map_err(bad)?;
        let mut added = 0;
        for key in keys {
            self.pgp.push(key.map_err(bad)?);
            added += 1;
        }
        self.sources.push(source_name.to_owned());
        Ok(added)
    }

    /// Opens the data key of a file with any key of the ring; `None` if no key matches.
    pub(crate) fn data_key(&self, md: &Metadata) -> Option<[u8; 32]> {
        md.age_stanzas()
            .find_map(|stanza| self.open_age(stanza))
            .or_else(|| md.pgp_stanzas().find_map(|stanza| self.open_pgp(&stanza.enc)))
    }

    fn open_age(&self, stanza: &AgeStanza) -> Option<[u8; 32]> {
        if self.age.is_empty() {
            return None;
        }
        let decryptor =
            age::Decryptor::new_buffered(ArmoredReader::new(stanza.enc.as_bytes())).ok()?;
        let identities = self.age.iter().map(|i| i as &dyn age::Identity);
        let mut reader = decryptor.decrypt(identities).ok()?;
        let mut key = Vec::with_capacity(32);
        reader.read_to_end(&mut key).ok()?;
        key.try_into().ok()
    }

    fn open_pgp(&self, armored: &str) -> Option<[u8; 32]> {
        self.pgp.iter().find_map(|key| {
            let (message, _) = Message::from_string(armored).ok()?;
            let mut plain = message.decrypt(&Password::empty(), key).ok()?;
            if plain.is_compressed() {
                plain = plain.decompress().ok()?;
            }
            plain.as_data_vec().ok()?.try_into().ok()
        })
    }

    /// The age recipients of the ring's identities (for `ferry secret keygen` and tests).
    pub fn age_recipients(&self) -> Vec<String> {
        self.age.iter().map(|i| i.to_public().to_string()).collect()
    }

    /// The fingerprints of the ring's OpenPGP keys, upper-case hex as `sops` writes them.
    pub fn pgp_fingerprints(&self) -> Vec<String> {
        self.pgp.iter().map(|k| hex::encode_upper(k.fingerprint().as_bytes())).collect()
    }
}

/// Parses an age recipient (`age1…`).
pub fn age_recipient(text: &str) -> Result<age::x25519::Recipient, KeyError> {
    if text.starts_with("age1pq1") {
        return Err(KeyError::PostQuantumRecipient(text.to_owned()));
    }
    age::x25519::Recipient::from_str(text)
        .map_err(|e| KeyError::BadRecipient(text.to_owned(), e.to_string()))
}

/// Encrypts a data key to one age recipient, armored as `sops` stores it.
pub(crate) fn seal_for_age(recipient: &age::x25519::Recipient, data_key: &[u8; 32]) -> String {
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
            .expect("one recipient was given");
    let mut out = Vec::new();
    let armored =
        ArmoredWriter::wrap_output(&mut out, Format::AsciiArmor).expect("writing to memory");
    let mut writer = encryptor.wrap_output(armored).expect("writing to memory");
    writer.write_all(data_key).expect("writing to memory");
    writer.finish().and_then(|a| a.finish()).expect("writing to memory");
    let mut text = String::from_utf8(out).expect("armor is ASCII");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// A new age identity and its recipient, as `age-keygen` prints them.
pub fn generate_age() -> (String, String) {
    use age::secrecy::ExposeSecret;
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    (identity.to_string().expose_secret().to_owned(), recipient)
}

/// Encrypts a data key to an armored OpenPGP public key (its first subkey that can encrypt),
/// armored as `sops` stores it, with the primary key's fingerprint.
pub(crate) fn seal_for_pgp(armored: &str, data_key: &[u8; 32]) -> Result<PgpStanza, KeyError> {
    use pgp::composed::{ArmorOptions, MessageBuilder, SignedPublicKey};
    use pgp::crypto::sym::SymmetricKeyAlgorithm;
    let bad = |message: String| KeyError::BadPgp {
        source_name: "the OpenPGP public key".into(),
        message,
    };
    let (key, _) = SignedPublicKey::from_string(armored).map_err(|e| bad(e.to_string()))?;
    let mut rng = rand::thread_rng();
    let fingerprint = hex::encode_upper(key.fingerprint().as_bytes());
    for subkey in &key.public_subkeys {
        let mut builder = MessageBuilder::from_bytes("", data_key.to_vec())
            .seipd_v1(&mut rng, SymmetricKeyAlgorithm::AES256);
        if builder.encrypt_to_key(&mut rng, subkey).is_err() {
            continue;
        }
        let enc = builder
            .to_armored_string(&mut rng, ArmorOptions::default())
            .map_err(|e| bad(e.to_string()))?;
        let created_at = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        return Ok(PgpStanza { created_at, enc, fp: fingerprint });
    }
    Err(bad(format!("key {fingerprint} has no subkey that can encrypt")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_quantum_age_keys_are_refused_with_a_clear_error() {
        let err =
            Keyring::new().add_age("# pq\nAGE-SECRET-KEY-PQ-1ABC\n", "keys.txt").expect_err("pq");
        assert!(err.to_string().contains("keys.txt: line 2 is a post-quantum"), "{err}");
        let err = age_recipient("age1pq1abcdef").expect_err("pq recipient");
        assert!(err.to_string().contains("post-quantum"), "{err}");
    }

    #[test]
    fn a_bad_identity_names_its_source_and_line_but_not_its_text() {
        let err = Keyring::new()
            .add_age("AGE-SECRET-KEY-1NOTAKEY", "Secret a/b key x.agekey")
            .expect_err("bad");
        let text = err.to_string();
        assert!(
            text.contains("Secret a/b key x.agekey: line 1") && !text.contains("NOTAKEY"),
            "{text}"
        );
    }

    #[test]
    fn a_keyring_debug_shows_counts_and_sources_only() {
        let (identity, _) = generate_age();
        let mut ring = Keyring::new();
        ring.add_age(&identity, "keys.txt").expect("valid");
        let shown = format!("{ring:?}");
        assert!(shown.contains("keys.txt") && !shown.contains("AGE-SECRET-KEY"), "{shown}");
    }
}
