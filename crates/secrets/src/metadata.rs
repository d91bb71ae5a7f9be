//! The `sops` metadata of a document (field names as `sops` writes them) and the rules it records
//! for which values are encrypted.

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::error::SopsError;
use crate::node::Node;

/// The `sops` version Ferry writes into files it encrypts.
pub const WRITTEN_VERSION: &str = "3.11.0";

/// The suffix `sops` leaves in clear by default.
pub const DEFAULT_UNENCRYPTED_SUFFIX: &str = "_unencrypted";

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct AgeStanza {
    pub recipient: String,
    pub enc: String,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct PgpStanza {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created_at: String,
    pub enc: String,
    pub fp: String,
}

/// One key group (`key_groups:`); Ferry reads the age and PGP entries.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct KeyGroup {
    #[serde(default)]
    pub age: Vec<AgeStanza>,
    #[serde(default)]
    pub pgp: Vec<PgpStanza>,
}

/// The `sops:` map.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct Metadata {
    #[serde(default, skip_serializing)]
    pub shamir_threshold: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    pub key_groups: Vec<KeyGroup>,
    /// Cloud and Vault keys, which Ferry cannot use; kept to name them in an error.
    #[serde(default, skip_serializing)]
    pub kms: Vec<serde_json::Value>,
    #[serde(default, skip_serializing)]
    pub gcp_kms: Vec<serde_json::Value>,
    #[serde(default, skip_serializing)]
    pub azure_kv: Vec<serde_json::Value>,
    #[serde(default, skip_serializing)]
    pub hc_vault: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub age: Vec<AgeStanza>,
    #[serde(default)]
    pub lastmodified: String,
    #[serde(default)]
    pub mac: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pgp: Vec<PgpStanza>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unencrypted_suffix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_suffix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unencrypted_regex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_regex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unencrypted_comment_regex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_comment_regex: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mac_only_encrypted: bool,
    #[serde(default)]
    pub version: String,
}

impl Metadata {
    /// Reads the `sops:` node, checking what decryption relies on.
    pub fn from_node(node: &Node) -> Result<Self, SopsError> {
        let md: Metadata = serde_json::from_value(node.to_json())
            .map_err(|e| SopsError::Metadata(format!("the sops metadata is malformed: {e}")))?;
        md.check_version()?;
        if md.mac.is_empty() {
            return Err(SopsError::Metadata(
                "sops.mac is missing: the file cannot be verified".into(),
            ));
        }
        if md.lastmodified.is_empty() {
            return Err(SopsError::Metadata("sops.lastmodified is missing".into()));
        }
        if md.key_groups.len() > 1 {
            return Err(SopsError::Unsupported(format!(
                "the data key is split over {} key groups (Shamir secret sharing)",
                md.key_groups.len()
            )));
        }
        if md.unencrypted_comment_regex.is_some() || md.encrypted_comment_regex.is_some() {
            return Err(SopsError::Unsupported(
                "unencrypted_comment_regex / encrypted_comment_regex (the rule depends on YAML comments)".into(),
            ));
        }
        Ok(md)
    }

    fn check_version(&self) -> Result<(), SopsError> {
        let major = self.version.split('.').next().unwrap_or_default();
        match major {
            "2" | "3" => Ok(()),
            _ => Err(SopsError::UnknownVersion(self.version.clone())),
        }
    }

    /// The age stanzas, top-level and in the (single) key group.
    pub fn age_stanzas(&self) -> impl Iterator<Item = &AgeStanza> {
        self.age.iter().chain(self.key_groups.iter().flat_map(|g| g.age.iter()))
    }

    /// The OpenPGP stanzas, top-level and in the (single) key group.
    pub fn pgp_stanzas(&self) -> impl Iterator<Item = &PgpStanza> {
        self.pgp.iter().chain(self.key_groups.iter().flat_map(|g| g.pgp.iter()))
    }

    /// Names of the key kinds Ferry cannot use that this file lists.
    pub fn foreign_keys(&self) -> Vec<&'static str> {
        let kinds = [
            ("AWS KMS", &self.kms),
            ("GCP KMS", &self.gcp_kms),
            ("Azure Key Vault", &self.azure_kv),
            ("HashiCorp Vault", &self.hc_vault),
        ];
        kinds.into_iter().filter(|(_, v)| !v.is_empty()).map(|(name, _)| name).collect()
    }

    /// The encryption rules, compiled.
    pub fn rules(&self) -> Result<Rules, SopsError> {
        let compile = |field: &'static str, re: &Option<String>| {
            re.as_deref()
                .filter(|r| !r.is_empty())
                .map(|r| {
                    Regex::new(r).map_err(|e| {
                        SopsError::Metadata(format!(
                            "sops.{field} is not a valid regular expression: {e}"
                        ))
                    })
                })
                .transpose()
        };
        Ok(Rules {
            unencrypted_suffix: self.unencrypted_suffix.clone().filter(|s| !s.is_empty()),
            encrypted_suffix: self.encrypted_suffix.clone().filter(|s| !s.is_empty()),
            unencrypted_regex: compile("unencrypted_regex", &self.unencrypted_regex)?,
            encrypted_regex: compile("encrypted_regex", &self.encrypted_regex)?,
        })
    }
}

/// Which values of a tree are encrypted, by the keys on their path (`sops`'s
/// `shouldBeEncrypted`, with the same precedence: each later rule overrides the earlier ones).
#[derive(Clone, Debug)]
pub struct Rules {
    pub unencrypted_suffix: Option<String>,
    pub encrypted_suffix: Option<String>,
    pub unencrypted_regex: Option<Regex>,
    pub encrypted_regex: Option<Regex>,
}

impl Rules {
    pub fn encrypts(&self, path: &[String]) -> bool {
        let mut encrypted = true;
        if let Some(suffix) = &self.unencrypted_suffix
            && path.iter().any(|p| p.ends_with(suffix.as_str()))
        {
            encrypted = false;
        }
        if let Some(suffix) = &self.encrypted_suffix {
            encrypted = path.iter().any(|p| p.ends_with(suffix.as_str()));
        }
        if let Some(re) = &self.unencrypted_regex
            && path.iter().any(|p| re.is_match(p))
        {
            encrypted = false;
        }
        if let Some(re) = &self.encrypted_regex {
            encrypted = path.iter().any(|p| re.is_match(p));
        }
        encrypted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn encrypted_regex_encrypts_only_matching_paths() {
        let md =
            Metadata { encrypted_regex: Some("^(data|stringData)$".into()), ..Metadata::default() };
        let rules = md.rules().expect("valid regex");
        assert!(rules.encrypts(&path(&["stringData", "password"])));
        assert!(!rules.encrypts(&path(&["metadata", "name"])));
    }

    #[test]
    fn unencrypted_suffix_leaves_the_subtree_in_clear() {
        let md =
            Metadata { unencrypted_suffix: Some("_unencrypted".into()), ..Metadata::default() };
        let rules = md.rules().expect("no regex");
        assert!(!rules.encrypts(&path(&["a_unencrypted", "b"])));
        assert!(rules.encrypts(&path(&["a", "b"])));
    }

    #[test]
    fn a_version_of_another_major_is_refused() {
        let md = Metadata {
            version: "4.0.0".into(),
            mac: "x".into(),
            lastmodified: "t".into(),
            ..Metadata::default()
        };
        assert!(matches!(md.check_version(), Err(SopsError::UnknownVersion(v)) if v == "4.0.0"));
    }
}
