//! Key hashing: HMAC-SHA256 under the pepper, plain SHA-256 only without one.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Lowercase hex HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// Lowercase hex of HMAC-SHA256(pepper, key), or SHA-256(key) when no pepper is set.
pub fn hash_key(pepper: Option<&str>, key: &str) -> String {
    match pepper.filter(|p| !p.is_empty()) {
        Some(pepper) => hmac_sha256_hex(pepper.as_bytes(), key.as_bytes()),
        None => sha256_hex(key.as_bytes()),
    }
}

/// Lowercase hex SHA-256 of bytes (used for request bodies).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Compares two secrets in time independent of where they differ (the
/// digests have equal length, so neither the length nor the content leaks).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.ct_eq(&b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        // python3 -c "import hmac,hashlib; print(hmac.new(b'pepper', b'kg_sk_x', hashlib.sha256).hexdigest())"
        assert_eq!(
            hash_key(Some("pepper"), "kg_sk_x"),
            "fe8e02c4272fc1f6da1fee3b62eecafd77695df584157114f6afff56a5fd31c3"
        );
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(hash_key(None, ""), sha256_hex(b""));
        assert_eq!(hash_key(Some(""), "k"), sha256_hex(b"k"));
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq("token-a", "token-a"));
        assert!(!constant_time_eq("token-a", "token-b"));
        assert!(!constant_time_eq("token", "token-longer"));
    }
}
