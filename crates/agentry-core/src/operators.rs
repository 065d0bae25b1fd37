//! The rule operators shared by `switch` and `filter` nodes (engine.md §2, "Switch / filter
//! operators"): `matches(operator, field_value, rule_value)`.
//!
//! The reference compares Python values, so text comparisons use Python's text forms
//! ([`text_form`]): `True`/`False` for booleans, `None` for null, `5` for an integer, `5.0` for a
//! float, `['a', 1]` for a list. Decisions the table leaves open, taken here:
//!
//! * `contains` on a list uses Python equality (`1 == 1.0 == True`, strings compare exactly).
//! * An invalid regular expression makes both `matches_regex` and `not_matches_regex` false (the
//!   rule never matches). Patterns use the `regex` crate's syntax: Python's look-around and
//!   back-references are not available and count as invalid.
//! * Date-times: RFC 3339 / ISO 8601 (`T` or space, optional seconds and fraction, `Z` or a
//!   `±HH:MM`/`±HHMM`/`±HH` offset) or a bare date (midnight). A value without an offset is taken
//!   as UTC, so naive and aware values compare (Python would raise).
//! * Lengths: the rule value must be an integer (a JSON integer, a float, which is truncated, a
//!   boolean or an integer string); any other rule value makes every `length_*` test false.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use regex::Regex;
use serde_json::Value;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;

/// Whether `operator(field_value, rule_value)` holds. An unknown operator never matches.
pub fn matches(operator: &str, field_value: &Value, rule_value: &Value) -> bool {
    let fv = field_value;
    let rv = rule_value;
    match operator {
        // presence
        "exists" => !fv.is_null(),
        "does_not_exist" => fv.is_null(),
        "is_empty" => is_empty(fv),
        "is_not_empty" => !is_empty(fv),
        // text
        "equals" => text_form(fv) == text_form(rv),
        "not_equals" => text_form(fv) != text_form(rv),
        "contains" => contains(fv, rv),
        "not_contains" => !contains(fv, rv),
        "starts_with" => text_form(fv).starts_with(&*text_form(rv)),
        "not_starts_with" => !text_form(fv).starts_with(&*text_form(rv)),
        "ends_with" => text_form(fv).ends_with(&*text_form(rv)),
        "not_ends_with" => !text_form(fv).ends_with(&*text_form(rv)),
        "matches_regex" => regex_search(&text_form(rv), &text_form(fv)).unwrap_or(false),
        "not_matches_regex" => {
            regex_search(&text_form(rv), &text_form(fv)).is_some_and(|found| !found)
        }
        // numbers
        "gt" => to_number(fv) > to_number(rv),
        "lt" => to_number(fv) < to_number(rv),
        "gte" => to_number(fv) >= to_number(rv),
        "lte" => to_number(fv) <= to_number(rv),
        // date-times
        "after" => compare_dates(fv, rv, |a, b| a > b),
        "before" => compare_dates(fv, rv, |a, b| a < b),
        "after_or_equal" => compare_dates(fv, rv, |a, b| a >= b),
        "before_or_equal" => compare_dates(fv, rv, |a, b| a <= b),
        // booleans
        "is_true" => is_true(fv),
        "is_false" => !is_true(fv),
        // lengths
        "length_eq" => compare_length(fv, rv, false, |l, n| l == n),
        "length_neq" => compare_length(fv, rv, true, |l, n| l != n),
        "length_gt" => compare_length(fv, rv, false, |l, n| l > n),
        "length_lt" => compare_length(fv, rv, false, |l, n| l < n),
        "length_gte" => compare_length(fv, rv, false, |l, n| l >= n),
        "length_lte" => compare_length(fv, rv, false, |l, n| l <= n),
        _ => false,
    }
}

