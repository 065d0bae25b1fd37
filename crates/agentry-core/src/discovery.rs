//! Workflow discovery (discovery.md): capability extraction from a workflow's nodes and edges,
//! the requirement parser, the score, the recommendation tier, gap lists and the result order.
//! Pure: the store hands in node/edge facts, tags, descriptions, success rates and text ranks.

use crate::node_types::{self, Kind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::BTreeSet;

/// Weights of discovery.md §4.
pub const W_CAPABILITY: f64 = 0.8;
pub const W_TAGS: f64 = 0.1;
pub const W_RELIABILITY: f64 = 0.1;
/// The description / query bonus (§4, "agentry additions"), once, capped at 1.0.
pub const TEXT_BONUS: f64 = 0.05;
/// Tier thresholds (§5) on the unrounded score.
pub const REUSE_AT: f64 = 0.95;
pub const FORK_AT: f64 = 0.50;
/// Float sums such as 0.8 + 0.1 + 0.05 land a hair off the decimal value; tiers compare with
/// this slack so the spec's worked scores reach their tiers.
const EPS: f64 = 1e-9;

/// What discovery needs from one node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeFacts {
    pub node_id: String,
    pub component_type: String,
    /// `config.model_name` of an `ai_model` node.
    pub model_name: Option<String>,
    /// `extra_config.conversation_memory = true` on an agent node.
    pub conversation_memory: bool,
}

/// What discovery needs from one edge.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeFacts {
    pub source: String,
    pub target: String,
    pub edge_label: String,
}

/// A workflow's capabilities (§2); every list de-duplicated and sorted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Capabilities {
    pub triggers: Vec<String>,
    pub node_types: Vec<String>,
    pub tools: Vec<String>,
    pub model_names: Vec<String>,
    pub has_memory: bool,
}

/// Required-minus-present or present-minus-required per category (§6).
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Gaps {
    pub triggers: Vec<String>,
    pub node_types: Vec<String>,
    pub tools: Vec<String>,
}

/// Extracts §2's capabilities (agentry's tool rule: every tool node type is a tool; an
/// `http_request` node only while an end of a `tool` edge).
pub fn extract(nodes: &[NodeFacts], edges: &[EdgeFacts]) -> Capabilities {
    let mut triggers = BTreeSet::new();
    let mut types = BTreeSet::new();
    let mut tools = BTreeSet::new();
    let mut models = BTreeSet::new();
    let mut has_memory = false;
    for n in nodes {
        let ct = n.component_type.as_str();
        if let Some(name) = ct.strip_prefix("trigger_") {
            if edges
                .iter()
                .any(|e| e.source == n.node_id && e.edge_label.is_empty())
            {
                triggers.insert(name.to_string());
            }
            continue;
        }
        if matches!(ct, "memory_read" | "memory_write") || n.conversation_memory {
            has_memory = true;
        }
        if ct == "ai_model" {
            if let Some(m) = n.model_name.as_deref().filter(|m| !m.is_empty()) {
                models.insert(m.to_string());
            }
            continue;
        }
        if ct == "http_request" {
            let wired = edges.iter().any(|e| {
                e.edge_label == "tool" && (e.source == n.node_id || e.target == n.node_id)
            });
            if wired {
                tools.insert(ct.to_string());
            } else {
                types.insert(ct.to_string());
            }
            continue;
        }
        match node_types::get(ct).map(|s| s.kind) {
            Some(Kind::Tool) => {
                tools.insert(ct.to_string());
            }
            Some(Kind::SubComponent) => {}
            _ => {
                types.insert(ct.to_string());
            }
        }
    }
    Capabilities {
        triggers: triggers.into_iter().collect(),
        node_types: types.into_iter().collect(),
        tools: tools.into_iter().collect(),
        model_names: models.into_iter().collect(),
        has_memory,
    }
}

/// The requirements object (§1 plus "agentry additions").
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Requirements {
    pub triggers: BTreeSet<String>,
    pub node_types: BTreeSet<String>,
    pub tools: BTreeSet<String>,
    pub model_capability: Option<String>,
    pub model: Option<String>,
    pub memory: bool,
    pub tags: BTreeSet<String>,
    pub description: Option<String>,
    pub query: Option<String>,
}

/// A bad requirement: the offending key and why.
#[derive(Debug, Clone, PartialEq)]
pub struct RequirementError {
    pub field: String,
    pub reason: String,
}

