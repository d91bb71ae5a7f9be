//! Static bearer tokens, as kube-apiserver's `--token-auth-file`: one
//! `token,user,uid,"group1,group2"` line each (groups optional). The format is four CSV
//! fields with at most one quoted; a few lines here cost less than a CSV dependency.

use std::collections::HashMap;
use std::path::Path;

use super::{AuthSetupError, UserInfo};

/// Token to user. Tokens are compared whole; the map never prints its keys.
#[derive(Default, Clone)]
pub struct StaticTokens {
    users: HashMap<String, UserInfo>,
}

impl std::fmt::Debug for StaticTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StaticTokens({} tokens)", self.users.len())
    }
}

impl StaticTokens {
    pub fn insert(&mut self, token: &str, user: UserInfo) {
        self.users.insert(token.to_string(), user);
    }

    pub fn get(&self, token: &str) -> Option<&UserInfo> {
        self.users.get(token)
    }

    /// Adds the tokens of a `--token-auth-file` style file.
    pub fn load_file(&mut self, path: &Path) -> Result<(), AuthSetupError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| AuthSetupError::Io { path: path.to_path_buf(), source })?;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (token, user) = parse_line(line).map_err(|why| AuthSetupError::TokenFile {
                path: path.to_path_buf(),
                line: i + 1,
                why,
            })?;
            self.insert(&token, user);
        }
        Ok(())
    }
}

fn split_fields(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if quoted {
        return Err("a quote is not closed".into());
    }
    fields.push(cur);
    Ok(fields)
}

fn parse_line(line: &str) -> Result<(String, UserInfo), String> {
    let fields = split_fields(line)?;
    if fields.len() < 3 {
        return Err(format!(
            "expected token,user,uid[,\"group1,group2\"], found {} fields",
            fields.len()
        ));
    }
    let token = fields[0].trim();
    let username = fields[1].trim();
    if token.is_empty() || username.is_empty() {
        return Err("the token and the user name must not be empty".into());
    }
    let groups = fields
        .get(3)
        .map(|g| {
            g.split(',').map(str::trim).filter(|g| !g.is_empty()).map(str::to_string).collect()
        })
        .unwrap_or_default();
    let user = UserInfo {
        username: username.to_string(),
        uid: fields[2].trim().to_string(),
        groups,
        ..UserInfo::default()
    };
    Ok((token.to_string(), user.with_authenticated()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_line_names_user_uid_and_quoted_groups() {
        let (token, user) = parse_line(r#"s3cret,alice,42,"dev,ops""#).expect("valid line");
        assert_eq!(token, "s3cret");
        assert_eq!(user.username, "alice");
        assert_eq!(user.uid, "42");
        assert_eq!(user.groups, vec!["dev", "ops", "system:authenticated"]);
    }

    #[test]
    fn a_line_without_a_uid_is_refused_with_the_expected_shape() {
        let err = parse_line("s3cret,alice").expect_err("two fields");
        assert!(err.contains("token,user,uid"), "{err}");
        assert!(!err.contains("s3cret"), "the message never shows the token");
    }
}