/// The operators [`matches`] knows, for validation and UIs.
pub const OPERATORS: &[&str] = &[
    "exists",
    "does_not_exist",
    "is_empty",
    "is_not_empty",
    "equals",
    "not_equals",
    "contains",
    "not_contains",
    "starts_with",
    "not_starts_with",
    "ends_with",
    "not_ends_with",
    "matches_regex",
    "not_matches_regex",
    "gt",
    "lt",
    "gte",
    "lte",
    "after",
    "before",
    "after_or_equal",
    "before_or_equal",
    "is_true",
    "is_false",
    "length_eq",
    "length_neq",
    "length_gt",
    "length_lt",
    "length_gte",
    "length_lte",
];

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

fn contains(fv: &Value, rv: &Value) -> bool {
    match fv {
        Value::Array(items) => items.iter().any(|item| py_eq(item, rv)),
        _ => text_form(fv).contains(&*text_form(rv)),
    }
}

/// Python's `str(value)` of the JSON value as the reference sees it.
pub fn text_form(v: &Value) -> Cow<'_, str> {
    match v {
        Value::String(s) => Cow::Borrowed(s),
        Value::Null => Cow::Borrowed("None"),
        Value::Bool(true) => Cow::Borrowed("True"),
        Value::Bool(false) => Cow::Borrowed("False"),
        Value::Number(n) => Cow::Owned(number_text(n)),
        Value::Array(_) | Value::Object(_) => {
            let mut out = String::new();
            py_repr_into(v, &mut out);
            Cow::Owned(out)
        }
    }
}

/// Python's `repr(value)` of the JSON value (strings quoted, `None`, `True`, `[...]`, `{...}`).
pub fn py_repr(v: &Value) -> String {
    let mut out = String::new();
    py_repr_into(v, &mut out);
    out
}

fn py_repr_into(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => out.push_str(&py_str_repr(s)),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_repr_into(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&py_str_repr(k));
                out.push_str(": ");
                py_repr_into(item, out);
            }
            out.push('}');
        }
        other => out.push_str(&text_form(other)),
    }
}

fn number_text(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        py_float_repr(n.as_f64().unwrap_or(0.0))
    }
}

/// Python's `repr(float)`: shortest round-trip digits, always with a `.0` or an exponent;
/// scientific notation below 1e-4 and from 1e16 (`1e+16`, `1.5e-05`).
pub fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..16).contains(&exp) {
        let mut s = f.to_string();
        if !s.contains('.') {
            s.push_str(".0");
        }
        s
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    }
}

/// Python's `repr(str)`: single quotes unless the text has a `'` and no `"`.
pub fn py_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python `==` between JSON values: numbers and booleans compare numerically.
fn py_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Number(_) | Value::Bool(_), Value::Number(_) | Value::Bool(_)) => match (a, b) {
            (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
                (Some(i), Some(j)) => i == j,
                _ => match (x.as_u64(), y.as_u64()) {
                    (Some(i), Some(j)) => i == j,
                    _ => x.as_f64() == y.as_f64(),
                },
            },
            _ => scalar_number(a) == scalar_number(b),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, w)))
        }
        _ => false,
    }
}

fn scalar_number(v: &Value) -> Option<f64> {
    match v {
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// Python's `float(value)`, with 0 for anything it cannot parse.
fn to_number(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::String(s) => parse_py_float(s).unwrap_or(0.0),
        _ => 0.0,
    }
}

fn parse_py_float(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.contains('_') {
        // Python allows single underscores between digits (`1_000`).
        let bytes = s.as_bytes();
        let ok = bytes.iter().enumerate().all(|(i, &b)| {
            b != b'_'
                || (i > 0
                    && i + 1 < bytes.len()
                    && bytes[i - 1].is_ascii_digit()
                    && bytes[i + 1].is_ascii_digit())
        });
        return if ok {
            s.replace('_', "").parse().ok()
        } else {
            None
        };
    }
    s.parse().ok()
}

/// Whether the regex `pattern` is found in `text`; `None` when the pattern is invalid.
fn regex_search(pattern: &str, text: &str) -> Option<bool> {
    thread_local! {
        static CACHE: RefCell<HashMap<String, Option<Regex>>> = RefCell::new(HashMap::new());
    }
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if !cache.contains_key(pattern) {
            if cache.len() >= 128 {
                cache.clear();
            }
            let compiled = regex::RegexBuilder::new(pattern)
                .size_limit(1 << 22)
                .build()
                .ok();
            cache.insert(pattern.to_string(), compiled);
        }
        cache
            .get(pattern)
            .and_then(Option::as_ref)
            .map(|re| re.is_match(text))
    })
}

