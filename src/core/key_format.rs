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
        match self {
            KeyKind::Secret => "sk",
            KeyKind::Publishable => "pk",
        }
    }

    /// `secret` or `publishable`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Secret => "secret",
            KeyKind::Publishable => "publishable",
        }
    }

    fn from_abbreviation(text: &str) -> Option<KeyKind> {
        match text {
            "sk" => Some(KeyKind::Secret),
            "pk" => Some(KeyKind::Publishable),
            _ => None,
        }
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

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BODY_BYTES: usize = 32;
const BODY_LEN: usize = 43;
const CHECKSUM_LEN: usize = 6;

fn random_bytes<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)?;
    Ok(bytes)
}

/// The checksum of everything before it: CRC-32 (IEEE) in base62, 6 characters.
fn checksum(prefix_and_body: &str) -> String {
    base62_fixed(
        &crc32fast::hash(prefix_and_body.as_bytes()).to_be_bytes(),
        CHECKSUM_LEN,
    )
}

/// A freshly generated key (`kg_sk_…`) from 32 bytes of `getrandom`.
pub fn generate_key(namespace: &str, kind: KeyKind) -> Result<String, getrandom::Error> {
    let body = base62_fixed(&random_bytes::<BODY_BYTES>()?, BODY_LEN);
    let unchecked = format!("{namespace}_{}_{body}", kind.abbreviation());
    let check = checksum(&unchecked);
    Ok(unchecked + &check)
}

/// Checks format and checksum without any storage; returns the key's kind.
pub fn parse_key(key: &str, namespace: &str) -> Result<KeyKind, KeyFormatError> {
    if !key.is_ascii() || key.len() != namespace.len() + 4 + BODY_LEN + CHECKSUM_LEN {
        return Err(KeyFormatError::Length);
    }
    // ASCII only from here, so byte offsets are character boundaries.
    let (head, rest) = key.split_at(namespace.len());
    if head != namespace || !rest.starts_with('_') {
        return Err(KeyFormatError::Namespace);
    }
    let kind = KeyKind::from_abbreviation(&rest[1..3]).ok_or(KeyFormatError::Kind)?;
    if &rest[3..4] != "_" {
        return Err(KeyFormatError::Kind);
    }
    let encoded = &rest[4..];
    if !encoded.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(KeyFormatError::Alphabet);
    }
    let (unchecked, check) = key.split_at(key.len() - CHECKSUM_LEN);
    if checksum(unchecked) != check {
        return Err(KeyFormatError::Checksum);
    }
    Ok(kind)
}

/// The public prefix shown in lists: namespace, kind and 4 body characters (`kg_sk_3fJ9`).
pub fn display_prefix(key: &str) -> String {
    // namespace "_" kind "_" then the body: keep through the 4th body character.
    let mut underscores = 0;
    let mut end = key.len();
    for (index, c) in key.char_indices() {
        if c == '_' {
            underscores += 1;
            if underscores == 2 {
                end = index + 1 + 4;
                break;
            }
        }
    }
    key.get(..end.min(key.len())).unwrap_or(key).to_string()
}

/// A signing secret: `<namespace>_sig_` + 43 base62 characters (32 random bytes).
pub fn generate_signing_secret(namespace: &str) -> Result<String, getrandom::Error> {
    Ok(format!(
        "{namespace}_sig_{}",
        base62_fixed(&random_bytes::<BODY_BYTES>()?, BODY_LEN)
    ))
}

/// A public key id: `key_` + 22 base62 characters (16 random bytes).
pub fn generate_key_id() -> Result<String, getrandom::Error> {
    Ok(format!("key_{}", base62_fixed(&random_bytes::<16>()?, 22)))
}

