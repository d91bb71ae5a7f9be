//! Image references (`registry/name:tag@digest`), parsed and validated by the grammar of the
//! distribution project (`github.com/distribution/reference`, `reference.go`).
//!
//! Our own small parser rather than a crate: edits must keep the name *as written* (`nginx`
//! stays `nginx`, not `docker.io/library/nginx`) so that only the changed bytes change, while
//! matching must compare *normalized* names. Crates such as `oci-spec`/`oci-client` normalize
//! eagerly and lose the spelling; the grammar itself is small and stable.

use std::fmt;

/// Longest accepted name (the grammar's limit).
const MAX_NAME_LEN: usize = 255;
/// Longest accepted tag (the grammar's limit).
const MAX_TAG_LEN: usize = 128;

/// Why a string is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("{input:?} is not an image reference: it is empty")]
    Empty { input: String },
    #[error(
        "{input:?} is not an image reference: the name is longer than {MAX_NAME_LEN} characters"
    )]
    NameTooLong { input: String },
    #[error(
        "{input:?} is not an image reference: the registry {domain:?} is not a host name with an optional port"
    )]
    BadDomain { input: String, domain: String },
    #[error(
        "{input:?} is not an image reference: path component {component:?} must be lowercase letters and digits separated by '.', '_', '__' or '-'"
    )]
    BadPathComponent { input: String, component: String },
    #[error(
        "{input:?} is not an image reference: tag {tag:?} must be 1 to {MAX_TAG_LEN} characters of letters, digits, '_', '.' and '-', not starting with '.' or '-'"
    )]
    BadTag { input: String, tag: String },
    #[error(
        "{input:?} is not an image reference: digest {digest:?} must be ALGORITHM:HEX (sha256 with 64 lowercase hex digits)"
    )]
    BadDigest { input: String, digest: String },
    #[error("{input:?} is an image name with a tag or digest where only a name is expected")]
    NotAName { input: String },
}

/// A parsed image reference; `name` keeps the spelling it was written with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    name: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl ImageRef {
    /// Parses `name[:tag][@digest]`.
    pub fn parse(input: &str) -> Result<ImageRef, ReferenceError> {
        if input.is_empty() {
            return Err(ReferenceError::Empty { input: input.to_string() });
        }
        let (rest, digest) = match input.split_once('@') {
            Some((rest, digest)) => {
                validate_digest(input, digest)?;
                (rest, Some(digest.to_string()))
            }
            None => (input, None),
        };
        // A ':' after the last '/' starts the tag; one before it is a registry port.
        let last_slash = rest.rfind('/').map_or(0, |index| index + 1);
        let (name, tag) = match rest[last_slash..].find(':') {
            Some(colon) => {
                let split = last_slash + colon;
                (&rest[..split], Some(&rest[split + 1..]))
            }
            None => (rest, None),
        };
        validate_name(input, name)?;
        if let Some(tag) = tag {
            validate_tag(input, tag)?;
        }
        Ok(ImageRef { name: name.to_string(), tag: tag.map(str::to_string), digest })
    }

    /// Parses a bare name (no tag, no digest).
    pub fn parse_name(input: &str) -> Result<String, ReferenceError> {
        let reference = ImageRef::parse(input)?;
        if reference.tag.is_some() || reference.digest.is_some() {
            return Err(ReferenceError::NotAName { input: input.to_string() });
        }
        Ok(reference.name)
    }

    pub fn new(name: String, tag: Option<String>, digest: Option<String>) -> ImageRef {
        ImageRef { name, tag, digest }
    }

    /// The name as written (`nginx`, `ghcr.io/org/app`).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The name as the container runtime resolves it (`docker.io/library/nginx`).
    pub fn normalized_name(&self) -> String {
        normalize_name(&self.name)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Docker Hub's implicit registry and `library/` namespace made explicit, so `nginx`,
/// `docker.io/nginx` and `docker.io/library/nginx` compare equal.
pub fn normalize_name(name: &str) -> String {
    let (domain, path) = split_domain(name);
    let domain = match domain {
        None | Some("index.docker.io") => "docker.io",
        Some(domain) => domain,
    };
    if domain == "docker.io" && !path.contains('/') {
        format!("docker.io/library/{path}")
    } else {
        format!("{domain}/{path}")
    }
}

/// The first component is a registry when it looks like a host: it has a '.' or a ':' (port),
/// is `localhost`, or has uppercase letters (which a path component cannot have).
fn split_domain(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

fn validate_name(input: &str, name: &str) -> Result<(), ReferenceError> {
    if name.is_empty() {
        return Err(ReferenceError::Empty { input: input.to_string() });
    }
    if name.len() > MAX_NAME_LEN {
        return Err(ReferenceError::NameTooLong { input: input.to_string() });
    }
    let (domain, path) = split_domain(name);
    if let Some(domain) = domain
        && !is_domain(domain)
    {
        return Err(ReferenceError::BadDomain {
            input: input.to_string(),
            domain: domain.to_string(),
        });
    }
    for component in path.split('/') {
        if !is_path_component(component) {
            return Err(ReferenceError::BadPathComponent {
                input: input.to_string(),
                component: component.to_string(),
            });
        }
    }
    Ok(())
}

/// `host[:port]`, host being dot-separated labels or a bracketed IPv6 address.
fn is_domain(domain: &str) -> bool {
    let (host, port) = if let Some(bracketed) = domain.strip_prefix('[') {
        let Some((inside, after)) = bracketed.split_once(']') else {
            return false;
        };
        if inside.is_empty() || !inside.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return false;
        }
        match after {
            "" => return true,
            port => match port.strip_prefix(':') {
                Some(port) => ("ipv6", Some(port)),
                None => return false,
            },
        }
    } else {
        match domain.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (domain, None),
        }
    };
    let port_ok =
        port.is_none_or(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()));
    let host_ok = host.split('.').all(|label| {
        !label.is_empty()
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    port_ok && host_ok
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut index = 0;
    let mut expect_alnum = true;
    while index < bytes.len() {
        if expect_alnum {
            if !alnum(bytes[index]) {
                return false;
            }
            while index < bytes.len() && alnum(bytes[index]) {
                index += 1;
            }
            expect_alnum = false;
        } else {
            let separator_len = match bytes[index] {
                b'.' => 1,
                b'_' if bytes.get(index + 1) == Some(&b'_') => 2,
                b'_' => 1,
                b'-' => bytes[index..].iter().take_while(|&&b| b == b'-').count(),
                _ => return false,
            };
            index += separator_len;
            expect_alnum = true;
        }
    }
    !bytes.is_empty() && !expect_alnum
}

/// `[\w][\w.-]{0,127}`
fn validate_tag(input: &str, tag: &str) -> Result<(), ReferenceError> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = tag.chars();
    let valid = tag.len() <= MAX_TAG_LEN
        && chars.next().is_some_and(word)
        && chars.all(|c| word(c) || c == '.' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(ReferenceError::BadTag { input: input.to_string(), tag: tag.to_string() })
    }
}