impl std::fmt::Display for RequirementError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

fn bad(field: &str, reason: &str) -> RequirementError {
    RequirementError {
        field: format!("requirements.{field}"),
        reason: reason.to_string(),
    }
}

/// A list of strings: a JSON array of strings, or one string (a JSON array in a string, else
/// comma-separated, as tools.md §8's list inputs). Null → empty.
fn string_list(v: &Value, field: &str) -> Result<Vec<String>, RequirementError> {
    match v {
        Value::Null => Ok(vec![]),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(|s| s.trim().to_string())
                    .ok_or_else(|| bad(field, "must be a list of strings"))
            })
            .filter(|r| r.as_ref().map(|s| !s.is_empty()).unwrap_or(true))
            .collect(),
        Value::String(s) => {
            if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(s)
                && items.iter().all(Value::is_string)
            {
                return string_list(&Value::Array(items), field);
            }
            Ok(s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect())
        }
        _ => Err(bad(field, "must be a list of strings")),
    }
}

fn opt_string(v: &Value, field: &str) -> Result<Option<String>, RequirementError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.trim().to_string())),
        _ => Err(bad(field, "must be a string")),
    }
}

fn trigger_name(t: &str) -> String {
    t.strip_prefix("trigger_").unwrap_or(t).to_string()
}

impl Requirements {
    /// Parses a requirements object; a non-object is an error naming `requirements`.
    pub fn from_json(v: &Value) -> Result<Requirements, RequirementError> {
        let Value::Object(m) = v else {
            return Err(RequirementError {
                field: "requirements".into(),
                reason: "must be a JSON object".into(),
            });
        };
        let get = |k: &str| m.get(k).unwrap_or(&Value::Null);
        let mut triggers: BTreeSet<String> = string_list(get("triggers"), "triggers")?
            .iter()
            .map(|t| trigger_name(t))
            .collect();
        if let Some(t) = opt_string(get("trigger"), "trigger")? {
            triggers.insert(trigger_name(&t));
        }
        let memory = match get("memory") {
            Value::Null => false,
            Value::Bool(b) => *b,
            _ => return Err(bad("memory", "must be a boolean")),
        };
        Ok(Requirements {
            triggers,
            node_types: string_list(get("node_types"), "node_types")?
                .into_iter()
                .collect(),
            tools: string_list(get("tools"), "tools")?.into_iter().collect(),
            model_capability: opt_string(get("model_capability"), "model_capability")?,
            model: opt_string(get("model"), "model")?,
            memory,
            tags: string_list(get("tags"), "tags")?.into_iter().collect(),
            description: opt_string(get("description"), "description")?.map(|d| d.to_lowercase()),
            query: opt_string(get("query"), "query")?,
        })
    }

    /// The set items of the capability ratio: triggers ∪ node_types ∪ tools (§4).
    fn set_items(&self) -> BTreeSet<&str> {
        self.triggers
            .iter()
            .chain(&self.node_types)
            .chain(&self.tools)
            .map(String::as_str)
            .collect()
    }

    /// Nothing but (possibly) a text query: no capability, tag or description requirement.
    pub fn only_query(&self) -> bool {
        self.set_items().is_empty()
            && self.model_capability.is_none()
            && self.model.is_none()
            && !self.memory
            && self.tags.is_empty()
            && self.description.is_none()
    }
}

/// The recommendation tier (§5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Recommendation {
    Reuse,
    ForkAndPatch,
    CreateNew,
}

impl Recommendation {
    pub fn for_score(score: f64) -> Recommendation {
        if score >= REUSE_AT - EPS {
            Recommendation::Reuse
        } else if score >= FORK_AT - EPS {
            Recommendation::ForkAndPatch
        } else {
            Recommendation::CreateNew
        }
    }
}

/// One candidate as the scorer sees it.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub capabilities: &'a Capabilities,
    pub tags: &'a [String],
    pub description: &'a str,
    pub success_rate: Option<f64>,
    /// The workflow matched the full-text `query`.
    pub text_hit: bool,
}

/// A candidate's score and gap analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// Unrounded (tiers use it).
    pub score: f64,
    /// Rounded to 4 decimals.
    pub match_score: f64,
    pub capability_match: f64,
    pub tag_overlap: f64,
    pub recommendation: Recommendation,
    pub missing: Gaps,
    pub extra: Gaps,
}

