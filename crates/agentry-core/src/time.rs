//! Timestamps: stored as UTC milliseconds since the epoch (one integer type on both database
//! backends, ordered and compared without parsing); shown as ISO-8601 with a `Z`.

use chrono::{DateTime, SecondsFormat, Utc};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// ISO-8601 UTC with millisecond precision and a `Z`, e.g. `2026-01-01T00:00:00.000Z`.
pub fn iso(ms: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Like [`iso`] for optional timestamps.
pub fn iso_opt(ms: Option<Millis>) -> Option<String> {
    ms.map(iso)
}

/// Parses an ISO-8601 / RFC 3339 datetime (a missing offset is read as UTC).
pub fn parse_iso(text: &str) -> Option<Millis> {
    let text = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(dt.with_timezone(&Utc).timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(naive) = chrono::NaiveDateTime::parse_from_str(text, fmt) {
            return Some(naive.and_utc().timestamp_millis());
        }
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|n| n.and_utc().timestamp_millis())
}

/// Unix seconds as a float, the WebSocket envelope's `timestamp`.
pub fn unix_seconds(ms: Millis) -> f64 {
    ms as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trips() {
        let ms = 1_767_225_600_123; // 2026-01-01T00:00:00.123Z
        assert_eq!(iso(ms), "2026-01-01T00:00:00.123Z");
        assert_eq!(parse_iso(&iso(ms)), Some(ms));
    }

    #[test]
    fn parses_common_forms() {
        assert_eq!(parse_iso("2026-01-01T00:00:00Z"), Some(1_767_225_600_000));
        assert_eq!(
            parse_iso("2026-01-01T01:00:00+01:00"),
            Some(1_767_225_600_000)
        );
        assert_eq!(parse_iso("2026-01-01T00:00:00"), Some(1_767_225_600_000));
        assert_eq!(parse_iso("2026-01-01"), Some(1_767_225_600_000));
        assert_eq!(parse_iso("yesterday"), None);
    }
}
