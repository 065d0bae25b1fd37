//! [`DslError`]: one problem in a document, with the spec's exact text and where it is.

use crate::yaml::Pos;
use std::fmt;

/// Which stage found the problem; the validation endpoint prefixes texts by it
/// (`Parse error: …`, `Model resolution error: …`, `Graph build error: …`, dsl.md §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// §1–2: the document's shape (also YAML syntax).
    Parse,
    /// §3–6, §10, §12 and the graph checks of §0.
    Build,
    /// §7: a model spec could not be resolved.
    Model,
}

/// One error. `message` is the spec's text alone; [`fmt::Display`] appends the position.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DslError {
    pub kind: ErrorKind,
    pub message: String,
    /// The step (or patch target) the error is about, when there is one.
    pub step_id: Option<String>,
    /// The key the error is about, when there is one.
    pub key: Option<String>,
    /// 1-based line and column in the YAML text, where known.
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl DslError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        DslError {
            kind,
            message: message.into(),
            step_id: None,
            key: None,
            line: None,
            column: None,
        }
    }
    pub fn parse(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Parse, message)
    }
    pub fn build(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Build, message)
    }
    pub fn model(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Model, message)
    }
    pub fn step(mut self, id: impl Into<String>) -> Self {
        self.step_id = Some(id.into());
        self
    }
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }
    /// Sets the position unless one is already known (the innermost node wins).
    pub fn at(mut self, pos: Pos) -> Self {
        if self.line.is_none() {
            self.line = pos.line;
            self.column = pos.column;
        }
        self
    }

    /// The text with the stage prefix of the validation endpoint (dsl.md §9).
    pub fn prefixed(&self) -> String {
        let prefix = match self.kind {
            ErrorKind::Parse => "Parse error",
            ErrorKind::Build => "Graph build error",
            ErrorKind::Model => "Model resolution error",
        };
        format!("{prefix}: {self}")
    }
}

impl fmt::Display for DslError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, " (line {l}, column {c})"),
            (Some(l), None) => write!(f, " (line {l})"),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for DslError {}

/// The texts of `errors`, first one first (the `errors` list of dsl.md §8).
pub fn texts(errors: &[DslError]) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}