fn compare_dates(fv: &Value, rv: &Value, cmp: fn(DateTime<Utc>, DateTime<Utc>) -> bool) -> bool {
    match (
        parse_datetime(&text_form(fv)),
        parse_datetime(&text_form(rv)),
    ) {
        (Some(a), Some(b)) => cmp(a, b),
        _ => false,
    }
}

/// Parses an ISO-8601 date-time (`Z` accepted) or date; a value without offset is UTC.
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc));
    }
    let (body, zulu) = match s.strip_suffix('Z').or_else(|| s.strip_suffix('z')) {
        Some(body) => (body, true),
        None => (s, false),
    };
    const NAIVE: &[&str] = &[
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H",
        "%Y-%m-%d %H",
    ];
    if !zulu {
        const AWARE: &[&str] = &[
            "%Y-%m-%dT%H:%M:%S%.f%#z",
            "%Y-%m-%d %H:%M:%S%.f%#z",
            "%Y-%m-%dT%H:%M%#z",
            "%Y-%m-%d %H:%M%#z",
        ];
        for fmt in AWARE {
            if let Ok(dt) = DateTime::parse_from_str(body, fmt) {
                return Some(dt.with_timezone(&Utc));
            }
        }
    }
    for fmt in NAIVE {
        if let Ok(dt) = NaiveDateTime::parse_from_str(body, fmt) {
            return Some(dt.and_utc());
        }
    }
    if !zulu && let Ok(d) = NaiveDate::parse_from_str(body, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|dt| dt.and_utc());
    }
    None
}