/// `algorithm:encoded`; sha256 and sha512 get their exact lengths, others the grammar's minimum.
fn validate_digest(input: &str, digest: &str) -> Result<(), ReferenceError> {
    let valid = match digest.split_once(':') {
        Some((algorithm, encoded)) => {
            let hex = encoded.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            let algorithm_ok = algorithm.split(['+', '.', '_', '-']).all(|part| {
                part.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && part.chars().all(|c| c.is_ascii_alphanumeric())
            });
            let length_ok = match algorithm {
                "sha256" => encoded.len() == 64,
                "sha512" => encoded.len() == 128,
                _ => encoded.len() >= 32,
            };
            hex && algorithm_ok && length_ok
        }
        None => false,
    };
    if valid {
        Ok(())
    } else {
        Err(ReferenceError::BadDigest { input: input.to_string(), digest: digest.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:fe18e00a6aeece16b5b2f77a32ee60929e8a60e27c71df8df66bf804f5677f47";

    #[test]
    fn names_tags_and_digests_are_split_where_the_grammar_says() {
        let parsed = ImageRef::parse("localhost:5000/team/app:1.2.0").expect("valid");
        assert_eq!(parsed.name(), "localhost:5000/team/app");
        assert_eq!(parsed.tag(), Some("1.2.0"));
        assert_eq!(parsed.digest(), None);

        let pinned = ImageRef::parse(&format!("nginx:1.27@{DIGEST}")).expect("valid");
        assert_eq!(pinned.name(), "nginx");
        assert_eq!(pinned.tag(), Some("1.27"));
        assert_eq!(pinned.digest(), Some(DIGEST));
        assert_eq!(pinned.to_string(), format!("nginx:1.27@{DIGEST}"));
    }

    #[test]
    fn docker_hub_spellings_normalize_to_the_same_name() {
        for spelling in
            ["nginx", "docker.io/nginx", "docker.io/library/nginx", "index.docker.io/library/nginx"]
        {
            let parsed = ImageRef::parse(spelling).expect("valid");
            assert_eq!(parsed.normalized_name(), "docker.io/library/nginx", "{spelling}");
        }
        assert_eq!(normalize_name("bitnami/redis"), "docker.io/bitnami/redis");
        assert_eq!(normalize_name("ghcr.io/stefanprodan/podinfo"), "ghcr.io/stefanprodan/podinfo");
    }

    #[test]
    fn invalid_references_are_refused_with_the_reason() {
        let cases = [
            ("", "empty"),
            ("Nginx", "path component"),
            ("nginx:", "tag"),
            ("nginx:-1", "tag"),
            ("nginx@sha256:abc", "digest"),
            ("registry.example.com:port/app", "registry"),
            ("app//x", "path component"),
            ("a__-b", "path component"),
            ("ghcr.io/org/app:1.0 ", "tag"),
        ];
        for (input, reason) in cases {
            let error = ImageRef::parse(input).expect_err(input).to_string();
            assert!(error.contains(reason), "{input:?}: {error}");
        }
        assert!(ImageRef::parse(&"a".repeat(256)).is_err());
    }

    #[test]
    fn separators_follow_the_grammar() {
        for valid in ["a.b", "a_b", "a__b", "a-b", "a---b", "a/b.c/d"] {
            assert!(ImageRef::parse(valid).is_ok(), "{valid}");
        }
        for invalid in ["a..b", "a___b", ".a", "a.", "a-"] {
            assert!(ImageRef::parse(invalid).is_err(), "{invalid}");
        }
    }

    #[test]
    fn a_name_with_a_tag_is_not_a_bare_name() {
        assert!(ImageRef::parse_name("nginx:1.27").is_err());
        assert_eq!(ImageRef::parse_name("localhost:5000/app").expect("bare"), "localhost:5000/app");
    }
}
