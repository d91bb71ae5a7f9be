//! One SOPS value: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`, AES-256-GCM with a 32-byte nonce,
//! the value's path (`a:b:c:`) as additional data, and the type of the cleartext.

use aes_gcm::aead::consts::U32;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

use crate::node::{Node, go_float};

/// SOPS's AES-GCM: AES-256 with 32-byte nonces (Go's `NewGCMWithNonceSize(block, 32)`).
type SopsGcm = AesGcm<Aes256, U32>;
const NONCE_BYTES: usize = 32;
const TAG_BYTES: usize = 16;

/// Why one value did not decrypt.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CipherError {
    #[error("the value is not in SOPS's ENC[AES256_GCM,data:…,iv:…,tag:…,type:…] form ({0})")]
    Malformed(&'static str),
    #[error("the value's {0} is not valid base64")]
    Base64(&'static str),
    #[error(
        "AES-GCM refused the value: it was changed, truncated or moved to another key, or the \
         data key is not the one it was encrypted with"
    )]
    Authentication,
    #[error(
        "the value's type {0:?} is not one SOPS writes (str, int, int64, float, bool, bytes, comment)"
    )]
    UnknownType(String),
    #[error("the decrypted value is not a valid {0}")]
    BadScalar(&'static str),
}

/// The parts of an `ENC[…]` value.
struct Sealed<'a> {
    data: Vec<u8>,
    iv: Vec<u8>,
    tag: Vec<u8>,
    kind: &'a str,
}

fn parse(value: &str) -> Result<Sealed<'_>, CipherError> {
    let inner = value
        .strip_prefix("ENC[AES256_GCM,")
        .and_then(|v| v.strip_suffix(']'))
        .ok_or(CipherError::Malformed("no ENC[AES256_GCM,…] wrapper"))?;
    let mut fields = [None; 4];
    for part in inner.split(',') {
        let (name, text) =
            part.split_once(':').ok_or(CipherError::Malformed("a field has no name"))?;
        let slot = match name {
            "data" => 0,
            "iv" => 1,
            "tag" => 2,
            "type" => 3,
            _ => return Err(CipherError::Malformed("an unknown field")),
        };
        fields[slot] = Some(text);
    }
    let [Some(data), Some(iv), Some(tag), Some(kind)] = fields else {
        return Err(CipherError::Malformed("data, iv, tag or type is missing"));
    };
    let decode = |text: &str, what| STANDARD.decode(text).map_err(|_| CipherError::Base64(what));
    let sealed = Sealed {
        data: decode(data, "data")?,
        iv: decode(iv, "iv")?,
        tag: decode(tag, "tag")?,
        kind,
    };
    if sealed.iv.len() != NONCE_BYTES || sealed.tag.len() != TAG_BYTES {
        return Err(CipherError::Malformed("the iv or tag has the wrong length (truncated?)"));
    }
    Ok(sealed)
}

/// Decrypts one value; `""` stays `""` (SOPS does not encrypt empty strings). Comments come
/// back as `Node::Str`.
pub fn decrypt(value: &str, key: &[u8; 32], aad: &str) -> Result<Node, CipherError> {
    if value.is_empty() {
        return Ok(Node::Str(String::new()));
    }
    let sealed = parse(value)?;
    let mut msg = sealed.data;
    msg.extend_from_slice(&sealed.tag);
    let gcm = SopsGcm::new(key.into());
    let plain = gcm
        .decrypt(Nonce::<U32>::from_slice(&sealed.iv), Payload { msg: &msg, aad: aad.as_bytes() })
        .map_err(|_| CipherError::Authentication)?;
    typed(plain, sealed.kind)
}

fn typed(plain: Vec<u8>, kind: &str) -> Result<Node, CipherError> {
    let text =
        || String::from_utf8(plain.clone()).map_err(|_| CipherError::BadScalar("UTF-8 text"));
    Ok(match kind {
        "str" | "comment" | "bytes" => {
            String::from_utf8(plain).map_or_else(|e| Node::Bytes(e.into_bytes()), Node::Str)
        }
        "int" | "int64" => {
            Node::Int(text()?.parse().map_err(|_| CipherError::BadScalar("integer"))?)
        }
        "float" => Node::Float(parse_go_float(&text()?)?),
        "bool" => Node::Bool(parse_go_bool(&text()?)?),
        other => return Err(CipherError::UnknownType(other.to_owned())),
    })
}

fn parse_go_float(s: &str) -> Result<f64, CipherError> {
    match s {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => s.parse().map_err(|_| CipherError::BadScalar("float")),
    }
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Result<bool, CipherError> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(CipherError::BadScalar("boolean")),
    }
}

/// Encrypts one scalar (as `sops` does: a fresh random 32-byte IV, the type recorded); `""`
/// stays `""`. Containers and null are not values and are refused by the caller.
pub fn encrypt(value: &Node, key: &[u8; 32], aad: &str, comment: bool) -> String {
    let (plain, kind) = match value {
        Node::Str(s) => (s.as_bytes().to_vec(), "str"),
        Node::Bytes(b) => (b.clone(), "str"),
        Node::Int(i) => (i.to_string().into_bytes(), "int"),
        Node::Float(f) => (go_float(*f).into_bytes(), "float"),
        Node::Bool(b) => (if *b { b"True".to_vec() } else { b"False".to_vec() }, "bool"),
        Node::Null | Node::Seq(_) | Node::Map(_) => return String::new(),
    };
    if plain.is_empty() {
        return String::new();
    }
    let kind = if comment { "comment" } else { kind };
    let mut iv = [0u8; NONCE_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut iv);
    let gcm = SopsGcm::new(key.into());
    let sealed = gcm
        .encrypt(Nonce::<U32>::from_slice(&iv), Payload { msg: &plain, aad: aad.as_bytes() })
        .expect("AES-GCM encryption of an in-memory buffer cannot fail");
    let (data, tag) = sealed.split_at(sealed.len() - TAG_BYTES);
    format!(
        "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{kind}]",
        STANDARD.encode(data),
        STANDARD.encode(iv),
        STANDARD.encode(tag)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn a_value_round_trips_with_its_type() {
        for node in [Node::Str("hunter2".into()), Node::Int(-5), Node::Float(1.5), Node::Bool(true)]
        {
            let sealed = encrypt(&node, &KEY, "a:b:", false);
            assert_eq!(decrypt(&sealed, &KEY, "a:b:"), Ok(node));
        }
    }

    #[test]
    fn a_value_moved_to_another_path_is_refused() {
        let sealed = encrypt(&Node::Str("x".into()), &KEY, "a:", false);
        assert_eq!(decrypt(&sealed, &KEY, "b:"), Err(CipherError::Authentication));
    }

    #[test]
    fn a_truncated_value_is_refused() {
        let sealed = encrypt(&Node::Str("x".into()), &KEY, "a:", false);
        let cut = &sealed[..sealed.len() - 20];
        assert!(decrypt(cut, &KEY, "a:").is_err());
    }

    #[test]
    fn empty_strings_are_not_encrypted() {
        assert_eq!(encrypt(&Node::Str(String::new()), &KEY, "a:", false), "");
        assert_eq!(decrypt("", &KEY, "a:"), Ok(Node::Str(String::new())));
    }
}
