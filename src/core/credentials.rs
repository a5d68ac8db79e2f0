//! Credential extraction (SPEC section 2 step 2).

/// The API key a request presents, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    None,
    Key(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("the request carries two different API keys")]
    Ambiguous,
}

/// The token of an `Authorization: Bearer <token>` value (scheme case-insensitive).
fn bearer_token(value: &str) -> Option<&str> {
    let value = value.trim();
    let (scheme, token) = value.split_once([' ', '\t'])?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Whether a request header carries a credential, so it must not reach the
/// origin: `ApiKey`, `X-API-Key`, and an `Authorization` with a `Bearer`
/// part (a repeated header arrives joined by commas).
pub fn carries_credential(name: &str, value: &str) -> bool {
    match name.to_ascii_lowercase().as_str() {
        "apikey" | "x-api-key" => true,
        "authorization" => value.split(',').any(|part| bearer_token(part).is_some()),
        _ => false,
    }
}

/// The API key from `Authorization: Bearer`, `ApiKey`, `X-API-Key` (names
/// case-insensitive, values trimmed) and, when allowed, the `api_key` query
/// parameters (`query_keys`, already decoded).
pub fn extract_credential(
    headers: &[(String, String)],
    query_keys: &[String],
) -> Result<Credential, CredentialError> {
    // A repeated header reaches the Worker as one value joined by commas;
    // keys never contain a comma, so each part is a candidate.
    let from_headers = headers.iter().flat_map(|(name, value)| {
        let name = name.to_ascii_lowercase();
        value
            .split(',')
            .filter_map(move |part| match name.as_str() {
                "authorization" => bearer_token(part),
                "apikey" | "x-api-key" => Some(part.trim()),
                _ => None,
            })
    });
    let mut found: Option<&str> = None;
    for candidate in from_headers.chain(query_keys.iter().map(|k| k.trim())) {
        if candidate.is_empty() {
            continue;
        }
        match found {
            Some(existing) if existing != candidate => return Err(CredentialError::Ambiguous),
            _ => found = Some(candidate),
        }
    }
    Ok(found.map_or(Credential::None, |key| Credential::Key(key.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn credential_headers_are_recognised_for_stripping() {
        assert!(carries_credential("X-Api-Key", "anything"));
        assert!(carries_credential("APIKEY", ""));
        assert!(carries_credential("authorization", "Bearer k1"));
        assert!(carries_credential(
            "Authorization",
            "Basic dXNlcg==, bearer k1"
        ));
        assert!(!carries_credential("Authorization", "Basic dXNlcg=="));
        assert!(!carries_credential("X-Api-Key-Hint", "k1"));
    }

    #[test]
    fn each_header_form_case_insensitive_and_trimmed() {
        for (name, value) in [
            ("Authorization", "Bearer k1"),
            ("authorization", "bearer   k1  "),
            ("ApiKey", " k1"),
            ("apikey", "k1"),
            ("X-API-Key", "k1 "),
            ("x-api-key", "k1"),
        ] {
            assert_eq!(
                extract_credential(&headers(&[(name, value)]), &[]),
                Ok(Credential::Key("k1".into())),
                "{name}: {value}"
            );
        }
    }

    #[test]
    fn none_same_twice_and_ambiguous() {
        assert_eq!(extract_credential(&[], &[]), Ok(Credential::None));
        assert_eq!(
            extract_credential(
                &headers(&[("Authorization", "Basic abc"), ("X-API-Key", "  ")]),
                &[]
            ),
            Ok(Credential::None)
        );
        assert_eq!(
            extract_credential(
                &headers(&[("Authorization", "Bearer k1"), ("X-API-Key", "k1")]),
                &["k1".into()]
            ),
            Ok(Credential::Key("k1".into()))
        );
        assert_eq!(
            extract_credential(&headers(&[("ApiKey", "k1"), ("X-API-Key", "k2")]), &[]),
            Err(CredentialError::Ambiguous)
        );
        assert_eq!(
            extract_credential(&headers(&[("ApiKey", "k1")]), &["k2".into()]),
            Err(CredentialError::Ambiguous)
        );
        assert_eq!(
            extract_credential(&[], &["q".into()]),
            Ok(Credential::Key("q".into()))
        );
        assert_eq!(
            extract_credential(&[], &["q1".into(), "q2".into()]),
            Err(CredentialError::Ambiguous)
        );
    }
}
