//! Route policy `ROUTES` (SPEC sections 2 step 5 and 4): the scope a request
//! needs and what it costs. First match wins; `{name}` matches one segment
//! and may be used in the scope; a trailing `/*` matches any rest, including none.

use serde::{Deserialize, Serialize};

use crate::core::scopes::validate_scope;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    pub scope: String,
    pub cost: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleText {
    #[serde(default)]
    method: Option<String>,
    path: String,
    scope: String,
    #[serde(default)]
    cost: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Capture(String),
}

#[derive(Debug, Clone)]
struct Rule {
    /// Uppercase method, or `None` for `*`.
    method: Option<String>,
    segments: Vec<Segment>,
    /// Whether the path ends in `/*`.
    open_ended: bool,
    scope: String,
    cost: u32,
}

#[derive(Debug, Clone, Default)]
pub struct RoutePolicy {
    rules: Vec<Rule>,
}

fn parse_rule(index: usize, text: RuleText) -> Result<Rule, String> {
    let at = |field: &str| format!("ROUTES[{index}].{field}");
    let method = match text.method.as_deref().map(str::trim) {
        None | Some("*") => None,
        Some(m) if !m.is_empty() && m.chars().all(|c| c.is_ascii_alphabetic()) => {
            Some(m.to_ascii_uppercase())
        }
        Some(other) => {
            return Err(format!(
                "{}: `{other}` is not a method or `*`",
                at("method")
            ));
        }
    };
    let Some(path) = text.path.strip_prefix('/') else {
        return Err(format!("{}: must start with `/`", at("path")));
    };
    let (path, open_ended) = match path.strip_suffix("/*") {
        Some(base) => (base, true),
        None if path == "*" => ("", true),
        None => (path, false),
    };
    let mut segments = Vec::new();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        let capture = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
        match capture {
            Some(name)
                if !name.is_empty()
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                segments.push(Segment::Capture(name.to_string()));
            }
            Some(_) => return Err(format!("{}: bad capture `{segment}`", at("path"))),
            None if segment.contains(['{', '}', '*']) => {
                return Err(format!(
                    "{}: `*` only as a trailing `/*`; captures are `{{name}}`",
                    at("path")
                ));
            }
            None => segments.push(Segment::Literal(segment.to_string())),
        }
    }
    // The scope may name captures; check it with a sample value in their place.
    let mut sample = text.scope.clone();
    for segment in &segments {
        if let Segment::Capture(name) = segment {
            sample = sample.replace(&format!("{{{name}}}"), "x");
        }
    }
    validate_scope(&sample).map_err(|e| format!("{}: {e}", at("scope")))?;
    Ok(Rule {
        method,
        segments,
        open_ended,
        scope: text.scope,
        cost: text.cost.unwrap_or(1),
    })
}

impl Rule {
    /// The scope with captures filled in, when `path` matches.
    fn matches(&self, method: &str, path: &str) -> Option<String> {
        if self
            .method
            .as_deref()
            .is_some_and(|m| !m.eq_ignore_ascii_case(method))
        {
            return None;
        }
        // A trailing slash names the same resource.
        let trimmed = path.strip_prefix('/').unwrap_or(path);
        let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
        let parts: Vec<&str> = if trimmed.is_empty() {
            Vec::new()
        } else {
            trimmed.split('/').collect()
        };
        if parts.len() < self.segments.len()
            || (!self.open_ended && parts.len() != self.segments.len())
        {
            return None;
        }
        let mut captures = Vec::new();
        for (segment, part) in self.segments.iter().zip(&parts) {
            match segment {
                Segment::Literal(text) if text == part => {}
                Segment::Capture(name) if !part.is_empty() => captures.push((name, *part)),
                _ => return None,
            }
        }
        let mut scope = self.scope.clone();
        for (name, value) in captures {
            let placeholder = format!("{{{name}}}");
            let filled = scope.replace(&placeholder, value);
            // A value that cannot be part of a scope (`:`, `*`, `~`, a space…)
            // still matches: it needs a grant covering every value instead.
            scope = if validate_scope(&filled).is_ok() {
                filled
            } else {
                covering_scope(&scope, &placeholder)
            };
        }
        Some(scope)
    }
}

/// The grant that covers every value of a capture: the scope cut at the
/// capture's segment, `<action>:<resource>/*`, or `<action>:all` when the
/// capture starts the resource.
fn covering_scope(scope: &str, placeholder: &str) -> String {
    let head = scope.find(placeholder).map_or(scope, |at| &scope[..at]);
    let (action, resource) = head.split_once(':').unwrap_or((head, ""));
    match resource.rfind('/') {
        Some(slash) => format!("{action}:{}/*", &resource[..slash]),
        None => format!("{action}:all"),
    }
}

impl RoutePolicy {
    /// Parses the `ROUTES` JSON array; the error says what is wrong and where.
    pub fn from_json(json: &str) -> Result<RoutePolicy, String> {
        let deserializer = &mut serde_json::Deserializer::from_str(json);
        let texts: Vec<RuleText> = serde_path_to_error::deserialize(deserializer)
            .map_err(|e| format!("at `{}`: {}", e.path(), e.inner()))?;
        let rules = texts
            .into_iter()
            .enumerate()
            .map(|(index, text)| parse_rule(index, text))
            .collect::<Result<_, _>>()?;
        Ok(RoutePolicy { rules })
    }

