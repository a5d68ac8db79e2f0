//! Scopes `action:resource` (SPEC section 2 step 5).

/// Validates a scope's syntax: `admin`, or `read|write|delete:` + resource
/// (`all`, or path segments of `[A-Za-z0-9._-]` separated by `/`, the last may be `*`).
pub fn validate_scope(scope: &str) -> Result<(), String> {
    todo!("{scope}")
}

/// Whether the held scopes satisfy the required one: exact match, `<action>:all`,
/// a `<action>:<prefix>/*` grant covering it, or `admin`.
pub fn grants(held: &[String], required: &str) -> bool {
    todo!("{held:?}{required}")
}

/// Whether a publishable key may hold this scope (never `admin`, `write:*`, `delete:*`).
pub fn allowed_for_publishable(scope: &str) -> bool {
    todo!("{scope}")
}
