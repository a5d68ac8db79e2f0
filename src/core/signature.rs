//! Signed requests (SPEC section 2 step 6) and the gateway's origin signature (step 9).

/// Maximum clock skew between the client's timestamp and the gateway, in seconds.
pub const MAX_SKEW_SECONDS: u64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("X-Keygate-Timestamp and X-Keygate-Signature are required for this key")]
    Missing,
    #[error("X-Keygate-Timestamp must be whole Unix seconds")]
    BadTimestamp,
    #[error("X-Keygate-Timestamp is more than 300 seconds from the gateway's clock")]
    Skewed,
    #[error("X-Keygate-Signature must be v1=<64 lowercase hex>")]
    BadFormat,
    #[error("the signature does not match the request")]
    Mismatch,
}

/// `timestamp + "\n" + METHOD + "\n" + target + "\n" + body_sha256_hex`.
pub fn string_to_sign(
    timestamp: &str,
    method: &str,
    target: &str,
    body_sha256_hex: &str,
) -> String {
    todo!("{timestamp}{method}{target}{body_sha256_hex}")
}

/// Lowercase hex HMAC-SHA256 of the string to sign under the signing secret.
pub fn sign_request(
    secret: &str,
    timestamp: &str,
    method: &str,
    target: &str,
    body_sha256_hex: &str,
) -> String {
    todo!("{secret}{timestamp}{method}{target}{body_sha256_hex}")
}

/// Verifies the headers against the request; returns the signature's hex on success
/// (the caller records it to refuse replays within the skew window).
pub fn verify_request_signature(
    secrets: &[&str],
    timestamp_header: Option<&str>,
    signature_header: Option<&str>,
    method: &str,
    target: &str,
    body_sha256_hex: &str,
    now_seconds: u64,
) -> Result<String, SignatureError> {
    todo!(
        "{secrets:?}{timestamp_header:?}{signature_header:?}{method}{target}{body_sha256_hex}{now_seconds}"
    )
}

/// The `X-Keygate-Signature-Origin` value: `t=<t>,v1=<hex HMAC(origin_secret, t\nrequest_id\nkey_id\nMETHOD\ntarget)>`.
pub fn origin_signature(
    origin_secret: &str,
    t: u64,
    request_id: &str,
    key_id: &str,
    method: &str,
    target: &str,
) -> String {
    todo!("{origin_secret}{t}{request_id}{key_id}{method}{target}")
}