/// Bytes as a big-endian number in fixed-width base62 (`0-9A-Za-z`, most
/// significant digit first, left-padded with `0`); digits beyond `width` are dropped
/// (never the case for 32 bytes in 43 digits, 16 in 22, or 4 in 6).
pub fn base62_fixed(bytes: &[u8], width: usize) -> String {
    let mut number: Vec<u8> = bytes.to_vec();
    let mut digits: Vec<u8> = Vec::with_capacity(width);
    while digits.len() < width {
        // Long division of the whole number by 62; the remainder is the next digit.
        let mut remainder: u32 = 0;
        for byte in number.iter_mut() {
            let value = (remainder << 8) | u32::from(*byte);
            *byte = (value / 62) as u8;
            remainder = value % 62;
        }
        digits.push(ALPHABET[remainder as usize]);
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key_regex_ok(key: &str) -> bool {
        let parts: Vec<&str> = key.splitn(3, '_').collect();
        parts.len() == 3
            && (2..=16).contains(&parts[0].len())
            && parts[0].starts_with(|c: char| c.is_ascii_lowercase())
            && parts[0]
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && (parts[1] == "sk" || parts[1] == "pk")
            && parts[2].len() == 49
            && parts[2].chars().all(|c| c.is_ascii_alphanumeric())
    }

    #[test]
    fn known_answer_pins_the_format_to_the_spec() {
        // Computed independently: python3 -c "import zlib; print(zlib.crc32(b'kg_sk_' + b'0'*42 + b'1'))"
        // = 1599177420, which is 1kDz6C in base62 (0-9A-Za-z).
        let body = format!("{}1", "0".repeat(42));
        let unchecked = format!("kg_sk_{body}");
        assert_eq!(crc32fast::hash(unchecked.as_bytes()), 1_599_177_420);
        assert_eq!(checksum(&unchecked), "1kDz6C");
        let key = format!("{unchecked}1kDz6C");
        assert_eq!(parse_key(&key, "kg"), Ok(KeyKind::Secret));
        assert_eq!(display_prefix(&key), "kg_sk_0000");
    }

    #[test]
    fn base62_is_big_endian_and_padded() {
        assert_eq!(base62_fixed(&[0], 3), "000");
        assert_eq!(base62_fixed(&[61], 2), "0z");
        assert_eq!(base62_fixed(&[62], 2), "10");
        assert_eq!(base62_fixed(&[1, 0], 3), "048"); // 256 = 4*62 + 8
        assert_eq!(base62_fixed(&[0xff; 32], 43).len(), 43);
        assert_ne!(base62_fixed(&[0xff; 32], 43).chars().next(), Some('0'));
        assert_eq!(base62_fixed(&u32::MAX.to_be_bytes(), 6), "4gfFC3");
    }

    #[test]
    fn generated_keys_have_the_spec_shape() {
        let key = generate_key("kg", KeyKind::Publishable).unwrap();
        assert_eq!(key.len(), 2 + 53);
        assert!(key.starts_with("kg_pk_"));
        assert_eq!(parse_key(&key, "kg"), Ok(KeyKind::Publishable));
        assert_eq!(display_prefix(&key).len(), "kg_pk_".len() + 4);
        let secret = generate_signing_secret("acme").unwrap();
        assert!(secret.starts_with("acme_sig_") && secret.len() == 9 + 43);
        let id = generate_key_id().unwrap();
        assert!(id.starts_with("key_") && id.len() == 26);
    }

    #[test]
    fn wrong_parts_get_their_errors() {
        let key = generate_key("kg", KeyKind::Secret).unwrap();
        assert_eq!(parse_key(&key, "ab"), Err(KeyFormatError::Namespace));
        assert_eq!(parse_key(&key[1..], "kg"), Err(KeyFormatError::Length));
        assert_eq!(
            parse_key(&key.replacen("_sk_", "_xk_", 1), "kg"),
            Err(KeyFormatError::Kind)
        );
        let mut bad = key.clone();
        bad.replace_range(10..11, "-");
        assert_eq!(parse_key(&bad, "kg"), Err(KeyFormatError::Alphabet));
        assert_eq!(parse_key("", "kg"), Err(KeyFormatError::Length));
        let unicode = format!("kg_sk_{}é", "a".repeat(47));
        assert!(parse_key(&unicode, "kg").is_err());
    }

    proptest! {
        #[test]
        fn every_generated_key_parses(kind in prop_oneof![Just(KeyKind::Secret), Just(KeyKind::Publishable)],
                                      namespace in "[a-z][a-z0-9]{1,15}") {
            let key = generate_key(&namespace, kind).unwrap();
            prop_assert!(key_regex_ok(&key));
            prop_assert_eq!(key.len(), namespace.len() + 53);
            prop_assert_eq!(parse_key(&key, &namespace), Ok(kind));
        }

        #[test]
        fn any_single_character_change_is_rejected(position in 0usize..55, replacement in "[0-9A-Za-z_]") {
            let key = generate_key("kg", KeyKind::Secret).unwrap();
            let position = position % key.len();
            let original = &key[position..=position];
            prop_assume!(original != replacement);
            let mut changed = key.clone();
            changed.replace_range(position..=position, &replacement);
            prop_assert!(parse_key(&changed, "kg").is_err(), "{} accepted", changed);
        }

        #[test]
        fn arbitrary_strings_never_panic(text in "\\PC{0,80}") {
            let _ = parse_key(&text, "kg");
            let _ = display_prefix(&text);
        }

        #[test]
        fn base62_keeps_order(a in any::<u32>(), b in any::<u32>()) {
            let (x, y) = (base62_fixed(&a.to_be_bytes(), 6), base62_fixed(&b.to_be_bytes(), 6));
            prop_assert_eq!(a.cmp(&b), x.cmp(&y));
        }
    }
}