/// Strings `true`/`1`/`yes` (any case) are true, other strings false; others by truthiness.
fn is_true(v: &Value) -> bool {
    match v {
        Value::String(s) => {
            let s = s.to_lowercase();
            s == "true" || s == "1" || s == "yes"
        }
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

fn compare_length(fv: &Value, rv: &Value, otherwise: bool, cmp: fn(i64, i64) -> bool) -> bool {
    let len = match fv {
        Value::String(s) => s.chars().count(),
        Value::Array(a) => a.len(),
        _ => return otherwise,
    };
    match to_integer(rv) {
        Some(n) => cmp(i64::try_from(len).unwrap_or(i64::MAX), n),
        None => false,
    }
}

/// Python's `int(value)`; `None` when it would raise.
fn to_integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            // `as` saturates; Python's int() of a finite float truncates toward zero.
            f.is_finite().then_some(f.trunc() as i64)
        }),
        Value::Bool(b) => Some(i64::from(*b)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn m(op: &str, fv: Value, rv: Value) -> bool {
        matches(op, &fv, &rv)
    }

    #[test]
    fn presence() {
        assert!(m("exists", json!(0), json!(null)));
        assert!(m("exists", json!(""), json!(null)));
        assert!(!m("exists", json!(null), json!(null)));
        assert!(m("does_not_exist", json!(null), json!("x")));
        assert!(!m("does_not_exist", json!(false), json!("x")));
        for empty in [json!(null), json!(""), json!([]), json!({})] {
            assert!(m("is_empty", empty.clone(), json!(null)), "{empty}");
            assert!(!m("is_not_empty", empty, json!(null)));
        }
        for full in [
            json!(0),
            json!(false),
            json!(" "),
            json!([null]),
            json!({"a": 1}),
        ] {
            assert!(!m("is_empty", full.clone(), json!(null)), "{full}");
            assert!(m("is_not_empty", full, json!(null)));
        }
    }

    #[test]
    fn text_forms_follow_python() {
        assert_eq!(text_form(&json!(true)), "True");
        assert_eq!(text_form(&json!(false)), "False");
        assert_eq!(text_form(&json!(null)), "None");
        assert_eq!(text_form(&json!(5)), "5");
        assert_eq!(text_form(&json!(-5)), "-5");
        assert_eq!(text_form(&json!(5.0)), "5.0");
        assert_eq!(text_form(&json!(0.1)), "0.1");
        assert_eq!(text_form(&json!(1e16)), "1e+16");
        assert_eq!(text_form(&json!(1.5e-5)), "1.5e-05");
        assert_eq!(text_form(&json!(0.0001)), "0.0001");
        assert_eq!(text_form(&json!(123456789.125)), "123456789.125");
        assert_eq!(text_form(&json!(u64::MAX)), "18446744073709551615");
        assert_eq!(
            text_form(&json!(["a", 1, true, null])),
            "['a', 1, True, None]"
        );
        assert_eq!(text_form(&json!({"k": "it's"})), "{'k': \"it's\"}");
        assert_eq!(py_str_repr("a\n'\"b"), "'a\\n\\'\"b'");
        assert_eq!(py_float_repr(-0.0), "-0.0");
        assert_eq!(
            py_float_repr(1.2345678901234568e17),
            "1.2345678901234568e+17"
        );
    }

    #[test]
    fn equals_uses_text_forms() {
        assert!(m("equals", json!("refund"), json!("refund")));
        assert!(!m("equals", json!("Refund"), json!("refund")));
        assert!(m("equals", json!(true), json!("True")));
        assert!(!m("equals", json!(true), json!("true")));
        assert!(m("equals", json!(true), json!(true)));
        assert!(m("equals", json!(null), json!("None")));
        assert!(m("equals", json!(5), json!("5")));
        assert!(!m("equals", json!(5.0), json!("5")));
        assert!(m("equals", json!(5.0), json!("5.0")));
        assert!(m("not_equals", json!("a"), json!("b")));
        assert!(!m("not_equals", json!(3), json!("3")));
    }

    #[test]
    fn contains_on_lists_and_text() {
        assert!(m("contains", json!("I want a refund"), json!("refund")));
        assert!(!m("contains", json!("I want a Refund"), json!("refund")));
        assert!(m("contains", json!(["a", "b"]), json!("b")));
        assert!(!m("contains", json!(["ab", "c"]), json!("b")));
        assert!(m("contains", json!([1, 2]), json!(2.0)));
        assert!(m("contains", json!([1, 2]), json!(true)));
        assert!(!m("contains", json!([1, 2]), json!("1")));
        assert!(m("contains", json!([{"a": [1]}]), json!({"a": [1]})));
        assert!(m("contains", json!(12345), json!("234")));
        assert!(m("contains", json!(true), json!("ru")));
        assert!(m("contains", json!({"key": "v"}), json!("'key'")));
        assert!(m("contains", json!("abc"), json!("")));
        assert!(m("not_contains", json!(["a"]), json!("b")));
        assert!(!m("not_contains", json!("abc"), json!("b")));
    }

    #[test]
    fn prefixes_and_suffixes() {
        assert!(m("starts_with", json!("hello world"), json!("hello")));
        assert!(!m("starts_with", json!("hello world"), json!("world")));
        assert!(m("not_starts_with", json!("hello"), json!("x")));
        assert!(m("ends_with", json!("report.pdf"), json!(".pdf")));
        assert!(!m("not_ends_with", json!("report.pdf"), json!(".pdf")));
        assert!(m("starts_with", json!(true), json!("Tr")));
        assert!(m("ends_with", json!(10), json!("0")));
        assert!(m("starts_with", json!(null), json!("No")));
    }

    #[test]
    fn regexes() {
        assert!(m("matches_regex", json!("order #1234"), json!(r"#\d+")));
        assert!(!m("matches_regex", json!("order"), json!(r"^\d+$")));
        assert!(m("not_matches_regex", json!("order"), json!(r"^\d+$")));
        assert!(!m("not_matches_regex", json!("order 1"), json!(r"\d")));
        assert!(m("matches_regex", json!(42), json!(r"^42$")));
        assert!(m("matches_regex", json!(false), json!("^False$")));
        // Invalid patterns never match, either way.
        assert!(!m("matches_regex", json!("(("), json!("((")));
        assert!(!m("not_matches_regex", json!("x"), json!("((")));
        assert!(!m("matches_regex", json!("ab"), json!("(?=a)")));
        // The cache keeps answers right when reused.
        for _ in 0..3 {
            assert!(m("matches_regex", json!("abc"), json!("b")));
            assert!(!m("matches_regex", json!("xyz"), json!("b")));
        }
    }

    #[test]
    fn numbers() {
        assert!(m("gt", json!(5), json!(3)));
        assert!(m("gt", json!("5"), json!("3.5")));
        assert!(!m("gt", json!(3), json!(3)));
        assert!(m("gte", json!(3), json!("3")));
        assert!(m("lt", json!(" 2.5 "), json!(3)));
        assert!(m("lte", json!(3.0), json!(3)));
        assert!(m("gt", json!("1e3"), json!(999)));
        assert!(m("gt", json!("1_000"), json!(999)));
        assert!(!m("gt", json!("1__000"), json!(999)));
        assert!(m("gt", json!(true), json!(0)));
        // An unparseable side counts as 0.
        assert!(m("gt", json!(1), json!("abc")));
        assert!(m("lt", json!("abc"), json!(1)));
        assert!(m("gte", json!(null), json!(0)));
        assert!(m("lte", json!([1, 2]), json!(0)));
        assert!(!m("gt", json!("x"), json!("y")));
        assert!(m("lt", json!(-1), json!(null)));
    }

    #[test]
    fn date_times() {
        assert!(m(
            "after",
            json!("2024-05-01T10:00:00Z"),
            json!("2024-05-01T09:59:59Z")
        ));
        assert!(m(
            "before",
            json!("2024-05-01"),
            json!("2024-05-01T00:00:01")
        ));
        assert!(m(
            "after_or_equal",
            json!("2024-05-01T10:00:00+02:00"),
            json!("2024-05-01T08:00:00Z")
        ));
        assert!(m(
            "before_or_equal",
            json!("2024-05-01T08:00:00Z"),
            json!("2024-05-01T10:00:00+02:00")
        ));
        assert!(!m(
            "after",
            json!("2024-05-01T08:00:00Z"),
            json!("2024-05-01 10:00:00+0200")
        ));
        assert!(m(
            "after",
            json!("2024-05-01T10:00:00.5Z"),
            json!("2024-05-01T10:00:00.25Z")
        ));
        assert!(m(
            "before",
            json!("2024-05-01 10:00"),
            json!("2024-05-01T10:01:00z")
        ));
        assert!(m(
            "after",
            json!("2024-05-01T10:00:00+05"),
            json!("2024-05-01T04:00:00Z")
        ));
        // Either side unparseable: false, whatever the operator.
        for op in ["after", "before", "after_or_equal", "before_or_equal"] {
            assert!(!m(op, json!("yesterday"), json!("2024-05-01")), "{op}");
            assert!(!m(op, json!("2024-05-01"), json!(null)), "{op}");
            assert!(!m(op, json!(1714550400), json!("2024-05-01")), "{op}");
            assert!(!m(op, json!("2024-13-01"), json!("2024-05-01")), "{op}");
        }
    }

    #[test]
    fn booleans() {
        for t in [
            json!("true"),
            json!("TRUE"),
            json!("1"),
            json!("Yes"),
            json!(true),
            json!(1),
            json!(0.5),
            json!([0]),
        ] {
            assert!(m("is_true", t.clone(), json!(null)), "{t}");
            assert!(!m("is_false", t, json!(null)));
        }
        for f in [
            json!("false"),
            json!("no"),
            json!(" yes"),
            json!(""),
            json!(false),
            json!(0),
            json!(null),
            json!({}),
        ] {
            assert!(!m("is_true", f.clone(), json!(null)), "{f}");
            assert!(m("is_false", f, json!(null)));
        }
    }

    #[test]
    fn lengths() {
        assert!(m("length_eq", json!([1, 2, 3]), json!(3)));
        assert!(m("length_eq", json!("héllo"), json!("5")));
        assert!(m("length_neq", json!("abc"), json!(2)));
        assert!(!m("length_neq", json!("abc"), json!(3)));
        assert!(m("length_gt", json!([1, 2]), json!(1)));
        assert!(m("length_lt", json!(""), json!(1)));
        assert!(m("length_gte", json!([1]), json!(1.9)));
        assert!(m("length_lte", json!("ab"), json!(" 2 ")));
        // Not a list or a string: false, except length_neq.
        for op in [
            "length_eq",
            "length_gt",
            "length_lt",
            "length_gte",
            "length_lte",
        ] {
            assert!(!m(op, json!({"a": 1}), json!(1)), "{op}");
            assert!(!m(op, json!(null), json!(0)), "{op}");
            assert!(!m(op, json!(123), json!(3)), "{op}");
        }
        assert!(m("length_neq", json!(null), json!(0)));
        assert!(m("length_neq", json!(123), json!(3)));
        // A rule value that is not an integer: false.
        assert!(!m("length_eq", json!("ab"), json!("two")));
        assert!(!m("length_neq", json!("ab"), json!("two")));
    }

    #[test]
    fn unknown_operators_never_match() {
        assert!(!m("equal", json!("a"), json!("a")));
        assert!(!m("", json!(null), json!(null)));
        assert!(!m("EQUALS", json!("a"), json!("a")));
        for op in OPERATORS {
            // Every listed operator is known: at least one of a few probes decides it without panic.
            let _ = m(op, json!("x"), json!("x"));
        }
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|i| json!(i)),
            (-1e20f64..1e20).prop_map(|f| json!(f)),
            "[a-zA-Z0-9 _.:-]{0,12}".prop_map(Value::String),
            prop_oneof![
                Just("True"),
                Just("None"),
                Just("2024-05-01T10:00:00Z"),
                Just("1")
            ]
            .prop_map(|s| json!(s)),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z]{1,3}", inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn negated_pairs_are_complementary(fv in arb_json(), rv in arb_json()) {
            for (op, neg) in [
                ("equals", "not_equals"),
                ("exists", "does_not_exist"),
                ("is_empty", "is_not_empty"),
                ("contains", "not_contains"),
                ("starts_with", "not_starts_with"),
                ("ends_with", "not_ends_with"),
                ("is_true", "is_false"),
            ] {
                prop_assert_ne!(matches(op, &fv, &rv), matches(neg, &fv, &rv), "{} / {}", op, neg);
            }
        }

        #[test]
        fn number_order_is_consistent(a in -1e9f64..1e9, b in -1e9f64..1e9) {
            let (fa, fb) = (json!(a), json!(b.to_string()));
            prop_assert_eq!(matches("gt", &fa, &fb), !matches("lte", &fa, &fb));
            prop_assert_eq!(matches("lt", &fa, &fb), !matches("gte", &fa, &fb));
            prop_assert_eq!(matches("gt", &fa, &fb), a > b);
        }

        #[test]
        fn equals_is_reflexive(v in arb_json()) {
            prop_assert!(matches("equals", &v, &v));
            prop_assert!(matches("contains", &json!([v.clone()]), &v));
        }

        #[test]
        fn length_eq_and_neq_are_complementary_on_text(s in ".{0,20}", n in 0i64..25) {
            let fv = json!(s);
            prop_assert_ne!(matches("length_eq", &fv, &json!(n)), matches("length_neq", &fv, &json!(n)));
        }
    }
}
