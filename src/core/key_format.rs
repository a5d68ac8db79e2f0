//! The key string format of SPEC section 1: `<namespace>_<sk|pk>_<body><checksum>`.

use serde::{Deserialize, Serialize};

/// Secret keys serve servers; publishable keys serve browser apps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    Secret,
    Publishable,
}

impl KeyKind {
    /// `sk` or `pk`, as written inside the key string.
    pub fn abbreviation(self) -> &'static str {
        todo!()
    }
    /// `secret` or `publishable`.
    pub fn as_str(self) -> &'static str {
        todo!()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    #[error("the key does not have the expected length")]
    Length,
    #[error("the key's namespace is not this gateway's")]
    Namespace,
    #[error("the key's kind is neither sk nor pk")]
    Kind,
    #[error("the key contains a character outside base62")]
    Alphabet,
    #[error("the key's checksum does not match")]
    Checksum,
}

/// A freshly generated key (`kg_sk_…`) from 32 bytes of `getrandom`.
pub fn generate_key(namespace: &str, kind: KeyKind) -> Result<String, getrandom::Error> {
    todo!("{namespace}{kind:?}")
}

/// Checks format and checksum without any storage; returns the key's kind.
pub fn parse_key(key: &str, namespace: &str) -> Result<KeyKind, KeyFormatError> {
    todo!("{key}{namespace}")
}

/// The public prefix shown in lists: namespace, kind and 4 body characters (`kg_sk_3fJ9`).
pub fn display_prefix(key: &str) -> String {
    todo!("{key}")
}

/// A signing secret: `<namespace>_sig_` + 43 base62 characters (32 random bytes).
pub fn generate_signing_secret(namespace: &str) -> Result<String, getrandom::Error> {
    todo!("{namespace}")
}

/// A public key id: `key_` + 22 base62 characters (16 random bytes).
pub fn generate_key_id() -> Result<String, getrandom::Error> {
    todo!()
}

/// Random bytes rendered as fixed-width base62 (`0-9A-Za-z`, most significant first).
pub fn base62_fixed(bytes: &[u8], width: usize) -> String {
    todo!("{bytes:?}{width}")
}
