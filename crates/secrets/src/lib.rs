//! SOPS files, in memory: decrypt what `sops` 3.x wrote (YAML, JSON, dotenv and binary stores;
//! age and OpenPGP keys; `encrypted_regex`, `encrypted_suffix`, `unencrypted_suffix`,
//! `unencrypted_regex`, `mac_only_encrypted`; the MAC verified) and encrypt files `sops` can
//! decrypt.
//!
//! Pure: no file or network I/O. Keys come in as text (a Secret's values), cleartext goes out as
//! bytes or JSON; neither is logged, and errors name paths and recipients, never values.
//!
//! The format, from `sops`'s source: every selected scalar becomes
//! `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` under one random 32-byte data key, with the value's
//! path as additional data; the MAC is the SHA-512 of the cleartext values in tree order,
//! encrypted under the data key with `sops.lastmodified` as additional data; the data key is
//! stored once per recipient (an armored age file, an armored OpenPGP message).

mod cipher;
mod error;
mod keys;
mod metadata;
mod node;
mod stores;
mod walk;

pub use cipher::CipherError;
pub use error::SopsError;
pub use keys::{KeyError, Keyring, age_recipient, generate_age};
pub use metadata::{DEFAULT_UNENCRYPTED_SUFFIX, WRITTEN_VERSION};
pub use node::{Key, Node};
pub use stores::Format;

use metadata::{AgeStanza, Metadata, Rules};
use rand::RngCore;
use walk::{Mode, Walk};

/// A decrypted file, in memory.
#[derive(Clone, PartialEq)]
pub struct Decrypted {
    pub format: Format,
    /// The documents without their `sops` metadata (one, except in multi-document YAML).
    pub documents: Vec<Node>,
    /// How many values were decrypted.
    pub values: usize,
}

impl std::fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decrypted")
            .field("format", &self.format)
            .field("documents", &self.documents.len())
            .field("values", &self.values)
            .finish_non_exhaustive()
    }
}

impl Decrypted {
    /// The cleartext file, in its own format (what `sops -d` prints; comments in YAML and JSON
    /// are not kept).
    pub fn to_bytes(&self) -> Result<Vec<u8>, SopsError> {
        stores::emit(self.format, &self.documents, None)
    }
}

/// Whether `bytes` is a SOPS-encrypted file of `format` (by its metadata, not by its name).
pub fn is_encrypted(format: Format, bytes: &[u8]) -> bool {
    format.sniff(bytes) && stores::parse(format, bytes).is_ok_and(|p| p.metadata.is_some())
}

