//! A YAML value tree that remembers where each node came from, so an error about a step or a
//! key can name its line and column. serde-saphyr hands out locations through `Spanned<T>`;
//! [`Located`] wraps every node of the tree in one.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use serde_saphyr::Spanned;
use std::fmt;

/// Where a node starts (1-based); `None` when the parser could not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: Option<usize>,
    pub column: Option<usize>,
}

/// One YAML node and its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub value: Yaml,
    pub pos: Pos,
}

/// The shapes a YAML node can take after scalar resolution.
#[derive(Debug, Clone, PartialEq)]
pub enum Yaml {
    Null,
    Bool(bool),
    Int(i64),
    /// Integers above `i64::MAX` and floats.
    Float(f64),
    Str(String),
    Seq(Vec<Located>),
    /// Keys in document order; a repeated key keeps its last value (as YAML loaders do).
    Map(Vec<(String, Located)>),
}

impl Located {
    pub fn get(&self, key: &str) -> Option<&Located> {
        match &self.value {
            Yaml::Map(entries) => entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Yaml::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_map(&self) -> Option<&[(String, Located)]> {
        match &self.value {
            Yaml::Map(entries) => Some(entries),
            _ => None,
        }
    }
    pub fn as_seq(&self) -> Option<&[Located]> {
        match &self.value {
            Yaml::Seq(items) => Some(items),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self.value, Yaml::Null)
    }

    /// The name Python gives this value's type (dsl.md §6 error texts).
    pub fn python_type_name(&self) -> &'static str {
        match self.value {
            Yaml::Null => "NoneType",
            Yaml::Bool(_) => "bool",
            Yaml::Int(_) => "int",
            Yaml::Float(_) => "float",
            Yaml::Str(_) => "str",
            Yaml::Seq(_) => "list",
            Yaml::Map(_) => "dict",
        }
    }

    /// Python truthiness: the reference copies some keys "when truthy".
    pub fn is_truthy(&self) -> bool {
        match &self.value {
            Yaml::Null => false,
            Yaml::Bool(b) => *b,
            Yaml::Int(i) => *i != 0,
            Yaml::Float(f) => *f != 0.0,
            Yaml::Str(s) => !s.is_empty(),
            Yaml::Seq(v) => !v.is_empty(),
            Yaml::Map(m) => !m.is_empty(),
        }
    }

    /// The node as JSON (positions dropped); non-finite floats become null.
    pub fn to_json(&self) -> Value {
        match &self.value {
            Yaml::Null => Value::Null,
            Yaml::Bool(b) => Value::Bool(*b),
            Yaml::Int(i) => Value::from(*i),
            Yaml::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Yaml::Str(s) => Value::String(s.clone()),
            Yaml::Seq(items) => Value::Array(items.iter().map(Located::to_json).collect()),
            Yaml::Map(entries) => {
                let mut map = Map::new();
                for (k, v) in entries {
                    map.insert(k.clone(), v.to_json());
                }
                Value::Object(map)
            }
        }
    }

    /// A tree built from JSON (no positions), for callers that hold JSON rather than text.
    pub fn from_json(value: &Value) -> Located {
        let value = match value {
            Value::Null => Yaml::Null,
            Value::Bool(b) => Yaml::Bool(*b),
            Value::Number(n) => n
                .as_i64()
                .map_or(Yaml::Float(n.as_f64().unwrap_or(0.0)), Yaml::Int),
            Value::String(s) => Yaml::Str(s.clone()),
            Value::Array(items) => Yaml::Seq(items.iter().map(Located::from_json).collect()),
            Value::Object(map) => Yaml::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), Located::from_json(v)))
                    .collect(),
            ),
        };
        Located {
            value,
            pos: Pos::default(),
        }
    }

    /// The scalar as text, as a map key sees it.
    fn key_text(&self) -> String {
        match &self.value {
            Yaml::Null => "null".into(),
            Yaml::Bool(b) => b.to_string(),
            Yaml::Int(i) => i.to_string(),
            Yaml::Float(f) => f.to_string(),
            Yaml::Str(s) => s.clone(),
            other => format!("{other:?}"),
        }
    }
}

impl<'de> Deserialize<'de> for Located {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Bare>::deserialize(d)?;
        let line = spanned.referenced.line();
        let column = spanned.referenced.column();
        // Line 0 is serde-saphyr's "unknown".
        let pos = if line == 0 {
            Pos::default()
        } else {
            Pos {
                line: Some(line as usize),
                column: Some(column as usize),
            }
        };
        Ok(Located {
            value: spanned.value.0,
            pos,
        })
    }
}

