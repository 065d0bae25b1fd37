//! Workflow discovery (discovery.md): `POST /workflows/discover/` and the `workflow_discover`
//! tool both call [`Services::discover_workflows`].
//!
//! Capabilities are extracted from nodes and edges by `agentry_core::discovery::extract` and
//! cached on the workflow row (`workflows.capabilities`). Database triggers on `nodes` and
//! `edges` (migration 0008) clear the cache and bump `capabilities_version` in the same
//! transaction as any change, whatever path made it (node and edge routes, DSL apply and
//! fork, renames); discovery recomputes the cleared rows from their nodes and edges and writes
//! them back only if the version is unchanged, so a result is never older than the reader's
//! snapshot. Deriving everything on every call was measured first: 340 ms p50 on SQLite with
//! 10,000 workflows (90,000 node and edge rows read), against the 50 ms target
//! (BENCHMARKS.md, "Discovery").
//!
//! `query` is ranked full text (SQLite FTS5 bm25 / PostgreSQL `ts_rank`, the same helper the
//! epic and task searches use) over name, description and tags: a hit earns the §4 text bonus
//! (+0.05, once, shared with the description rule, capped at 1.0) and its rank breaks ties
//! between equal `match_score`s before the id; with a query and no other requirement only hits
//! are returned.

use crate::registry::Scope;
use crate::{ServiceError, ServiceResult, Services};
use agentry_core::discovery::{
    self as rules, Candidate, Capabilities, EdgeFacts, Gaps, NodeFacts, Recommendation,
    Requirements,
};
use agentry_core::registry::fts_terms;
use agentry_store::{edges, executions, nodes, workflows};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use utoipa::ToSchema;

/// What to look for (REST body; the tool builds the same).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct DiscoverIn {
    /// discovery.md §1 plus the agentry keys (`query`, `trigger`, `model`, `memory`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub requirements: Option<Value>,
    /// Default 5; clamped to 1..50.
    #[serde(default)]
    pub limit: Option<i64>,
    /// Free text, ranked full-text over name, description and tags; wins over
    /// `requirements.query`.
    #[serde(default)]
    pub query: Option<String>,
    /// Leave this workflow out.
    #[serde(default)]
    pub exclude_slug: Option<String>,
}

/// One ranked workflow (discovery.md §7 item plus the agentry additions).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DiscoverItem {
    pub workflow_id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub tags: Vec<String>,
    pub match_score: f64,
    pub has_capabilities: Capabilities,
    pub missing_capabilities: Gaps,
    pub extra_capabilities: Gaps,
    pub recommendation: Recommendation,
    pub success_rate: Option<f64>,
    pub execution_count: i64,
    pub avg_duration_ms: Option<i64>,
    pub avg_cost_usd: Option<f64>,
    /// Copies of `has_capabilities` / `missing_capabilities` / `extra_capabilities`.
    pub has: Capabilities,
    pub missing: Gaps,
    pub extra: Gaps,
}

/// The ranked page and the number of candidates scored.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DiscoverOut {
    pub items: Vec<DiscoverItem>,
    pub total: i64,
}

/// Who the candidates are for and what to leave out.
#[derive(Debug, Clone, Copy)]
pub struct DiscoverScope<'a> {
    pub scope: Scope,
    pub exclude_id: Option<i64>,
    pub exclude_slug: Option<&'a str>,
}

#[derive(Default)]
struct Facts {
    nodes: Vec<NodeFacts>,
    edges: Vec<EdgeFacts>,
}

