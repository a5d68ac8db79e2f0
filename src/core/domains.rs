//! Allowed domains (SPEC section 2 step 4): exact hosts and `*.example.com`
//! wildcards, matched case-insensitively against the host of `Origin` or
//! `Referer`, scheme and port ignored.

const MAX_HOST_LEN: usize = 253;

fn valid_label(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

fn valid_hostname(host: &str) -> bool {
    !host.is_empty() && host.len() <= MAX_HOST_LEN && host.split('.').all(valid_label)
}

/// Validates and lowercases a domain pattern: `app.example.com` or `*.example.com`.
pub fn normalize_domain_pattern(pattern: &str) -> Result<String, String> {
    let lower = pattern.trim().to_ascii_lowercase();
    let host = lower.strip_prefix("*.").unwrap_or(&lower);
    if lower.contains("://") || lower.contains(['/', ':', '?', '#', '@']) {
        return Err(format!(
            "`{pattern}` must be a host name only (no scheme, port or path)"
        ));
    }
    if !valid_hostname(host) {
        return Err(format!(
            "`{pattern}` is not a host name or `*.` followed by one"
        ));
    }
    Ok(lower)
}

/// The lowercase host of an `Origin` or `Referer` value (scheme, port, path
/// dropped); IPv6 hosts keep their brackets (`[::1]`). `None` for `null` or garbage.
pub fn host_of(origin_or_referer: &str) -> Option<String> {
    let (_, rest) = origin_or_referer.trim().split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or_default();
    let host = if authority.starts_with('[') {
        let end = authority.find(']')?;
        &authority[..=end]
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    let host = host.to_ascii_lowercase();
    let ipv6 = host.starts_with('[')
        && host.len() > 2
        && host[1..host.len() - 1]
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
    (ipv6 || valid_hostname(&host)).then_some(host)
}

/// The host a request comes from (SPEC section 2 step 4): its `Origin` when
/// it sends one (an unreadable one such as `null` gives no host, so it
/// cannot borrow a `Referer`'s), else its `Referer`.
pub fn requesting_host(origin: Option<&str>, referer: Option<&str>) -> Option<String> {
    match origin {
        Some(origin) => host_of(origin),
        None => referer.and_then(host_of),
    }
}

/// The host named by a `/v1/verify` `origin`: an origin (`https://h:8443`)
/// or a bare host (`h`).
pub fn host_of_origin_or_host(value: &str) -> Option<String> {
    if value.contains("://") {
        host_of(value)
    } else {
        host_of(&format!("https://{}", value.trim()))
    }
}

/// Whether `host` matches one of the patterns (a wildcard matches subdomains
/// at any depth, not the apex).
pub fn domain_allowed(patterns: &[String], host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    patterns
        .iter()
        .any(|pattern| match pattern.strip_prefix("*.") {
            Some(apex) => host
                .strip_suffix(apex)
                .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
            None => pattern.eq_ignore_ascii_case(&host),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(list: &[&str]) -> Vec<String> {
        list.iter()
            .map(|p| normalize_domain_pattern(p).unwrap())
            .collect()
    }

    #[test]
    fn the_origin_decides_when_sent_even_if_unreadable() {
        let referer = Some("https://app.example.com/page");
        assert_eq!(
            requesting_host(Some("https://a.example.com"), referer).as_deref(),
            Some("a.example.com")
        );
        assert_eq!(requesting_host(Some("null"), referer), None);
        assert_eq!(
            requesting_host(None, referer).as_deref(),
            Some("app.example.com")
        );
        assert_eq!(requesting_host(None, None), None);
    }

    #[test]
    fn verify_takes_an_origin_or_a_bare_host() {
        for value in [
            "https://App.example.com:8443",
            "app.example.com",
            " app.example.com ",
        ] {
            assert_eq!(
                host_of_origin_or_host(value).as_deref(),
                Some("app.example.com"),
                "{value}"
            );
        }
        assert_eq!(host_of_origin_or_host("not a host"), None);
    }

    #[test]
    fn patterns_are_validated_and_lowercased() {
        assert_eq!(
            normalize_domain_pattern("App.Example.com"),
            Ok("app.example.com".into())
        );
        assert_eq!(
            normalize_domain_pattern("*.Example.com"),
            Ok("*.example.com".into())
        );
        assert_eq!(
            normalize_domain_pattern("localhost"),
            Ok("localhost".into())
        );
        for bad in [
            "",
            "https://a.com",
            "a.com:443",
            "a.com/x",
            "*",
            "*.",
            "a..com",
            "-a.com",
            "a.*.com",
            "**.a.com",
            "a b.com",
        ] {
            assert!(normalize_domain_pattern(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn host_of_drops_scheme_port_and_path() {
        assert_eq!(
            host_of("https://App.Example.com:8443/x?y"),
            Some("app.example.com".into())
        );
        assert_eq!(
            host_of("http://a.example.com"),
            Some("a.example.com".into())
        );
        assert_eq!(host_of("https://user@a.com/p"), Some("a.com".into()));
        assert_eq!(host_of("http://[::1]:8080/"), Some("[::1]".into()));
        for garbage in [
            "null",
            "",
            "a.com",
            "https://",
            "https://bad host/",
            "https://%%/",
        ] {
            assert_eq!(host_of(garbage), None, "{garbage}");
        }
    }

    #[test]
    fn wildcards_match_subdomains_at_any_depth_but_not_the_apex() {
        let allowed = patterns(&["*.example.com", "app.other.com"]);
        assert!(domain_allowed(&allowed, "a.example.com"));
        assert!(domain_allowed(&allowed, "a.b.example.com"));
        assert!(domain_allowed(&allowed, "A.Example.COM"));
        assert!(!domain_allowed(&allowed, "example.com"));
        assert!(!domain_allowed(&allowed, "badexample.com"));
        assert!(!domain_allowed(&allowed, "example.com.evil.com"));
        assert!(domain_allowed(&allowed, "app.other.com"));
        assert!(!domain_allowed(&allowed, "x.app.other.com"));
        assert!(!domain_allowed(&[], "a.example.com"));
    }
}
