//! AES-256-GCM sealing of signing secrets under `SIGNING_SECRET_KEY`, so
//! storage never holds one in the clear.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

const NONCE_LEN: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretBoxError {
    #[error("SIGNING_SECRET_KEY must be 32 bytes of base64")]
    BadKey,
    #[error("the sealed secret is corrupt or was sealed under another key")]
    Corrupt,
    #[error("no randomness available")]
    Random,
}

/// Decodes `SIGNING_SECRET_KEY` (base64 of exactly 32 bytes, padding optional).
pub fn parse_key(base64_key: &str) -> Result<[u8; 32], SecretBoxError> {
    let text = base64_key.trim();
    let bytes = STANDARD
        .decode(text)
        .or_else(|_| STANDARD_NO_PAD.decode(text))
        .map_err(|_| SecretBoxError::BadKey)?;
    bytes.try_into().map_err(|_| SecretBoxError::BadKey)
}

/// base64(nonce || ciphertext) with a fresh random 96-bit nonce.
pub fn seal(key: &[u8; 32], plaintext: &str) -> Result<String, SecretBoxError> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|_| SecretBoxError::Random)?;
    let cipher = Aes256Gcm::new(key.into());
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
        .map_err(|_| SecretBoxError::Corrupt)?;
    let mut sealed = nonce.to_vec();
    sealed.extend_from_slice(&ciphertext);
    Ok(STANDARD.encode(sealed))
}

pub fn open(key: &[u8; 32], sealed: &str) -> Result<String, SecretBoxError> {
    let bytes = STANDARD
        .decode(sealed)
        .map_err(|_| SecretBoxError::Corrupt)?;
    if bytes.len() <= NONCE_LEN {
        return Err(SecretBoxError::Corrupt);
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
    let plaintext = Aes256Gcm::new(key.into())
        .decrypt(Nonce::from_slice(nonce), ciphertext)
        .map_err(|_| SecretBoxError::Corrupt)?;
    String::from_utf8(plaintext).map_err(|_| SecretBoxError::Corrupt)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn round_trip_with_fresh_nonces() {
        let a = seal(&KEY, "kg_sig_secret").unwrap();
        let b = seal(&KEY, "kg_sig_secret").unwrap();
        assert_ne!(a, b);
        assert!(!a.contains("kg_sig_secret"));
        assert_eq!(open(&KEY, &a).unwrap(), "kg_sig_secret");
    }

    #[test]
    fn tampering_and_wrong_keys_are_refused() {
        let sealed = seal(&KEY, "secret").unwrap();
        let mut bytes = STANDARD.decode(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(
            open(&KEY, &STANDARD.encode(&bytes)),
            Err(SecretBoxError::Corrupt)
        );
        assert_eq!(open(&[8; 32], &sealed), Err(SecretBoxError::Corrupt));
        assert_eq!(open(&KEY, "not base64!"), Err(SecretBoxError::Corrupt));
        assert_eq!(open(&KEY, ""), Err(SecretBoxError::Corrupt));
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64() {
        let encoded = STANDARD.encode([1u8; 32]);
        assert_eq!(parse_key(&encoded), Ok([1u8; 32]));
        assert_eq!(
            parse_key(&format!(" {} ", encoded.trim_end_matches('='))),
            Ok([1u8; 32])
        );
        assert_eq!(
            parse_key(&STANDARD.encode([1u8; 16])),
            Err(SecretBoxError::BadKey)
        );
        assert_eq!(parse_key("***"), Err(SecretBoxError::BadKey));
    }
}