impl Services {
    /// Ranks the workflows `scope` may read against `input` (discovery.md). A scope of
    /// `Scope::owner(id)` sees that owner's and public workflows; an admin scope sees all.
    pub async fn discover_workflows(
        &self,
        scope: DiscoverScope<'_>,
        input: DiscoverIn,
    ) -> ServiceResult<DiscoverOut> {
        let raw = input
            .requirements
            .unwrap_or_else(|| Value::Object(Default::default()));
        let mut req = Requirements::from_json(&raw)
            .map_err(|e| ServiceError::invalid(&e.field, &e.reason))?;
        if let Some(q) = input
            .query
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
        {
            req.query = Some(q.to_string());
        }
        let limit = rules::clamp_limit(input.limit);
        let owner = scope.scope.owner_filter();
        // The tool's scope is the owner plus public workflows even for an admin owner.
        let db = &self.db;
        let terms = req.query.as_deref().map(fts_terms).unwrap_or_default();
        let (cands, metric_rows, ranks) = tokio::try_join!(
            workflows::discovery_candidates(db, owner),
            executions::discovery_metrics(db, owner),
            workflows::text_ranks(db, owner, &terms),
        )?;
        let capabilities = self.capabilities_of(&cands).await?;
        let metrics: HashMap<i64, executions::WorkflowMetricsRow> = metric_rows
            .into_iter()
            .map(|m| (m.workflow_id, m))
            .collect();
        let ranks: HashMap<i64, f64> = ranks.into_iter().collect();
        let only_hits = req.query.is_some() && req.only_query();

        let mut total = 0i64;
        let mut scored = Vec::new();
        for (i, w) in cands.iter().enumerate() {
            if scope.exclude_id == Some(w.id) || scope.exclude_slug == Some(w.slug.as_str()) {
                continue;
            }
            total += 1;
            let rank = ranks.get(&w.id).copied();
            if only_hits && rank.is_none() {
                continue;
            }
            let m = metrics.get(&w.id);
            let success_rate = m
                .filter(|m| m.execution_count > 0)
                .map(|m| m.completed as f64 / m.execution_count as f64);
            let s = rules::score(
                &req,
                &Candidate {
                    capabilities: &capabilities[i],
                    tags: w.tags.as_ref().map(|t| t.0.as_slice()).unwrap_or(&[]),
                    description: &w.description,
                    success_rate,
                    text_hit: rank.is_some(),
                },
            );
            scored.push((
                (s.match_score, rank.unwrap_or(f64::NEG_INFINITY), w.id),
                i,
                s,
                success_rate,
            ));
        }
        scored.sort_by(|a, b| rules::order(a.0, b.0));
        scored.truncate(limit);
        let mut cands: Vec<Option<workflows::CandidateRow>> = cands.into_iter().map(Some).collect();
        let mut capabilities: Vec<Option<Capabilities>> =
            capabilities.into_iter().map(Some).collect();
        let mut items = Vec::with_capacity(scored.len());
        for (_, i, s, success_rate) in scored {
            let (Some(w), Some(caps)) = (cands[i].take(), capabilities[i].take()) else {
                continue;
            };
            let m = metrics.get(&w.id);
            items.push(DiscoverItem {
                workflow_id: w.id,
                slug: w.slug,
                name: w.name,
                description: w.description,
                tags: w.tags.map(|t| t.0).unwrap_or_default(),
                match_score: s.match_score,
                has_capabilities: caps.clone(),
                missing_capabilities: s.missing.clone(),
                extra_capabilities: s.extra.clone(),
                recommendation: s.recommendation,
                success_rate,
                execution_count: m.map(|m| m.execution_count).unwrap_or(0),
                avg_duration_ms: m.and_then(|m| m.avg_duration_ms).map(|d| d.round() as i64),
                avg_cost_usd: m.and_then(|m| m.avg_cost_usd),
                has: caps,
                missing: s.missing,
                extra: s.extra,
            });
        }
        Ok(DiscoverOut { items, total })
    }

    /// Each candidate's capabilities: the cached ones, and for rows whose nodes or edges
    /// changed since (cache cleared by the store's triggers) extracted from their nodes and
    /// edges now and written back (best effort: a failed write-back only means the next
    /// reader recomputes).
    async fn capabilities_of(
        &self,
        cands: &[workflows::CandidateRow],
    ) -> ServiceResult<Vec<Capabilities>> {
        let stale: Vec<i64> = cands
            .iter()
            .filter(|c| c.capabilities.is_none())
            .map(|c| c.id)
            .collect();
        let mut facts: HashMap<i64, Facts> = HashMap::with_capacity(stale.len());
        if !stale.is_empty() {
            let (node_rows, edge_rows) = tokio::try_join!(
                nodes::discovery_facts(&self.db, &stale),
                edges::discovery_facts(&self.db, &stale),
            )?;
            for n in node_rows {
                facts
                    .entry(n.workflow_id)
                    .or_default()
                    .nodes
                    .push(NodeFacts {
                        node_id: n.node_id,
                        component_type: n.component_type,
                        model_name: n.model_name,
                        conversation_memory: n.conversation_memory,
                    });
            }
            for e in edge_rows {
                facts
                    .entry(e.workflow_id)
                    .or_default()
                    .edges
                    .push(EdgeFacts {
                        source: e.source_node_id,
                        target: e.target_node_id,
                        edge_label: e.edge_label,
                    });
            }
        }
        let empty = Facts::default();
        let mut fresh = Vec::with_capacity(stale.len());
        let out = cands
            .iter()
            .map(|c| match &c.capabilities {
                Some(caps) => caps.0.clone(),
                None => {
                    let f = facts.get(&c.id).unwrap_or(&empty);
                    let caps = rules::extract(&f.nodes, &f.edges);
                    fresh.push((c.id, c.capabilities_version, caps.clone()));
                    caps
                }
            })
            .collect();
        if let Err(e) = workflows::store_capabilities(&self.db, &fresh).await {
            tracing::warn!(error = %e, "discovery: capability cache write-back failed");
        }
        Ok(out)
    }
}