/// Decrypts `bytes` of `format` with the keys of `keyring`.
///
/// # Guarantees
/// - `Ok(None)`: the file carries no SOPS metadata (a plain file); it is returned as it is by
///   callers. A binary file that is not JSON is plain too.
/// - `Ok(Some(_))`: every selected value decrypted and the MAC matched.
/// - `Err(_)`: encrypted, but unusable (no key, wrong key, changed, truncated, unknown version).
pub fn decrypt(
    format: Format,
    bytes: &[u8],
    keyring: &Keyring,
) -> Result<Option<Decrypted>, SopsError> {
    if !format.sniff(bytes) {
        return Ok(None);
    }
    let parsed = match stores::parse(format, bytes) {
        Ok(parsed) => parsed,
        Err(_) if format == Format::Binary => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(md_node) = parsed.metadata else { return Ok(None) };
    let md = Metadata::from_node(&md_node)?;
    let key = data_key(&md, keyring)?;
    let rules = md.rules()?;
    let mut documents = parsed.documents;
    let mut walk = Walk::new(&rules, &key, Mode::Decrypt, md.mac_only_encrypted);
    for doc in &mut documents {
        walk.document(doc).map_err(|e| SopsError::Value { path: e.path, source: e.source })?;
    }
    let values = walk.values;
    let computed = walk.mac();
    let stored =
        match cipher::decrypt(&md.mac, &key, &md.lastmodified).map_err(SopsError::MacUnreadable)? {
            Node::Str(s) => s,
            _ => return Err(SopsError::MacMismatch),
        };
    if !stored.eq_ignore_ascii_case(&computed) {
        return Err(SopsError::MacMismatch);
    }
    Ok(Some(Decrypted { format, documents, values }))
}

fn data_key(md: &Metadata, keyring: &Keyring) -> Result<[u8; 32], SopsError> {
    let recipients: Vec<String> = md
        .age_stanzas()
        .map(|s| s.recipient.clone())
        .chain(md.pgp_stanzas().map(|s| format!("PGP {}", s.fp)))
        .collect();
    if recipients.is_empty() {
        let foreign = md.foreign_keys();
        if foreign.is_empty() {
            return Err(SopsError::Metadata("it lists no key that holds its data key".into()));
        }
        return Err(SopsError::ForeignKeysOnly(foreign.join(", ")));
    }
    if keyring.is_empty() {
        return Err(SopsError::NoKeys);
    }
    keyring.data_key(md).ok_or_else(|| SopsError::WrongKey {
        tried: keyring.len(),
        recipients: recipients.join(", "),
    })
}

/// What `encrypt` encrypts for and which values it selects (`sops --encrypt`'s flags).
#[derive(Clone, Debug, Default)]
pub struct EncryptOptions {
    /// age recipients (`age1…`).
    pub age: Vec<String>,
    /// Armored OpenPGP public keys.
    pub pgp: Vec<String>,
    pub encrypted_regex: Option<String>,
    pub unencrypted_regex: Option<String>,
    pub encrypted_suffix: Option<String>,
    /// Defaults to `_unencrypted` when no other rule is given, as in `sops`.
    pub unencrypted_suffix: Option<String>,
    pub mac_only_encrypted: bool,
}

/// Encrypts a plain file of `format` as `sops --encrypt` would; the result decrypts with `sops -d`.
pub fn encrypt(format: Format, bytes: &[u8], opts: &EncryptOptions) -> Result<Vec<u8>, SopsError> {
    if opts.age.is_empty() && opts.pgp.is_empty() {
        return Err(SopsError::NoRecipients);
    }
    let mut documents = plain_documents(format, bytes)?;
    let mut md = metadata_for(opts)?;
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    let rules: Rules = md.rules()?;
    let mut walk = Walk::new(&rules, &key, Mode::Encrypt, md.mac_only_encrypted);
    for doc in &mut documents {
        walk.document(doc).map_err(|e| SopsError::Value { path: e.path, source: e.source })?;
    }
    let mac = walk.mac();
    md.lastmodified = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    md.mac = cipher::encrypt(&Node::Str(mac), &key, &md.lastmodified, false);
    for recipient in &opts.age {
        let parsed = age_recipient(recipient)?;
        md.age.push(AgeStanza {
            recipient: recipient.clone(),
            enc: keys::seal_for_age(&parsed, &key),
        });
    }
    for armored in &opts.pgp {
        md.pgp.push(keys::seal_for_pgp(armored, &key)?);
    }
    let md_json = serde_json::to_value(&md).map_err(|e| SopsError::Emit(e.to_string()))?;
    stores::emit(format, &documents, Some(&Node::from_json(&md_json)))
}

fn plain_documents(format: Format, bytes: &[u8]) -> Result<Vec<Node>, SopsError> {
    if format == Format::Binary {
        let data = String::from_utf8(bytes.to_vec())
            .map_or_else(|e| Node::Bytes(e.into_bytes()), Node::Str);
        return Ok(vec![Node::Map(vec![(Key::Name("data".into()), data)])]);
    }
    let parsed = stores::parse(format, bytes)?;
    if parsed.metadata.is_some() {
        return Err(SopsError::Metadata("it is already SOPS-encrypted".into()));
    }
    // An empty file has no document to carry the `sops` metadata: what would be written could
    // not be read back as encrypted (sops refuses it too).
    if parsed.documents.is_empty() {
        return Err(SopsError::Parse {
            format: format.name(),
            message: "the file holds no document (nothing to encrypt)".into(),
        });
    }
    if parsed.documents.iter().any(|d| !matches!(d, Node::Map(_))) {
        return Err(SopsError::Parse {
            format: format.name(),
            message: "a document is not a map (SOPS encrypts maps)".into(),
        });
    }
    // In an encrypted dotenv file every `sops_…` variable is metadata (sops reads it so): a
    // variable of the file's own under that prefix would be taken for metadata on the way back
    // and the file would never decrypt again.
    if format == Format::Dotenv
        && let Some(Node::Map(entries)) = parsed.documents.first()
        && let Some((Key::Name(name), _)) =
            entries.iter().find(|(k, _)| matches!(k, Key::Name(n) if n.starts_with("sops_")))
    {
        return Err(SopsError::Parse {
            format: format.name(),
            message: format!(
                "variable {name}: names starting with sops_ are SOPS metadata in an encrypted dotenv file, so it could not be read back; rename it"
            ),
        });
    }
    Ok(parsed.documents)
}

fn metadata_for(opts: &EncryptOptions) -> Result<Metadata, SopsError> {
    let any_rule = opts.encrypted_regex.is_some()
        || opts.unencrypted_regex.is_some()
        || opts.encrypted_suffix.is_some()
        || opts.unencrypted_suffix.is_some();
    let rules = [
        &opts.encrypted_regex,
        &opts.unencrypted_regex,
        &opts.encrypted_suffix,
        &opts.unencrypted_suffix,
    ];
    if rules.iter().filter(|r| r.is_some()).count() > 1 {
        return Err(SopsError::Metadata(
            "only one of encrypted_regex, unencrypted_regex, encrypted_suffix and unencrypted_suffix may be set"
                .into(),
        ));
    }
    Ok(Metadata {
        unencrypted_suffix: if any_rule {
            opts.unencrypted_suffix.clone()
        } else {
            Some(DEFAULT_UNENCRYPTED_SUFFIX.into())
        },
        encrypted_suffix: opts.encrypted_suffix.clone(),
        unencrypted_regex: opts.unencrypted_regex.clone(),
        encrypted_regex: opts.encrypted_regex.clone(),
        mac_only_encrypted: opts.mac_only_encrypted,
        version: WRITTEN_VERSION.into(),
        ..Metadata::default()
    })
}
