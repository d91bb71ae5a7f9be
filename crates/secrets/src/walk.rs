//! Walks a document in tree order, decrypting (or encrypting) the values the rules select and
//! hashing the cleartext into the MAC, as `sops`'s `Tree.Decrypt` / `Tree.Encrypt` do: the path of
//! a value is the map keys above it (list positions add nothing), joined as `a:b:c:`.

use sha2::{Digest, Sha512};

use crate::cipher::{self, CipherError};
use crate::metadata::Rules;
use crate::node::{Key, Node};

/// `sha256("sops")`, which starts the MAC when only encrypted values are covered, so such a MAC
/// never equals one over all values.
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

/// A value that failed, with its path.
#[derive(Debug)]
pub struct ValueError {
    pub path: String,
    pub source: CipherError,
}

/// Direction of a walk.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Decrypt,
    Encrypt,
}

/// One walk over the documents of a file, accumulating the MAC.
pub struct Walk<'a> {
    rules: &'a Rules,
    key: &'a [u8; 32],
    mode: Mode,
    mac_only_encrypted: bool,
    hash: Sha512,
    /// Values decrypted or encrypted, for the bench's cost per value.
    pub values: usize,
}

impl<'a> Walk<'a> {
    pub fn new(rules: &'a Rules, key: &'a [u8; 32], mode: Mode, mac_only_encrypted: bool) -> Self {
        let mut hash = Sha512::new();
        if mac_only_encrypted {
            hash.update(MAC_ONLY_ENCRYPTED_INIT);
        }
        Self { rules, key, mode, mac_only_encrypted, hash, values: 0 }
    }

    /// Walks one document (a top-level map).
    pub fn document(&mut self, doc: &mut Node) -> Result<(), ValueError> {
        self.node(doc, &mut Vec::new())
    }

    /// The MAC: upper-case hex of the SHA-512 of the hashed values.
    pub fn mac(self) -> String {
        hex::encode_upper(self.hash.finalize())
    }

    fn node(&mut self, node: &mut Node, path: &mut Vec<String>) -> Result<(), ValueError> {
        match node {
            Node::Null => Ok(()),
            Node::Seq(items) => items.iter_mut().try_for_each(|item| self.node(item, path)),
            Node::Map(entries) => {
                for (key, value) in entries.iter_mut() {
                    match key {
                        Key::Name(name) => {
                            path.push(name.clone());
                            let result = self.node(value, path);
                            path.pop();
                            result?;
                        }
                        Key::Comment(text) => self.comment(text, path),
                    }
                }
                Ok(())
            }
            leaf => self.leaf(leaf, path),
        }
    }

    fn leaf(&mut self, leaf: &mut Node, path: &[String]) -> Result<(), ValueError> {
        let encrypted = self.rules.encrypts(path);
        let aad = aad(path);
        if encrypted && self.mode == Mode::Decrypt {
            let Node::Str(sealed) = leaf else {
                // A value the rules say is encrypted but is not a string was put there in clear.
                return Err(ValueError {
                    path: aad,
                    source: CipherError::Malformed("a cleartext value"),
                });
            };
            *leaf = cipher::decrypt(sealed, self.key, &aad)
                .map_err(|source| ValueError { path: aad.clone(), source })?;
            self.values += 1;
        }
        if (!self.mac_only_encrypted || encrypted)
            && let Some(bytes) = leaf.mac_bytes()
        {
            self.hash.update(bytes);
        }
        if encrypted && self.mode == Mode::Encrypt {
            *leaf = Node::Str(cipher::encrypt(leaf, self.key, &aad, false));
            self.values += 1;
        }
        Ok(())
    }

    /// Comments are not in the MAC; an encrypted one that does not open is kept as it is, as
    /// `sops` does for files written before it encrypted comments.
    fn comment(&mut self, text: &mut String, path: &[String]) {
        if !self.rules.encrypts(path) {
            return;
        }
        let aad = aad(path);
        match self.mode {
            Mode::Decrypt => {
                if let Ok(Node::Str(plain)) = cipher::decrypt(text, self.key, &aad) {
                    *text = plain;
                }
            }
            Mode::Encrypt => {
                *text = cipher::encrypt(&Node::Str(text.clone()), self.key, &aad, true)
            }
        }
    }
}

/// The additional data of a value: its path joined by `:`, with a trailing `:`.
fn aad(path: &[String]) -> String {
    let mut s = path.join(":");
    s.push(':');
    s
}
