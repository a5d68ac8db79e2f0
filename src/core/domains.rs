//! Allowed domains (SPEC section 2 step 4).

/// Validates and lowercases a domain pattern: `app.example.com` or `*.example.com`.
pub fn normalize_domain_pattern(pattern: &str) -> Result<String, String> {
    todo!("{pattern}")
}

/// The lowercase host of an `Origin` or `Referer` value (scheme, port, path dropped).
pub fn host_of(origin_or_referer: &str) -> Option<String> {
    todo!("{origin_or_referer}")
}

/// Whether `host` matches one of the patterns (a wildcard matches subdomains at any depth, not the apex).
pub fn domain_allowed(patterns: &[String], host: &str) -> bool {
    todo!("{patterns:?}{host}")
}
