//! RFC 3339 timestamps. Time always comes in as milliseconds since the Unix
//! epoch from the caller (the Worker's clock), never from `SystemTime`.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Milliseconds since the Unix epoch as an RFC 3339 UTC string (`2026-01-02T03:04:05Z`).
pub fn rfc3339(ms: u64) -> String {
    let seconds = i64::try_from(ms / 1000).unwrap_or(i64::MAX);
    OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "9999-12-31T23:59:59Z".to_string())
}

/// Like [`rfc3339`], with milliseconds when there are any
/// (`2026-01-02T03:04:05.900Z`): for times a caller chose, such as an expiry.
pub fn rfc3339_ms(ms: u64) -> String {
    match ms % 1000 {
        0 => rfc3339(ms),
        millis => rfc3339(ms).replace('Z', &format!(".{millis:03}Z")),
    }
}

/// Parses an RFC 3339 timestamp (any offset) into milliseconds since the epoch.
pub fn parse_rfc3339(text: &str) -> Result<u64, String> {
    let parsed = OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|_| format!("`{text}` is not an RFC 3339 timestamp"))?;
    let ms = parsed.unix_timestamp_nanos() / 1_000_000;
    u64::try_from(ms).map_err(|_| format!("`{text}` is before 1970"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_z() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_764_054_886_123), "2025-11-25T07:14:46Z");
    }

    #[test]
    fn keeps_chosen_milliseconds() {
        assert_eq!(rfc3339_ms(1_764_054_886_000), "2025-11-25T07:14:46Z");
        assert_eq!(rfc3339_ms(1_764_054_886_090), "2025-11-25T07:14:46.090Z");
        assert_eq!(
            parse_rfc3339(&rfc3339_ms(1_764_054_886_900)),
            Ok(1_764_054_886_900)
        );
    }

    #[test]
    fn parses_offsets_and_round_trips() {
        assert_eq!(parse_rfc3339("2025-11-25T07:14:46Z"), Ok(1_764_054_886_000));
        assert_eq!(
            parse_rfc3339("2025-11-25T08:14:46+01:00"),
            Ok(1_764_054_886_000)
        );
        assert!(parse_rfc3339("2025-11-25").is_err());
        assert!(parse_rfc3339("1969-12-31T23:59:59Z").is_err());
        assert!(parse_rfc3339("").is_err());
    }
}
