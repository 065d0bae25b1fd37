//! Schedule triggers (engine.md §11 `trigger_schedule`): `interval_seconds` or a 5-field cron
//! expression in UTC, and the next fire time after a given instant.

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use serde_json::Value;

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    Every(i64),
    Cron(Cron),
}

/// `minute hour day-of-month month day-of-week`, each a set of allowed values.
#[derive(Debug, Clone, PartialEq)]
pub struct Cron {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    days: Vec<bool>,
    months: Vec<bool>,
    weekdays: Vec<bool>,
    /// Cron's rule: when both day fields are restricted, a day matches either.
    days_restricted: bool,
    weekdays_restricted: bool,
}

fn field(text: &str, min: u32, max: u32, name: &str) -> Result<(Vec<bool>, bool), String> {
    let mut allowed = vec![false; (max + 1) as usize];
    let restricted = text != "*";
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .map_err(|_| format!("cron {name}: bad step '{s}'"))?,
            ),
            None => (part, 1),
        };
        if step == 0 {
            return Err(format!("cron {name}: step must be at least 1"));
        }
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let a = a
                .parse::<u32>()
                .map_err(|_| format!("cron {name}: bad value '{a}'"))?;
            let b = b
                .parse::<u32>()
                .map_err(|_| format!("cron {name}: bad value '{b}'"))?;
            (a, b)
        } else {
            let v = range
                .parse::<u32>()
                .map_err(|_| format!("cron {name}: bad value '{range}'"))?;
            (v, if part.contains('/') { max } else { v })
        };
        if lo < min || hi > max || lo > hi {
            return Err(format!("cron {name}: values must be within {min}-{max}"));
        }
        let mut v = lo;
        while v <= hi {
            allowed[v as usize] = true;
            v += step;
        }
    }
    Ok((allowed, restricted))
}

impl Cron {
    pub fn parse(expr: &str) -> Result<Cron, String> {
        let parts: Vec<&str> = expr.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(format!(
                "cron expression '{expr}' must have 5 fields (minute hour day month weekday)"
            ));
        }
        let (minutes, _) = field(parts[0], 0, 59, "minute")?;
        let (hours, _) = field(parts[1], 0, 23, "hour")?;
        let (days, days_restricted) = field(parts[2], 1, 31, "day")?;
        let (months, _) = field(parts[3], 1, 12, "month")?;
        let (mut weekdays, weekdays_restricted) = field(parts[4], 0, 7, "weekday")?;
        if weekdays[7] {
            weekdays[0] = true; // 7 is Sunday too
        }
        Ok(Cron {
            minutes,
            hours,
            days,
            months,
            weekdays,
            days_restricted,
            weekdays_restricted,
        })
    }

    fn matches(&self, t: &DateTime<Utc>) -> bool {
        let day_ok = self.days[t.day() as usize];
        let wd_ok = self.weekdays[t.weekday().num_days_from_sunday() as usize];
        let day_match = match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => day_ok || wd_ok,
            _ => day_ok && wd_ok,
        };
        self.minutes[t.minute() as usize]
            && self.hours[t.hour() as usize]
            && self.months[t.month() as usize]
            && day_match
    }

    /// The first matching minute strictly after `after` (searching up to 5 years ahead).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = Utc
            .with_ymd_and_hms(
                after.year(),
                after.month(),
                after.day(),
                after.hour(),
                after.minute(),
                0,
            )
            .single()?
            + Duration::minutes(1);
        let mut t = start;
        let limit = start + Duration::days(5 * 366);
        while t < limit {
            if !self.months[t.month() as usize] {
                // Jump to the first day of the next month.
                let (y, m) = if t.month() == 12 {
                    (t.year() + 1, 1)
                } else {
                    (t.year(), t.month() + 1)
                };
                t = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single()?;
                continue;
            }
            if self.matches(&t) {
                return Some(t);
            }
            t += Duration::minutes(1);
        }
        None
    }
}

impl Schedule {
    /// Reads `trigger_config` (`interval_seconds` ≥ 1, or `cron`).
    pub fn from_config(trigger_config: &Value) -> Result<Schedule, String> {
        if let Some(v) = trigger_config
            .get("interval_seconds")
            .filter(|v| !v.is_null())
        {
            let n = v
                .as_i64()
                .filter(|n| *n >= 1)
                .ok_or("trigger_config.interval_seconds must be an integer ≥ 1")?;
            return Ok(Schedule::Every(n));
        }
        if let Some(expr) = trigger_config.get("cron").and_then(Value::as_str) {
            return Cron::parse(expr).map(Schedule::Cron);
        }
        Err("trigger_config needs interval_seconds or cron".into())
    }

    /// The next fire strictly after `after_ms` (UTC milliseconds).
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        match self {
            Schedule::Every(secs) => Some(after_ms + secs * 1000),
            Schedule::Cron(c) => c
                .next_after(DateTime::<Utc>::from_timestamp_millis(after_ms)?)
                .map(|t| t.timestamp_millis()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn cron_next_fires() {
        let every_15 = Cron::parse("*/15 * * * *").expect("cron");
        assert_eq!(
            every_15.next_after(at("2026-01-01T10:07:30Z")),
            Some(at("2026-01-01T10:15:00Z"))
        );
        assert_eq!(
            every_15.next_after(at("2026-01-01T10:15:00Z")),
            Some(at("2026-01-01T10:30:00Z"))
        );
        let weekday_nine = Cron::parse("0 9 * * 1-5").expect("cron");
        // 2026-01-03 is a Saturday.
        assert_eq!(
            weekday_nine.next_after(at("2026-01-03T08:00:00Z")),
            Some(at("2026-01-05T09:00:00Z"))
        );
        let yearly = Cron::parse("30 6 1 7 *").expect("cron");
        assert_eq!(
            yearly.next_after(at("2026-08-01T00:00:00Z")),
            Some(at("2027-07-01T06:30:00Z"))
        );
    }

    #[test]
    fn cron_errors() {
        assert!(Cron::parse("* * * *").is_err());
        assert!(Cron::parse("60 * * * *").is_err());
        assert!(Cron::parse("*/0 * * * *").is_err());
        assert!(Cron::parse("a * * * *").is_err());
    }

    #[test]
    fn config_forms() {
        assert_eq!(
            Schedule::from_config(&json!({"interval_seconds": 5})),
            Ok(Schedule::Every(5))
        );
        assert_eq!(Schedule::Every(5).next_after(1000), Some(6000));
        assert!(Schedule::from_config(&json!({"interval_seconds": 0})).is_err());
        assert!(Schedule::from_config(&json!({})).is_err());
        assert!(matches!(
            Schedule::from_config(&json!({"cron": "0 * * * *"})),
            Ok(Schedule::Cron(_))
        ));
    }
}