fn minus(a: &BTreeSet<String>, b: &[String]) -> Vec<String> {
    a.iter().filter(|x| !b.contains(x)).cloned().collect()
}

fn minus_list(a: &[String], b: &BTreeSet<String>) -> Vec<String> {
    a.iter().filter(|x| !b.contains(*x)).cloned().collect()
}

/// Rounds to 4 decimals (`match_score`).
pub fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Scores one candidate (§4) with its tier (§5) and gaps (§6).
pub fn score(req: &Requirements, c: &Candidate<'_>) -> Scored {
    let caps = c.capabilities;
    let present: BTreeSet<&str> = caps
        .triggers
        .iter()
        .chain(&caps.node_types)
        .chain(&caps.tools)
        .map(String::as_str)
        .collect();
    let items = req.set_items();
    let mut required = items.len();
    let mut matched = items.iter().filter(|i| present.contains(*i)).count();
    let model_hit = |want: &str| {
        let want = want.to_lowercase();
        caps.model_names
            .iter()
            .any(|m| m.to_lowercase().contains(&want))
    };
    for want in [&req.model_capability, &req.model].into_iter().flatten() {
        required += 1;
        matched += usize::from(model_hit(want));
    }
    if req.memory {
        required += 1;
        matched += usize::from(caps.has_memory);
    }
    let capability_match = if required == 0 {
        1.0
    } else {
        matched as f64 / required as f64
    };
    let tag_overlap = if req.tags.is_empty() {
        1.0
    } else {
        let wf: BTreeSet<&str> = c.tags.iter().map(String::as_str).collect();
        let inter = req.tags.iter().filter(|t| wf.contains(t.as_str())).count();
        let union = req.tags.len() + wf.len() - inter;
        inter as f64 / union as f64
    };
    let sr = c.success_rate.unwrap_or(0.5);
    let mut score = W_CAPABILITY * capability_match + W_TAGS * tag_overlap + W_RELIABILITY * sr;
    let described = req
        .description
        .as_deref()
        .is_some_and(|d| c.description.to_lowercase().contains(d));
    if described || c.text_hit {
        score = (score + TEXT_BONUS).min(1.0);
    }
    Scored {
        score,
        match_score: round4(score),
        capability_match,
        tag_overlap,
        recommendation: Recommendation::for_score(score),
        missing: Gaps {
            triggers: minus(&req.triggers, &caps.triggers),
            node_types: minus(&req.node_types, &caps.node_types),
            tools: minus(&req.tools, &caps.tools),
        },
        extra: Gaps {
            triggers: minus_list(&caps.triggers, &req.triggers),
            node_types: minus_list(&caps.node_types, &req.node_types),
            tools: minus_list(&caps.tools, &req.tools),
        },
    }
}

/// §7's order: `match_score` desc, then text rank desc (higher is better), then id asc.
pub fn order(a: (f64, f64, i64), b: (f64, f64, i64)) -> Ordering {
    b.0.total_cmp(&a.0)
        .then(b.1.total_cmp(&a.1))
        .then(a.2.cmp(&b.2))
}

