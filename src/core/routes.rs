//! Route policy `ROUTES` (SPEC sections 2 step 5 and 4): required scope and cost per request.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    pub scope: String,
    pub cost: u32,
}

#[derive(Debug, Clone, Default)]
pub struct RoutePolicy {}

impl RoutePolicy {
    /// Parses the `ROUTES` JSON array; the error says what is wrong and where.
    pub fn from_json(json: &str) -> Result<RoutePolicy, String> {
        todo!("{json}")
    }

    /// First matching rule wins; otherwise the method default with cost 1.
    pub fn requirement(&self, method: &str, path: &str) -> Requirement {
        todo!("{method}{path}")
    }
}