    /// First matching rule wins; otherwise the method default with cost 1.
    pub fn requirement(&self, method: &str, path: &str) -> Requirement {
        self.rules
            .iter()
            .find_map(|rule| {
                rule.matches(method, path).map(|scope| Requirement {
                    scope,
                    cost: rule.cost,
                })
            })
            .unwrap_or_else(|| Requirement {
                scope: default_scope(method).to_string(),
                cost: 1,
            })
    }
}

/// GET/HEAD/OPTIONS read, DELETE deletes, everything else writes.
fn default_scope(method: &str) -> &'static str {
    match method.to_ascii_uppercase().as_str() {
        "GET" | "HEAD" | "OPTIONS" => "read:all",
        "DELETE" => "delete:all",
        _ => "write:all",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::scopes;

    fn policy(json: &str) -> RoutePolicy {
        RoutePolicy::from_json(json).unwrap()
    }

    fn scope(policy: &RoutePolicy, method: &str, path: &str) -> String {
        policy.requirement(method, path).scope
    }

    #[test]
    fn defaults_by_method() {
        let none = RoutePolicy::default();
        for (method, expected) in [
            ("GET", "read:all"),
            ("HEAD", "read:all"),
            ("OPTIONS", "read:all"),
            ("POST", "write:all"),
            ("PUT", "write:all"),
            ("PATCH", "write:all"),
            ("DELETE", "delete:all"),
            ("PROPFIND", "write:all"),
        ] {
            assert_eq!(
                none.requirement(method, "/x"),
                Requirement {
                    scope: expected.into(),
                    cost: 1
                }
            );
        }
    }

    fn assert_gets_require(p: &RoutePolicy, paths: &[&str], scope: &str, cost: u32) {
        for path in paths {
            let expected = Requirement {
                scope: scope.into(),
                cost,
            };
            assert_eq!(p.requirement("GET", path), expected, "GET {path}");
        }
    }

    #[test]
    fn captures_fill_the_scope_and_the_trailing_star_matches_any_rest() {
        let p = policy(
            r#"[{"method": "GET", "path": "/datasets/{name}/*", "scope": "read:datasets/{name}", "cost": 2}]"#,
        );
        let paths = [
            "/datasets/prices",
            "/datasets/prices/",
            "/datasets/prices/2024/x",
        ];
        assert_gets_require(&p, &paths, "read:datasets/prices", 2);
        assert_eq!(scope(&p, "get", "/datasets/prices"), "read:datasets/prices");
        assert_eq!(scope(&p, "POST", "/datasets/prices"), "write:all");
        assert_eq!(scope(&p, "GET", "/datasets"), "read:all");
        assert_eq!(scope(&p, "GET", "/other/prices"), "read:all");
    }

    #[test]
    fn a_value_that_cannot_be_in_a_scope_needs_the_covering_grant() {
        let p = policy(
            r#"[{"method": "GET", "path": "/datasets/{name}/*", "scope": "read:datasets/{name}", "cost": 5},
                {"method": "GET", "path": "/v1/{thing}", "scope": "read:{thing}"}]"#,
        );
        let paths = [
            "/datasets/a~b",
            "/datasets/a%20b/rows",
            "/datasets/*",
            "/datasets/x:y",
        ];
        assert_gets_require(&p, &paths, "read:datasets/*", 5);
        assert_eq!(scope(&p, "GET", "/v1/a~b"), "read:all");
        let held = vec!["read:datasets/prices".to_string()];
        assert!(!scopes::grants(&held, &scope(&p, "GET", "/datasets/a~b")));
        let wide = vec!["read:datasets/*".to_string()];
        assert!(scopes::grants(&wide, &scope(&p, "GET", "/datasets/a~b")));
    }

    #[test]
    fn first_match_wins_and_star_method_matches_all() {
        let p = policy(
            r#"[{"method": "*", "path": "/admin/*", "scope": "admin"},
                           {"path": "/v1/report", "scope": "read:reports", "cost": 10},
                           {"method": "GET", "path": "/v1/{thing}", "scope": "read:{thing}"}]"#,
        );
        assert_eq!(scope(&p, "DELETE", "/admin/users/1"), "admin");
        assert_eq!(scope(&p, "GET", "/admin"), "admin");
        assert_eq!(
            p.requirement("GET", "/v1/report"),
            Requirement {
                scope: "read:reports".into(),
                cost: 10
            }
        );
        assert_eq!(scope(&p, "GET", "/v1/report/"), "read:reports");
        assert_eq!(scope(&p, "GET", "/v1/users"), "read:users");
        assert_eq!(
            scope(&p, "GET", "/v1/users/1"),
            "read:all",
            "exact rules do not match deeper paths"
        );
    }

    #[test]
    fn bad_rules_are_named() {
        for (json, needle) in [
            ("[not json", "at"),
            (r#"{"path": "/x"}"#, "at"),
            (r#"[{"path": "x", "scope": "read:all"}]"#, "ROUTES[0].path"),
            (r#"[{"path": "/x", "scope": "fly:all"}]"#, "ROUTES[0].scope"),
            (
                r#"[{"path": "/a/*/b", "scope": "read:all"}]"#,
                "ROUTES[0].path",
            ),
            (
                r#"[{"path": "/x", "scope": "read:all", "colour": 1}]"#,
                "colour",
            ),
            (
                r#"[{"path": "/x", "scope": "read:all"}, {"method": "G T", "path": "/x", "scope": "read:all"}]"#,
                "ROUTES[1].method",
            ),
        ] {
            let error = RoutePolicy::from_json(json).unwrap_err();
            assert!(error.contains(needle), "{json}: {error}");
        }
    }
}
