//! Credential extraction (SPEC section 2 step 2).

/// Where the credential came from, so the proxy can strip exactly that.
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

/// The API key from `Authorization: Bearer`, `ApiKey`, `X-API-Key` (names
/// case-insensitive, values trimmed) and, when allowed, the `api_key` query parameter.
pub fn extract_credential(
    headers: &[(String, String)],
    query_key: Option<&str>,
) -> Result<Credential, CredentialError> {
    todo!("{headers:?}{query_key:?}")
}
