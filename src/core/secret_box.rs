//! AES-256-GCM sealing of signing secrets under `SIGNING_SECRET_KEY`.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretBoxError {
    #[error("SIGNING_SECRET_KEY must be 32 bytes of base64")]
    BadKey,
    #[error("the sealed secret is corrupt or was sealed under another key")]
    Corrupt,
    #[error("no randomness available")]
    Random,
}

/// Decodes `SIGNING_SECRET_KEY` (base64 of exactly 32 bytes).
pub fn parse_key(base64_key: &str) -> Result<[u8; 32], SecretBoxError> {
    todo!("{base64_key}")
}

/// base64(nonce || ciphertext) with a fresh random 96-bit nonce.
pub fn seal(key: &[u8; 32], plaintext: &str) -> Result<String, SecretBoxError> {
    todo!("{key:?}{plaintext}")
}

pub fn open(key: &[u8; 32], sealed: &str) -> Result<String, SecretBoxError> {
    todo!("{key:?}{sealed}")
}