/// A node without its own position (its children carry theirs).
struct Bare(Yaml);

impl<'de> Deserialize<'de> for Bare {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BareVisitor)
    }
}

struct BareVisitor;

impl<'de> Visitor<'de> for BareVisitor {
    type Value = Bare;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Bare, E> {
        Ok(Bare(Yaml::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Bare, E> {
        Ok(Bare(Yaml::Int(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Bare, E> {
        Ok(Bare(
            i64::try_from(v).map_or(Yaml::Float(v as f64), Yaml::Int),
        ))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Bare, E> {
        Ok(Bare(
            i64::try_from(v).map_or(Yaml::Float(v as f64), Yaml::Int),
        ))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Bare, E> {
        Ok(Bare(
            i64::try_from(v).map_or(Yaml::Float(v as f64), Yaml::Int),
        ))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Bare, E> {
        Ok(Bare(Yaml::Float(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Bare, E> {
        Ok(Bare(Yaml::Str(v.to_string())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Bare, E> {
        Ok(Bare(Yaml::Str(v)))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Bare, E> {
        Ok(Bare(Yaml::Str(String::from_utf8_lossy(v).into_owned())))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Bare, E> {
        Ok(Bare(Yaml::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<Bare, E> {
        Ok(Bare(Yaml::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Bare, D::Error> {
        Bare::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Bare, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Located>()? {
            items.push(item);
        }
        Ok(Bare(Yaml::Seq(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Bare, A::Error> {
        let mut entries: Vec<(String, Located)> = Vec::new();
        while let Some(key) = map.next_key::<Located>()? {
            let value = map.next_value::<Located>()?;
            let key = key.key_text();
            // A repeated key: the last one wins, in the first one's place.
            if let Some(slot) = entries.iter_mut().find(|(k, _)| *k == key) {
                slot.1 = value;
            } else {
                entries.push((key, value));
            }
        }
        Ok(Bare(Yaml::Map(entries)))
    }
}

/// Why the text is not YAML, with the parser's position when it gave one.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub message: String,
    pub pos: Pos,
}

/// Parses YAML (JSON is YAML) into a located tree. An empty document is `Null`.
pub fn load(text: &str) -> Result<Located, SyntaxError> {
    if text.trim().is_empty() {
        return Ok(Located {
            value: Yaml::Null,
            pos: Pos::default(),
        });
    }
    serde_saphyr::from_str::<Located>(text).map_err(|e| {
        let inner = e.without_snippet();
        let pos = inner
            .location()
            .filter(|l| l.line() > 0)
            .map(|l| Pos {
                line: Some(l.line() as usize),
                column: Some(l.column() as usize),
            })
            .unwrap_or_default();
        // The parser appends " at line L, column C"; the position is kept apart instead.
        let mut message = inner.to_string();
        if let Some(cut) = message.rfind(" at line ") {
            message.truncate(cut);
        }
        SyntaxError { message, pos }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions_of_nested_nodes() {
        let doc = load("name: x\nsteps:\n  - id: a\n    type: code\n").unwrap();
        let steps = doc.get("steps").unwrap().as_seq().unwrap();
        assert_eq!(steps[0].pos.line, Some(3));
        let ty = steps[0].get("type").unwrap();
        assert_eq!(ty.as_str(), Some("code"));
        assert_eq!(ty.pos.line, Some(4));
        assert_eq!(ty.pos.column, Some(11));
    }

    #[test]
    fn scalars_resolve_like_yaml() {
        let doc = load("a: 1\nb: 2.5\nc: true\nd: ~\ne: hi\nf: '1'\n").unwrap();
        assert_eq!(
            doc.to_json(),
            serde_json::json!({"a": 1, "b": 2.5, "c": true, "d": null, "e": "hi", "f": "1"})
        );
    }

    #[test]
    fn json_is_yaml() {
        let doc = load(r#"{"name": "x", "steps": [{"type": "code"}]}"#).unwrap();
        assert_eq!(doc.get("name").unwrap().as_str(), Some("x"));
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let err = load("name: x\nsteps:\n  - {id: a\n").unwrap_err();
        assert_eq!(err.message, "unclosed bracket '{'");
        assert_eq!(err.pos.line, Some(3));
        assert_eq!(err.pos.column, Some(5));
    }
}
