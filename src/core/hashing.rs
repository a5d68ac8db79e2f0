//! Key hashing: HMAC-SHA256 under the pepper, plain SHA-256 only without one.

/// Lowercase hex of HMAC-SHA256(pepper, key), or SHA-256(key) when no pepper is set.
pub fn hash_key(pepper: Option<&str>, key: &str) -> String {
    todo!("{pepper:?}{key}")
}

/// Lowercase hex SHA-256 of bytes (used for request bodies).
pub fn sha256_hex(bytes: &[u8]) -> String {
    todo!("{bytes:?}")
}

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    todo!("{a}{b}")
}
