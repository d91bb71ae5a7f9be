//! One credential path for git: an account handed over through the environment.

use std::fmt;

use super::Program;

/// A credential helper that answers from the environment. The account travels in the child's
/// environment (readable only by its own user), never on its command line (which every local
/// user can read in /proc) nor in a URL that git could store or print.
pub const ENV_CREDENTIAL_HELPER: &str = "!f() { test \"$1\" = get || exit 0; echo \"username=$FERRY_GIT_USERNAME\"; echo \"password=$FERRY_GIT_PASSWORD\"; }; f";

/// A Git account for HTTP(S) remotes. `Debug` shows the username only.
#[derive(Clone, PartialEq, Eq)]
pub struct GitAccount {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for GitAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitAccount")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

impl Program {
    /// Lets a `git` program authenticate as `account` through [`ENV_CREDENTIAL_HELPER`]; the
    /// password is also masked in errors. Call before the git verb's own arguments.
    pub fn git_account(self, account: &GitAccount) -> Self {
        // The empty value first clears any helper another configuration could have set.
        self.args(["-c", "credential.helper=", "-c"])
            .arg(format!("credential.helper={ENV_CREDENTIAL_HELPER}"))
            .env("FERRY_GIT_USERNAME", &account.username)
            .env("FERRY_GIT_PASSWORD", &account.password)
            .secret(account.password.clone())
    }
}