/// `limit` clamped to 1..=50 (default 5).
pub fn clamp_limit(limit: Option<i64>) -> usize {
    limit.unwrap_or(5).clamp(1, 50) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn node(id: &str, ct: &str) -> NodeFacts {
        NodeFacts {
            node_id: id.into(),
            component_type: ct.into(),
            model_name: None,
            conversation_memory: false,
        }
    }
    fn edge(s: &str, t: &str, l: &str) -> EdgeFacts {
        EdgeFacts {
            source: s.into(),
            target: t.into(),
            edge_label: l.into(),
        }
    }
    fn caps(t: &[&str], n: &[&str], tools: &[&str], m: &[&str]) -> Capabilities {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
        Capabilities {
            triggers: v(t),
            node_types: v(n),
            tools: v(tools),
            model_names: v(m),
            has_memory: false,
        }
    }
    fn req(v: Value) -> Requirements {
        Requirements::from_json(&v).expect("requirements")
    }
    fn s(r: &Requirements, c: &Capabilities, tags: &[&str], desc: &str, sr: Option<f64>) -> Scored {
        let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
        score(
            r,
            &Candidate {
                capabilities: c,
                tags: &tags,
                description: desc,
                success_rate: sr,
                text_hit: false,
            },
        )
    }

    #[test]
    fn extraction_follows_the_rules() {
        let mut model = node("m", "ai_model");
        model.model_name = Some("gpt-4".into());
        let mut agent = node("a", "agent");
        agent.conversation_memory = true;
        let nodes = vec![
            node("t", "trigger_telegram"),
            node("u", "trigger_manual"),
            agent,
            model,
            node("w", "web_search"),
            node("h", "http_request"),
            node("h2", "http_request"),
            node("p", "output_parser"),
            node("c", "code"),
            node("c2", "code"),
        ];
        let edges = vec![
            edge("t", "a", ""),
            edge("u", "a", "llm"),
            edge("m", "a", "llm"),
            edge("w", "a", "tool"),
            edge("h", "a", "tool"),
            edge("a", "c", ""),
        ];
        let got = extract(&nodes, &edges);
        assert_eq!(got.triggers, vec!["telegram"]);
        assert_eq!(got.node_types, vec!["agent", "code", "http_request"]);
        assert_eq!(got.tools, vec!["http_request", "web_search"]);
        assert_eq!(got.model_names, vec!["gpt-4"]);
        assert!(got.has_memory);
        let plain = extract(&[node("r", "memory_read")], &[]);
        assert!(plain.has_memory);
        assert_eq!(plain.tools, vec!["memory_read"]);
        assert!(!extract(&[node("a", "agent")], &[]).has_memory);
    }

    #[test]
    fn spec_example_scores_one_third() {
        let c = caps(&["telegram"], &["agent"], &["web_search"], &["gpt-4"]);
        let r = req(json!({"triggers": ["telegram", "trigger_webhook"], "tools": ["calculator"]}));
        let got = s(&r, &c, &["automation", "telegram"], "", None);
        assert_eq!(got.match_score, 0.4167);
        assert_eq!(got.recommendation, Recommendation::CreateNew);
        assert_eq!(got.missing.triggers, vec!["webhook"]);
        assert_eq!(got.missing.tools, vec!["calculator"]);
        assert!(got.missing.node_types.is_empty());
        assert!(got.extra.triggers.is_empty());
        assert_eq!(got.extra.node_types, vec!["agent"]);
        assert_eq!(got.extra.tools, vec!["web_search"]);
    }

    #[test]
    fn worked_scores_of_section_8() {
        let full = caps(&["telegram"], &["agent"], &["web_search"], &[]);
        let r = req(json!({"triggers": ["telegram"], "node_types": ["agent"],
            "tools": ["web_search"], "tags": ["automation"]}));
        let got = s(&r, &full, &["automation"], "", Some(1.0));
        assert_eq!(
            (got.match_score, got.recommendation),
            (1.0, Recommendation::Reuse)
        );

        let half = caps(&["telegram"], &["agent"], &[], &[]);
        let r = req(
            json!({"triggers": ["telegram", "webhook"], "node_types": ["agent"],
            "tools": ["web_search"]}),
        );
        let got = s(&r, &half, &[], "", Some(1.0));
        assert_eq!(
            (got.match_score, got.recommendation),
            (0.6, Recommendation::ForkAndPatch)
        );

        let r =
            req(json!({"triggers": ["webhook"], "node_types": ["code"], "tools": ["calculator"]}));
        let got = s(&r, &half, &[], "", Some(0.0));
        assert_eq!(
            (got.match_score, got.recommendation),
            (0.1, Recommendation::CreateNew)
        );

        let got = s(&req(json!({})), &half, &["x"], "", None);
        assert_eq!(
            (got.match_score, got.recommendation),
            (0.95, Recommendation::Reuse)
        );

        let got = s(
            &req(json!({"tags": ["b", "c", "d"]})),
            &half,
            &["a", "b", "c"],
            "",
            Some(1.0),
        );
        assert_eq!(
            (got.match_score, got.recommendation),
            (0.95, Recommendation::Reuse)
        );

        let turbo = caps(&[], &[], &[], &["gpt-4-turbo"]);
        let got = s(
            &req(json!({"model_capability": "GPT-4"})),
            &turbo,
            &[],
            "",
            Some(1.0),
        );
        assert_eq!(
            (got.match_score, got.recommendation),
            (1.0, Recommendation::Reuse)
        );
        let claude = caps(&[], &[], &[], &["claude-3"]);
        let got = s(
            &req(json!({"model_capability": "gpt-4"})),
            &claude,
            &[],
            "",
            Some(1.0),
        );
        assert_eq!(
            (got.match_score, got.recommendation),
            (0.2, Recommendation::CreateNew)
        );

        let got = s(
            &req(json!({"description": " Automation "})),
            &claude,
            &[],
            "An automation workflow",
            Some(0.0),
        );
        assert_eq!(
            (got.match_score, got.recommendation),
            (0.95, Recommendation::Reuse)
        );
    }

    #[test]
    fn docs_keys_count_as_requirements() {
        let mut c = caps(&["chat"], &[], &[], &["gpt-4o"]);
        let r = req(json!({"trigger": "trigger_chat", "model": "gpt-4", "memory": true}));
        let got = s(&r, &c, &[], "", None);
        // 2 of 3 (no memory) → 0.8·2/3 + 0.1 + 0.05
        assert_eq!(got.match_score, 0.6833);
        c.has_memory = true;
        assert_eq!(s(&r, &c, &[], "", None).match_score, 0.95);
    }

    #[test]
    fn bad_requirements_name_the_field() {
        let e = Requirements::from_json(&json!([1])).expect_err("array");
        assert_eq!(e.field, "requirements");
        let e = Requirements::from_json(&json!({"tools": 3})).expect_err("tools");
        assert_eq!(e.field, "requirements.tools");
        let e = Requirements::from_json(&json!({"memory": "yes"})).expect_err("memory");
        assert_eq!(e.field, "requirements.memory");
        let r = req(json!({"tools": "calculator, web_search", "tags": "[\"a\"]"}));
        assert_eq!(r.tools.len(), 2);
        assert!(r.tags.contains("a"));
        assert!(req(json!({"query": "x"})).only_query());
        assert!(!req(json!({"tags": ["x"]})).only_query());
    }

    #[test]
    fn order_is_score_rank_id() {
        let mut v = [(0.5, 0.0, 3), (0.9, 0.0, 2), (0.9, 1.0, 5), (0.9, 0.0, 1)];
        v.sort_by(|a, b| order(*a, *b));
        assert_eq!(v.map(|x| x.2), [5, 1, 2, 3]);
        assert_eq!(clamp_limit(None), 5);
        assert_eq!(clamp_limit(Some(0)), 1);
        assert_eq!(clamp_limit(Some(99)), 50);
    }

    fn names() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "d", "e"]), 0..4)
            .prop_map(|v| v.into_iter().map(String::from).collect())
    }

    proptest! {
        #[test]
        fn score_is_bounded_and_gaps_partition(
            rt in names(), rn in names(), rtools in names(), rtags in names(),
            ct in names(), cn in names(), ctools in names(), ctags in names(),
            sr in prop::option::of(0.0f64..=1.0), hit in any::<bool>(),
        ) {
            let r = req(json!({"triggers": rt, "node_types": rn, "tools": rtools, "tags": rtags}));
            let norm = |v: Vec<String>| v.into_iter().collect::<BTreeSet<_>>().into_iter().collect::<Vec<_>>();
            let c = Capabilities { triggers: norm(ct), node_types: norm(cn), tools: norm(ctools), ..Default::default() };
            let got = score(&r, &Candidate { capabilities: &c, tags: &ctags, description: "", success_rate: sr, text_hit: hit });
            prop_assert!((0.0..=1.0).contains(&got.score));
            prop_assert!((0.0..=1.0).contains(&got.capability_match));
            prop_assert_eq!(got.recommendation, Recommendation::for_score(got.score));
            if got.capability_match == 0.0 {
                prop_assert!(got.score <= 0.25 + EPS);
            }
            // missing ∪ (required ∩ present) = required; extra ∩ required = ∅
            for (req_set, missing, extra, present) in [
                (&r.triggers, &got.missing.triggers, &got.extra.triggers, &c.triggers),
                (&r.node_types, &got.missing.node_types, &got.extra.node_types, &c.node_types),
                (&r.tools, &got.missing.tools, &got.extra.tools, &c.tools),
            ] {
                for m in missing { prop_assert!(req_set.contains(m) && !present.contains(m)); }
                for e in extra { prop_assert!(!req_set.contains(e) && present.contains(e)); }
                prop_assert_eq!(missing.len() + req_set.iter().filter(|x| present.contains(x)).count(), req_set.len());
                prop_assert_eq!(extra.len() + present.iter().filter(|x| req_set.contains(*x)).count(), present.len());
            }
        }
    }
}
