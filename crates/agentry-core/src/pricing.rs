//! Token prices and cost (engine.md §10, api.md §7).
//!
//! `cost_usd = (input_tokens × in_rate + output_tokens × out_rate) / 1 000 000`, with the rates
//! ($ per one million tokens) chosen by the model name, lower-cased, by the **longest matching
//! prefix**. An LLM credential's `detail.pricing` (`{"<model prefix>": {"input", "output"}}`) is
//! consulted first; only when none of its prefixes match does the built-in [`BUILTIN_RATES`]
//! table apply. No match, or no model name, costs 0 (tokens still count elsewhere).
//!
//! Decisions the spec leaves open, taken here:
//!
//! * Override prefixes are lower-cased like model names, so `"GPT-4o"` and `"gpt-4o"` are the
//!   same prefix. An empty override prefix matches every (non-empty) model name: a catch-all.
//! * An override entry must be an object; a missing `input` or `output` counts as 0, a rate may
//!   be a JSON number or a numeric string, and an entry that is not an object, or whose rates are
//!   neither, is ignored (so a typo cannot make a model free by accident: the table applies).
//! * Among equally long matching override prefixes (only possible when two keys differ only in
//!   case) the first in the object's order wins.

use serde_json::Value;

/// The built-in rates of engine.md §10: `(model prefix, $ per 1M input tokens, $ per 1M output
/// tokens)`. Order does not matter: the longest matching prefix wins.
pub const BUILTIN_RATES: &[(&str, f64, f64)] = &[
    ("gpt-4o-mini", 0.15, 0.60),
    ("gpt-4o", 2.50, 10.00),
    ("gpt-4-turbo", 10.00, 30.00),
    ("gpt-4", 30.00, 60.00),
    ("gpt-3.5-turbo", 0.50, 1.50),
    ("o3-mini", 1.10, 4.40),
    ("o1-mini", 3.00, 12.00),
    ("o1", 15.00, 60.00),
    ("claude-3-5-sonnet", 3.00, 15.00),
    ("claude-3-5-haiku", 0.80, 4.00),
    ("claude-3-opus", 15.00, 75.00),
    ("claude-sonnet-4", 3.00, 15.00),
    ("claude-opus-4", 15.00, 75.00),
];

/// `(input, output)` rates in $ per 1M tokens for `model`: the longest matching prefix of
/// `overrides` (a credential's `detail.pricing`; anything but an object means none), else of
/// [`BUILTIN_RATES`]; `None` when nothing matches or the name is empty.
pub fn rates(model: &str, overrides: &Value) -> Option<(f64, f64)> {
    let model = model.trim().to_lowercase();
    if model.is_empty() {
        return None;
    }
    let from_overrides = overrides.as_object().and_then(|map| {
        longest_prefix_match(
            &model,
            map.iter().filter_map(|(prefix, entry)| {
                Some((prefix.to_lowercase(), override_rates(entry)?))
            }),
        )
    });
    from_overrides.or_else(|| {
        longest_prefix_match(
            &model,
            BUILTIN_RATES
                .iter()
                .map(|&(prefix, input, output)| (prefix.to_string(), (input, output))),
        )
    })
}

/// The cost in USD of one call (or a sum of calls) to `model`; 0 when no rate matches.
pub fn cost_usd(model: &str, input_tokens: u64, output_tokens: u64, overrides: &Value) -> f64 {
    match rates(model, overrides) {
        Some((input_rate, output_rate)) => {
            (input_tokens as f64 * input_rate + output_tokens as f64 * output_rate) / 1_000_000.0
        }
        None => 0.0,
    }
}

/// The value of the longest `prefix` that `model` starts with; the first of equals wins.
fn longest_prefix_match<T>(
    model: &str,
    entries: impl IntoIterator<Item = (String, T)>,
) -> Option<T> {
    let mut best: Option<(usize, T)> = None;
    for (prefix, value) in entries {
        if model.starts_with(prefix.as_str())
            && best.as_ref().is_none_or(|(len, _)| prefix.len() > *len)
        {
            best = Some((prefix.len(), value));
        }
    }
    best.map(|(_, value)| value)
}

