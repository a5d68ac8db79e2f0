//! Signed requests (SPEC section 2 step 6) and the gateway's origin signature (step 9).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::core::hashing::hmac_sha256_hex;

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
    format!("{timestamp}\n{method}\n{target}\n{body_sha256_hex}")
}

/// Lowercase hex HMAC-SHA256 of the string to sign under the signing secret.
pub fn sign_request(
    secret: &str,
    timestamp: &str,
    method: &str,
    target: &str,
    body_sha256_hex: &str,
) -> String {
    hmac_sha256_hex(
        secret.as_bytes(),
        string_to_sign(timestamp, method, target, body_sha256_hex).as_bytes(),
    )
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
    let (Some(timestamp), Some(signature)) = (timestamp_header, signature_header) else {
        return Err(SignatureError::Missing);
    };
    let timestamp = timestamp.trim();
    if timestamp.is_empty()
        || timestamp.len() > 12
        || !timestamp.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(SignatureError::BadTimestamp);
    }
    let sent_at: u64 = timestamp
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    if sent_at.abs_diff(now_seconds) > MAX_SKEW_SECONDS {
        return Err(SignatureError::Skewed);
    }
    let hex_signature = signature
        .trim()
        .strip_prefix("v1=")
        .filter(|h| h.len() == 64)
        .ok_or(SignatureError::BadFormat)?
        .to_ascii_lowercase();
    let presented = hex::decode(&hex_signature).map_err(|_| SignatureError::BadFormat)?;
    let message = string_to_sign(timestamp, method, target, body_sha256_hex);
    let matches = secrets.iter().any(|secret| {
        <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
            .map(|mut mac| {
                mac.update(message.as_bytes());
                // Constant-time comparison.
                mac.verify_slice(&presented).is_ok()
            })
            .unwrap_or(false)
    });
    if matches {
        Ok(hex_signature)
    } else {
        Err(SignatureError::Mismatch)
    }
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
    let message = format!("{t}\n{request_id}\n{key_id}\n{method}\n{target}");
    format!(
        "t={t},v1={}",
        hmac_sha256_hex(origin_secret.as_bytes(), message.as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    // python3 -c "import hmac,hashlib; print(hmac.new(b'kg_sig_test', b'1700000000\nGET\n/v1/x?b=2&a=1\n' + hashlib.sha256(b'').hexdigest().encode(), hashlib.sha256).hexdigest())"
    const KNOWN: &str = "566310c304ff27c762fff6eafa7546bb55cc72060361f994b58824b7695e3409";

    #[test]
    fn the_string_to_sign_is_exact() {
        assert_eq!(
            string_to_sign("1700000000", "GET", "/v1/x?b=2&a=1", EMPTY_SHA256),
            format!("1700000000\nGET\n/v1/x?b=2&a=1\n{EMPTY_SHA256}")
        );
    }

    #[test]
    fn known_answer_request_signature() {
        assert_eq!(
            sign_request(
                "kg_sig_test",
                "1700000000",
                "GET",
                "/v1/x?b=2&a=1",
                EMPTY_SHA256
            ),
            KNOWN
        );
    }

    #[test]
    fn known_answer_origin_signature() {
        // python3 -c "import hmac,hashlib; print(hmac.new(b'origin', b'1700000000\nreq_1\nkey_1\nPOST\n/v1/x', hashlib.sha256).hexdigest())"
        assert_eq!(
            origin_signature("origin", 1_700_000_000, "req_1", "key_1", "POST", "/v1/x"),
            "t=1700000000,v1=75ef0f79972c9a8176d20cdb632259453113006d7522a3bd1be0765871afcaa5"
        );
    }

    fn verify(secrets: &[&str], ts: &str, sig: &str, now: u64) -> Result<String, SignatureError> {
        verify_request_signature(
            secrets,
            Some(ts),
            Some(sig),
            "GET",
            "/v1/x?b=2&a=1",
            EMPTY_SHA256,
            now,
        )
    }

    #[test]
    fn verification_outcomes() {
        let good = format!("v1={KNOWN}");
        assert_eq!(
            verify(&["kg_sig_test"], "1700000000", &good, 1_700_000_000),
            Ok(KNOWN.to_string())
        );
        assert_eq!(
            verify(
                &["other", "kg_sig_test"],
                "1700000000",
                &good,
                1_700_000_300
            ),
            Ok(KNOWN.to_string())
        );
        assert_eq!(
            verify(
                &["kg_sig_test"],
                "1700000000",
                &good.to_uppercase().replace("V1=", "v1="),
                1_700_000_000
            ),
            Ok(KNOWN.to_string())
        );
        assert_eq!(
            verify(&["kg_sig_test"], "1700000000", &good, 1_700_000_301),
            Err(SignatureError::Skewed)
        );
        assert_eq!(
            verify(&["kg_sig_test"], "1700000000", &good, 1_699_999_699),
            Err(SignatureError::Skewed)
        );
        assert_eq!(
            verify(&["wrong"], "1700000000", &good, 1_700_000_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&[], "1700000000", &good, 1_700_000_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&["kg_sig_test"], "17e8", &good, 1_700_000_000),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            verify(&["kg_sig_test"], "-1", &good, 1_700_000_000),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            verify(&["kg_sig_test"], "1700000000", KNOWN, 1_700_000_000),
            Err(SignatureError::BadFormat)
        );
        assert_eq!(
            verify(&["kg_sig_test"], "1700000000", "v1=zz", 1_700_000_000),
            Err(SignatureError::BadFormat)
        );
        assert_eq!(
            verify_request_signature(&["s"], None, Some(&good), "GET", "/", EMPTY_SHA256, 0),
            Err(SignatureError::Missing)
        );
        // A different target, method or body breaks the signature.
        assert_eq!(
            verify_request_signature(
                &["kg_sig_test"],
                Some("1700000000"),
                Some(&good),
                "GET",
                "/v1/x?a=1&b=2",
                EMPTY_SHA256,
                1_700_000_000
            ),
            Err(SignatureError::Mismatch)
        );
    }
}
