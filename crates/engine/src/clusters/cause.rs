//! Why a cluster did not answer, in words a user can act on: connection refused, a certificate
//! from another CA, a name the certificate does not cover, credentials refused (401) or not
//! allowed (403), no answer in time. Pure: it reads an error chain, never a credential.

use std::error::Error as StdError;

/// The cause of a failed call to a cluster, as a phrase ("connection refused: …").
pub fn describe(err: &kube::Error) -> String {
    if let kube::Error::Api(status) = err {
        return match status.code {
            401 => format!(
                "the cluster refused Ferry's credentials (401 Unauthorized: {}): the token expired or was revoked, or its ServiceAccount was deleted",
                status.message.trim()
            ),
            403 => format!(
                "Ferry's credentials are not allowed to do this (403 Forbidden: {})",
                status.message.trim()
            ),
            code => format!("the cluster answered {code}: {}", status.message.trim()),
        };
    }
    describe_chain(&chain(err))
}

/// All messages of an error and its sources, joined.
pub fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(e) = source {
        parts.push(e.to_string());
        source = e.source();
    }
    parts.join(": ")
}

/// The phrase for a transport error's message chain.
pub fn describe_chain(text: &str) -> String {
    let lower = text.to_lowercase();
    let has = |s: &str| lower.contains(s);
    if has("unknownissuer") || has("unknown issuer") || has("badsignature") {
        "its TLS certificate is not signed by the CA in the cluster Secret (a certificate from another CA: tlsClientConfig.caData belongs to another cluster, or the cluster's CA changed)".into()
    } else if has("notvalidforname") || has("not valid for name") {
        "its TLS certificate is not valid for this address (set tlsClientConfig.serverName to a name the certificate covers)".into()
    } else if has("expired") && has("certificate") {
        "its TLS certificate has expired".into()
    } else if has("connection refused") {
        "connection refused: nothing listens at that address (the cluster is down or the address is wrong)".into()
    } else if has("dns error") || has("failed to lookup") || has("name or service not known") {
        "its host name does not resolve".into()
    } else if has("timed out") || has("deadline") || has("elapsed") {
        "no answer in time (the cluster is down, overloaded or unreachable from here)".into()
    } else if has("certificate") || has("tls") {
        format!("the TLS handshake failed: {}", last(text))
    } else {
        last(text).to_owned()
    }
}

/// The innermost message, which names the cause without the wrappers' prefixes.
fn last(text: &str) -> &str {
    text.rsplit(": ").find(|s| !s.trim().is_empty()).unwrap_or(text).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_from_another_ca_is_told_as_such() {
        let text = "ServiceError: client error (Connect): invalid peer certificate: UnknownIssuer";
        assert!(describe_chain(text).contains("another CA"), "{}", describe_chain(text));
    }

    #[test]
    fn a_refused_connection_says_nothing_listens() {
        let text = "ServiceError: client error (Connect): tcp connect error: Connection refused (os error 111)";
        assert!(describe_chain(text).starts_with("connection refused"));
    }

    #[test]
    fn refused_credentials_name_the_status_and_what_may_have_happened() {
        let status =
            kube::core::Status::failure("Unauthorized: the token has expired", "Unauthorized")
                .with_code(401);
        let text = describe(&kube::Error::Api(Box::new(status)));
        assert!(text.contains("401 Unauthorized") && text.contains("revoked"), "{text}");
    }
}
