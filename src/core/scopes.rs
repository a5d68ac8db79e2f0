//! Scopes `action:resource` (SPEC section 2 step 5).
//!
//! `admin` implies every scope; no action implies another. A required
//! `read:datasets/prices` is satisfied by `read:datasets/prices`,
//! `read:datasets/*`, `read:all` or `admin`.

const ACTIONS: [&str; 3] = ["read", "write", "delete"];
const MAX_SCOPE_LEN: usize = 128;

/// Validates a scope's syntax: `admin`, or `read|write|delete:` + resource
/// (`all`, or path segments of `[A-Za-z0-9._-]` separated by `/`, the last may be `*`).
pub fn validate_scope(scope: &str) -> Result<(), String> {
    if scope == "admin" {
        return Ok(());
    }
    if scope.len() > MAX_SCOPE_LEN {
        return Err(format!("a scope is at most {MAX_SCOPE_LEN} characters"));
    }
    let Some((action, resource)) = scope.split_once(':') else {
        return Err(format!(
            "`{scope}` is not `admin` or `<read|write|delete>:<resource>`"
        ));
    };
    if !ACTIONS.contains(&action) {
        return Err(format!("`{action}` is not an action (read, write, delete)"));
    }
    if resource == "all" {
        return Ok(());
    }
    let segments: Vec<&str> = resource.split('/').collect();
    let last = segments.len() - 1;
    for (index, segment) in segments.iter().enumerate() {
        let wildcard = index == last && index > 0 && *segment == "*";
        let plain = !segment.is_empty()
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !(wildcard || plain) {
            return Err(format!(
                "`{resource}` must be `all` or `/`-separated segments of [A-Za-z0-9._-], the last may be `*`"
            ));
        }
    }
    Ok(())
}

/// Whether one held scope covers the required one.
fn covers(held: &str, required: &str) -> bool {
    if held == "admin" || held == required {
        return true;
    }
    let (Some((held_action, held_resource)), Some((required_action, required_resource))) =
        (held.split_once(':'), required.split_once(':'))
    else {
        return false;
    };
    if held_action != required_action {
        return false;
    }
    if held_resource == "all" {
        return true;
    }
    held_resource
        .strip_suffix("/*")
        .and_then(|base| required_resource.strip_prefix(base))
        .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1)
}

/// Whether the held scopes satisfy the required one: exact match, `<action>:all`,
/// a `<action>:<prefix>/*` grant covering it, or `admin`.
pub fn grants(held: &[String], required: &str) -> bool {
    held.iter().any(|scope| covers(scope, required))
}

/// Whether a publishable key may hold this scope (never `admin`, `write:*`, `delete:*`).
pub fn allowed_for_publishable(scope: &str) -> bool {
    scope.starts_with("read:")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(scopes: &[&str]) -> Vec<String> {
        scopes.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn syntax() {
        for good in [
            "admin",
            "read:all",
            "write:all",
            "delete:all",
            "read:datasets/prices",
            "delete:datasets/*",
            "read:a.b-c_d/e/*",
        ] {
            assert_eq!(validate_scope(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "read",
            "read:",
            "fly:all",
            "Admin",
            "read:*",
            "read:a//b",
            "read:a/*/b",
            "read:a b",
            "read:all:x",
            &format!("read:{}", "a".repeat(130)),
        ] {
            assert!(validate_scope(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn admin_implies_everything_and_no_action_implies_another() {
        assert!(grants(&held(&["admin"]), "delete:datasets/x"));
        assert!(!grants(&held(&["write:all"]), "read:all"));
        assert!(!grants(&held(&["read:all"]), "write:all"));
        assert!(!grants(&held(&["delete:all"]), "admin"));
        assert!(!grants(&[], "read:all"));
    }

    #[test]
    fn dataset_grants() {
        let required = "read:datasets/prices";
        for scope in [
            "read:datasets/prices",
            "read:datasets/*",
            "read:all",
            "admin",
        ] {
            assert!(grants(&held(&[scope]), required), "{scope}");
        }
        for scope in [
            "read:datasets/other",
            "write:datasets/*",
            "read:datasets",
            "read:data/*",
            "read:datasets/prices/*",
        ] {
            assert!(!grants(&held(&[scope]), required), "{scope}");
        }
        assert!(grants(&held(&["delete:datasets/*"]), "delete:datasets/a/b"));
        assert!(!grants(&held(&["read:datasets/*"]), "read:datasets"));
        assert!(!grants(&held(&["read:datasets/prices"]), "read:all"));
    }

    #[test]
    fn publishable_keys_read_only() {
        assert!(allowed_for_publishable("read:all"));
        assert!(allowed_for_publishable("read:datasets/x"));
        for scope in ["admin", "write:all", "delete:all", "write:datasets/x"] {
            assert!(!allowed_for_publishable(scope));
        }
    }
}
