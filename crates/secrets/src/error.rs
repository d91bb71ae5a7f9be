//! The one error of reading or writing a SOPS file. Messages name the cause and what to do; they
//! never carry a cleartext value or key. The caller adds the file's name.

use crate::cipher::CipherError;

#[derive(Debug, thiserror::Error)]
pub enum SopsError {
    #[error("it is not valid {format}: {message}")]
    Parse { format: &'static str, message: String },
    #[error("{0}")]
    Metadata(String),
    #[error(
        "it was written by sops version {0:?}, which Ferry does not know (it reads sops 2.x and 3.x \
         files): re-encrypt it with sops 3 or `ferry secret encrypt`"
    )]
    UnknownVersion(String),
    #[error(
        "it uses {0}, which Ferry does not support: re-encrypt it for age or OpenPGP keys in one key group"
    )]
    Unsupported(String),
    #[error(
        "it is encrypted only for {0}, keys Ferry cannot use: add an age or OpenPGP recipient to the \
         file (sops updatekeys, or ferry secret encrypt)"
    )]
    ForeignKeysOnly(String),
    #[error(
        "it is SOPS-encrypted but no decryption keys are configured: set spec.decryption \
         (provider: sops, secretRef: a Secret with *.agekey or *.asc keys) on the Application"
    )]
    NoKeys,
    #[error(
        "none of the {tried} decryption keys opens its data key (it is encrypted for {recipients}): \
         add the matching age identity or OpenPGP key to the decryption Secret"
    )]
    WrongKey { tried: usize, recipients: String },
    #[error("the value at {path} does not decrypt: {source}")]
    Value {
        path: String,
        #[source]
        source: CipherError,
    },
    #[error(
        "its MAC does not match its content: the file was changed after it was encrypted (edit it \
         with sops or ferry secret, never by hand)"
    )]
    MacMismatch,
    #[error("its MAC does not decrypt: {0}")]
    MacUnreadable(#[source] CipherError),
    #[error("it cannot be written: {0}")]
    Emit(String),
    #[error(
        "no recipients: name at least one --age or --pgp recipient, or a .sops.yaml creation rule"
    )]
    NoRecipients,
    #[error(transparent)]
    Key(#[from] crate::keys::KeyError),
}