fn override_rates(entry: &Value) -> Option<(f64, f64)> {
    let map = entry.as_object()?;
    let rate = |key: &str| -> Option<Option<f64>> {
        match map.get(key) {
            None | Some(Value::Null) => Some(None),
            Some(Value::Number(n)) => n.as_f64().map(Some),
            Some(Value::String(s)) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|r| r.is_finite())
                .map(Some),
            Some(_) => None,
        }
    };
    let (input, output) = (rate("input")?, rate("output")?);
    if input.is_none() && output.is_none() {
        return None;
    }
    Some((input.unwrap_or(0.0), output.unwrap_or(0.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn builtin_longest_prefix() {
        let none = Value::Null;
        assert_eq!(rates("gpt-4o-mini-2024-07-18", &none), Some((0.15, 0.60)));
        assert_eq!(rates("gpt-4o-2024-08-06", &none), Some((2.50, 10.00)));
        assert_eq!(rates("gpt-4-turbo-preview", &none), Some((10.00, 30.00)));
        assert_eq!(rates("gpt-4-0613", &none), Some((30.00, 60.00)));
        assert_eq!(rates("o1-mini", &none), Some((3.00, 12.00)));
        assert_eq!(rates("o1-preview", &none), Some((15.00, 60.00)));
        assert_eq!(
            rates("claude-3-5-haiku-20241022", &none),
            Some((0.80, 4.00))
        );
        assert_eq!(
            rates("claude-sonnet-4-20250514", &none),
            Some((3.00, 15.00))
        );
        assert_eq!(rates("claude-opus-4-1", &none), Some((15.00, 75.00)));
    }

    #[test]
    fn model_names_are_lower_cased() {
        assert_eq!(rates("GPT-4o-Mini", &Value::Null), Some((0.15, 0.60)));
        assert_eq!(
            rates("  Claude-3-Opus-latest ", &Value::Null),
            Some((15.00, 75.00))
        );
    }

    #[test]
    fn no_match_or_no_name_costs_nothing() {
        assert_eq!(rates("llama3.1:8b", &Value::Null), None);
        assert_eq!(rates("", &Value::Null), None);
        assert_eq!(cost_usd("llama3.1:8b", 1000, 1000, &Value::Null), 0.0);
        assert_eq!(
            cost_usd("", 1000, 1000, &json!({"": {"input": 1, "output": 1}})),
            0.0
        );
    }

    #[test]
    fn cost_formula() {
        // 1000 × 2.50 + 500 × 10.00 = 7500 → 0.0075
        let cost = cost_usd("gpt-4o", 1000, 500, &Value::Null);
        assert!((cost - 0.0075).abs() < 1e-12, "{cost}");
        let cost = cost_usd("claude-3-opus", 2_000_000, 1_000_000, &json!({}));
        assert!((cost - 105.0).abs() < 1e-9, "{cost}");
    }

    #[test]
    fn overrides_win_over_the_table() {
        let overrides = json!({"gpt-4o": {"input": 1.0, "output": 2.0}});
        assert_eq!(rates("gpt-4o-mini", &overrides), Some((1.0, 2.0)));
        assert_eq!(rates("gpt-4-turbo", &overrides), Some((10.00, 30.00)));
        let overrides = json!({"llama": {"input": "0.1", "output": 0.2}, "LLAMA3": {"input": 0.3}});
        assert_eq!(rates("llama3.1:8b", &overrides), Some((0.3, 0.0)));
        assert_eq!(rates("llama2", &overrides), Some((0.1, 0.2)));
        let cost = cost_usd("llama3", 1_000_000, 1_000_000, &overrides);
        assert!((cost - 0.3).abs() < 1e-12, "{cost}");
    }

    #[test]
    fn catch_all_override_and_broken_entries() {
        let overrides =
            json!({"": {"input": 1, "output": 1}, "gpt-4o": "cheap", "o1": {"input": true}});
        assert_eq!(rates("anything", &overrides), Some((1.0, 1.0)));
        // broken entries are ignored: the catch-all matches before the table is consulted
        assert_eq!(rates("gpt-4o", &overrides), Some((1.0, 1.0)));
        let overrides = json!({"gpt-4o": {}, "o1": {"input": "x"}});
        assert_eq!(rates("gpt-4o", &overrides), Some((2.50, 10.00)));
        assert_eq!(rates("o1", &overrides), Some((15.00, 60.00)));
        assert_eq!(rates("o1", &json!([1, 2])), Some((15.00, 60.00)));
    }

    #[test]
    fn builtin_prefixes_are_lower_case_and_distinct() {
        for (i, (prefix, ..)) in BUILTIN_RATES.iter().enumerate() {
            assert_eq!(*prefix, prefix.to_lowercase());
            assert!(
                BUILTIN_RATES[i + 1..]
                    .iter()
                    .all(|(other, ..)| other != prefix)
            );
        }
    }

    fn table() -> impl Strategy<Value = Vec<(String, u32)>> {
        prop::collection::vec(("[ab]{0,4}", 0u32..1000), 0..12)
    }

    proptest! {
        /// Longest prefix wins, whatever the order of the table.
        #[test]
        fn longest_prefix_wins_regardless_of_order(
            entries in table(),
            model in "[ab]{0,6}",
            seed in any::<u64>(),
        ) {
            // keep one value per prefix so the expected answer is unique
            let mut unique: Vec<(String, u32)> = Vec::new();
            for (p, v) in entries {
                if !unique.iter().any(|(q, _)| *q == p) {
                    unique.push((p, v));
                }
            }
            let expected = unique
                .iter()
                .filter(|(p, _)| model.starts_with(p.as_str()))
                .max_by_key(|(p, _)| p.len())
                .map(|(_, v)| *v);
            let mut shuffled = unique.clone();
            // a deterministic shuffle driven by the seed
            let mut state = seed;
            for i in (1..shuffled.len()).rev() {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (state >> 33) as usize % (i + 1));
            }
            prop_assert_eq!(longest_prefix_match(&model, unique.clone()), expected);
            prop_assert_eq!(longest_prefix_match(&model, shuffled.clone()), expected);
            shuffled.reverse();
            prop_assert_eq!(longest_prefix_match(&model, shuffled), expected);
        }

        /// Through the public API: overrides built from the table in any key order give the
        /// same rates as the built-in table itself.
        #[test]
        fn overrides_equal_to_the_table_agree_with_it(
            idx in 0..BUILTIN_RATES.len(),
            suffix in "[a-z0-9-]{0,8}",
            rev in any::<bool>(),
        ) {
            let model = format!("{}{}", BUILTIN_RATES[idx].0, suffix);
            let mut entries: Vec<_> = BUILTIN_RATES.to_vec();
            if rev {
                entries.reverse();
            }
            let overrides: serde_json::Map<String, Value> = entries
                .iter()
                .map(|(p, i, o)| (p.to_uppercase(), json!({"input": i, "output": o})))
                .collect();
            let overrides = Value::Object(overrides);
            prop_assert_eq!(rates(&model, &overrides), rates(&model, &Value::Null));
            prop_assert!(rates(&model, &Value::Null).is_some());
        }
    }
}
