//! Secret values never leave in logs, errors or the delivery log: every value a `$key` brought
//! in (and every token or password a service holds) is replaced by `***`.

use std::sync::Arc;

/// Values shorter than this are not masked: masking `a` would mangle every message.
const MIN_SECRET: usize = 4;

/// The secrets to mask, longest first (so a secret that contains another is masked whole).
#[derive(Clone, Default)]
pub struct Masker {
    secrets: Arc<Vec<String>>,
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Masker({} secrets)", self.secrets.len())
    }
}

impl Masker {
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> =
            values.into_iter().filter(|v| v.len() >= MIN_SECRET).collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets: Arc::new(secrets) }
    }

    /// `text` with every secret replaced by `***`.
    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in self.secrets.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "***");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_masked_wherever_it_appears_and_short_values_are_left_alone() {
        let masker = Masker::new(["s3cret-token".to_owned(), "ab".to_owned()]);
        assert_eq!(
            masker.mask("POST https://x/s3cret-token failed: ab"),
            "POST https://x/*** failed: ab"
        );
    }
}
