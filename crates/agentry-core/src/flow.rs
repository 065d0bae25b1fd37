//! Execution flow over a graph snapshot (engine.md §4, §5): which nodes run, where a run starts,
//! where it goes after a node, when a merge fires, and what a loop's body is. Pure: the engine
//! asks, this answers; no state is kept here.

use crate::graph::{END, EdgeLabel, EdgeType};
use crate::node_types;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A node as frozen into an execution's snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapNode {
    pub node_id: String,
    pub component_type: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub is_entry_point: bool,
    #[serde(default)]
    pub interrupt_before: bool,
    #[serde(default)]
    pub interrupt_after: bool,
    /// The node's `ComponentConfigData` as stored.
    #[serde(default)]
    pub config: Value,
    #[serde(default)]
    pub subworkflow_id: Option<i64>,
}

impl SnapNode {
    /// `config.extra_config`, or an empty object.
    pub fn extra(&self) -> &serde_json::Map<String, Value> {
        static EMPTY: std::sync::LazyLock<serde_json::Map<String, Value>> =
            std::sync::LazyLock::new(Default::default);
        self.config
            .get("extra_config")
            .and_then(Value::as_object)
            .unwrap_or(&EMPTY)
    }
}

/// An edge as frozen into an execution's snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapEdge {
    pub id: i64,
    pub source: String,
    pub target: String,
    pub edge_type: EdgeType,
    pub label: EdgeLabel,
    #[serde(default)]
    pub condition_value: String,
    #[serde(default)]
    pub condition_mapping: Option<Value>,
    #[serde(default)]
    pub priority: i64,
}

/// The graph an execution runs, taken when it was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub workflow_id: i64,
    pub slug: String,
    pub max_execution_seconds: i64,
    pub nodes: Vec<SnapNode>,
    pub edges: Vec<SnapEdge>,
    /// For a spawned execution: where its node events are mirrored (api.md §10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<RootLink>,
}

/// The root execution of a spawn tree, its workflow's slug and the root's node that started
/// the chain: every descendant's `node_status` is mirrored there as `child_node_status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootLink {
    pub execution_id: String,
    pub slug: String,
    pub node_id: String,
}

/// A loop's shape (engine.md §5).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoopShape {
    /// Targets of `L —loop_body→`.
    pub body_targets: Vec<String>,
    /// Sources of `—loop_return→ L`, or the body targets when there are none.
    pub completion_nodes: Vec<String>,
    /// Body targets plus everything reachable from them over data edges, not through L.
    pub body: BTreeSet<String>,
}

/// The executable view of a snapshot, for one execution.
#[derive(Debug, Clone)]
pub struct Topology {
    nodes: BTreeMap<String, SnapNode>,
    /// Kept executable nodes.
    kept: BTreeSet<String>,
    /// Outgoing advance edges per node (no loop_body/loop_return), ordered by (priority, id).
    out: BTreeMap<String, Vec<SnapEdge>>,
    /// Incoming flow edges per node, loop returns excluded (merge arity).
    incoming: BTreeMap<String, usize>,
    entries: Vec<String>,
    loops: BTreeMap<String, LoopShape>,
    /// Body node → its (innermost) loop.
    owner: BTreeMap<String, String>,
    has_reply_chat: bool,
}

/// Where an advance goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Advance {
    /// No successor: the node is terminal for its path.
    Terminal,
    /// Enqueue these (possibly several, for fan-out).
    Next(Vec<String>),
}

fn is_executable(ct: &str) -> bool {
    // Unknown types are kept as steps (the node runner reports them).
    node_types::get(ct).is_none_or(|s| s.is_step())
}

impl Topology {
    /// Builds the topology (engine.md §4.3). With a trigger, only nodes reachable from it over
    /// flow edges are kept.
    pub fn build(snapshot: &Snapshot, trigger_node_id: Option<&str>) -> Result<Topology, String> {
        let nodes: BTreeMap<String, SnapNode> = snapshot
            .nodes
            .iter()
            .map(|n| (n.node_id.clone(), n.clone()))
            .collect();
        let mut flow: Vec<&SnapEdge> = snapshot
            .edges
            .iter()
            .filter(|e| e.label.is_flow())
            .collect();
        flow.sort_by_key(|e| (e.priority, e.id));
        let mut kept: BTreeSet<String> = match trigger_node_id {
            Some(t) => {
                let mut seen = BTreeSet::new();
                let mut queue = VecDeque::from([t.to_string()]);
                while let Some(n) = queue.pop_front() {
                    for e in flow.iter().filter(|e| e.source == n) {
                        if nodes.contains_key(&e.target) && seen.insert(e.target.clone()) {
                            queue.push_back(e.target.clone());
                        }
                    }
                }
                seen
            }
            None => nodes.keys().cloned().collect(),
        };
        kept.retain(|id| {
            nodes
                .get(id)
                .is_some_and(|n| is_executable(&n.component_type))
        });

        let mut out: BTreeMap<String, Vec<SnapEdge>> = BTreeMap::new();
        let mut incoming: BTreeMap<String, usize> = BTreeMap::new();
        for e in &flow {
            if !kept.contains(&e.source) {
                continue;
            }
            if e.label == EdgeLabel::Data {
                out.entry(e.source.clone()).or_default().push((*e).clone());
            }
            if e.label != EdgeLabel::LoopReturn && kept.contains(&e.target) {
                *incoming.entry(e.target.clone()).or_default() += 1;
            }
        }

        // Entry nodes: flagged ones; else targets of trigger edges; else the first executable.
        let mut entries: Vec<String> = nodes
            .values()
            .filter(|n| n.is_entry_point && kept.contains(&n.node_id))
            .map(|n| n.node_id.clone())
            .collect();
        if entries.is_empty() {
            for e in &flow {
                let from_trigger = nodes
                    .get(&e.source)
                    .is_some_and(|n| n.component_type.starts_with("trigger_"));
                let scoped = trigger_node_id.is_none_or(|t| t == e.source);
                if from_trigger
                    && scoped
                    && kept.contains(&e.target)
                    && !entries.contains(&e.target)
                {
                    entries.push(e.target.clone());
                }
            }
        }
        if entries.is_empty()
            && let Some(first) = snapshot.nodes.iter().find(|n| kept.contains(&n.node_id))
        {
            entries.push(first.node_id.clone());
        }
        if entries.is_empty() {
            return Err(format!(
                "Workflow '{}' has no executable nodes",
                snapshot.slug
            ));
        }

        let mut topo = Topology {
            has_reply_chat: nodes.values().any(|n| n.component_type == "reply_chat"),
            nodes,
            kept,
            out,
            incoming,
            entries,
            loops: BTreeMap::new(),
            owner: BTreeMap::new(),
        };
        topo.build_loops(&flow);
        Ok(topo)
    }

    fn build_loops(&mut self, flow: &[&SnapEdge]) {
        let loop_ids: Vec<String> = self
            .kept
            .iter()
            .filter(|id| self.nodes[*id].component_type == "loop")
            .cloned()
            .collect();
        for l in loop_ids {
            let body_targets: Vec<String> = flow
                .iter()
                .filter(|e| {
                    e.source == l && e.label == EdgeLabel::LoopBody && self.kept.contains(&e.target)
                })
                .map(|e| e.target.clone())
                .collect();
            let returns: Vec<String> = flow
                .iter()
                .filter(|e| e.target == l && e.label == EdgeLabel::LoopReturn)
                .map(|e| e.source.clone())
                .collect();
            let mut body: BTreeSet<String> = body_targets.iter().cloned().collect();
            let mut queue: VecDeque<String> = body_targets.iter().cloned().collect();
            while let Some(n) = queue.pop_front() {
                for e in self.out.get(&n).into_iter().flatten() {
                    if e.target != l
                        && self.kept.contains(&e.target)
                        && body.insert(e.target.clone())
                    {
                        queue.push_back(e.target.clone());
                    }
                }
            }
            let completion_nodes = if returns.is_empty() {
                body_targets.clone()
            } else {
                returns
            };
            self.loops.insert(
                l,
                LoopShape {
                    body_targets,
                    completion_nodes,
                    body,
                },
            );
        }
        // Innermost owner: the loop with the smallest body containing the node.
        let mut by_size: Vec<(&String, &LoopShape)> = self.loops.iter().collect();
        by_size.sort_by_key(|(_, s)| std::cmp::Reverse(s.body.len()));
        for (l, shape) in by_size {
            for n in &shape.body {
                self.owner.insert(n.clone(), l.clone());
            }
        }
    }

    pub fn entries(&self) -> &[String] {
        &self.entries
    }

    pub fn node(&self, node_id: &str) -> Option<&SnapNode> {
        self.nodes.get(node_id)
    }

    pub fn is_kept(&self, node_id: &str) -> bool {
        self.kept.contains(node_id)
    }

    pub fn has_reply_chat(&self) -> bool {
        self.has_reply_chat
    }

    /// How many arrivals a merge waits for (its incoming edges, loop returns excluded).
    pub fn arity(&self, node_id: &str) -> usize {
        self.incoming.get(node_id).copied().unwrap_or(0)
    }

    pub fn loop_shape(&self, loop_id: &str) -> Option<&LoopShape> {
        self.loops.get(loop_id)
    }

    /// The innermost loop whose body contains `node_id`.
    pub fn loop_of(&self, node_id: &str) -> Option<&str> {
        self.owner.get(node_id).map(String::as_str)
    }

    /// Nodes wired to `agent_id` by edges with `label` (tools, model, skills), in edge order.
    pub fn attached(&self, snapshot: &Snapshot, agent_id: &str, label: EdgeLabel) -> Vec<String> {
        let mut edges: Vec<&SnapEdge> = snapshot
            .edges
            .iter()
            .filter(|e| e.target == agent_id && e.label == label)
            .collect();
        edges.sort_by_key(|e| (e.priority, e.id));
        edges.into_iter().map(|e| e.source.clone()).collect()
    }

    /// Where to go after `node_id` finished with `route` (engine.md §4.6).
    pub fn advance(&self, node_id: &str, route: Option<&str>) -> Advance {
        let edges = match self.out.get(node_id) {
            Some(e) if !e.is_empty() => e,
            _ => return Advance::Terminal,
        };
        let conditional: Vec<&SnapEdge> = edges
            .iter()
            .filter(|e| e.edge_type == EdgeType::Conditional)
            .collect();
        if !conditional.is_empty() {
            let route = route.unwrap_or("");
            let hit = conditional
                .iter()
                .find(|e| e.condition_value == route)
                .map(|e| e.target.clone())
                .or_else(|| {
                    // Legacy: condition_mapping[route] names the target.
                    conditional.iter().find_map(|e| {
                        e.condition_mapping
                            .as_ref()?
                            .get(route)?
                            .as_str()
                            .map(String::from)
                    })
                });
            return match hit {
                Some(t) if self.kept.contains(&t) => Advance::Next(vec![t]),
                _ => Advance::Terminal,
            };
        }
        let next: Vec<String> = edges
            .iter()
            .filter(|e| !e.target.is_empty() && e.target != END && self.kept.contains(&e.target))
            .map(|e| e.target.clone())
            .collect();
        if next.is_empty() {
            Advance::Terminal
        } else {
            Advance::Next(next)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(id: &str, ct: &str) -> SnapNode {
        SnapNode {
            node_id: id.into(),
            component_type: ct.into(),
            label: String::new(),
            is_entry_point: false,
            interrupt_before: false,
            interrupt_after: false,
            config: json!({}),
            subworkflow_id: None,
        }
    }
    fn edge(id: i64, s: &str, t: &str, label: EdgeLabel) -> SnapEdge {
        SnapEdge {
            id,
            source: s.into(),
            target: t.into(),
            edge_type: EdgeType::Direct,
            label,
            condition_value: String::new(),
            condition_mapping: None,
            priority: 0,
        }
    }
    fn cond(id: i64, s: &str, t: &str, v: &str) -> SnapEdge {
        SnapEdge {
            edge_type: EdgeType::Conditional,
            condition_value: v.into(),
            ..edge(id, s, t, EdgeLabel::Data)
        }
    }
    fn snap(nodes: Vec<SnapNode>, edges: Vec<SnapEdge>) -> Snapshot {
        Snapshot {
            workflow_id: 1,
            slug: "w".into(),
            max_execution_seconds: 600,
            nodes,
            edges,
            root: None,
        }
    }

    #[test]
    fn linear_and_fan_out() {
        let s = snap(
            vec![
                node("t", "trigger_manual"),
                node("a", "code"),
                node("b", "code"),
                node("c", "code"),
                node("m", "merge"),
                node("x", "whoami"),
            ],
            vec![
                edge(1, "t", "a", EdgeLabel::Data),
                edge(2, "a", "b", EdgeLabel::Data),
                edge(3, "a", "c", EdgeLabel::Data),
                edge(4, "b", "m", EdgeLabel::Data),
                edge(5, "c", "m", EdgeLabel::Data),
                edge(6, "x", "a", EdgeLabel::Tool),
            ],
        );
        let t = Topology::build(&s, Some("t")).expect("topology");
        assert_eq!(t.entries(), ["a"]);
        assert_eq!(
            t.advance("a", None),
            Advance::Next(vec!["b".into(), "c".into()])
        );
        assert_eq!(t.arity("m"), 2);
        assert_eq!(t.advance("m", None), Advance::Terminal);
        assert!(!t.is_kept("x"), "tools are not steps");
        assert!(!t.is_kept("t"), "triggers are not steps");
    }

    #[test]
    fn switch_routes_and_ignores_direct_edges() {
        let s = snap(
            vec![
                node("s", "switch"),
                node("y", "code"),
                node("n", "code"),
                node("d", "code"),
            ],
            vec![
                cond(1, "s", "y", "yes"),
                cond(2, "s", "n", "no"),
                edge(3, "s", "d", EdgeLabel::Data),
            ],
        );
        let t = Topology::build(&s, None).expect("topology");
        assert_eq!(t.entries(), ["s"]);
        assert_eq!(t.advance("s", Some("no")), Advance::Next(vec!["n".into()]));
        assert_eq!(t.advance("s", Some("maybe")), Advance::Terminal);
    }

    #[test]
    fn trigger_scoping_keeps_reachable_nodes_only() {
        let s = snap(
            vec![
                node("t1", "trigger_manual"),
                node("t2", "trigger_chat"),
                node("a", "code"),
                node("b", "code"),
            ],
            vec![
                edge(1, "t1", "a", EdgeLabel::Data),
                edge(2, "t2", "b", EdgeLabel::Data),
            ],
        );
        let t = Topology::build(&s, Some("t2")).expect("topology");
        assert_eq!(t.entries(), ["b"]);
        assert!(!t.is_kept("a"));
        let all = Topology::build(&s, None).expect("topology");
        assert_eq!(all.entries(), ["a", "b"]);
    }

    #[test]
    fn loop_body_and_completion() {
        let s = snap(
            vec![
                node("l", "loop"),
                node("b1", "code"),
                node("b2", "code"),
                node("done", "code"),
            ],
            vec![
                edge(1, "l", "b1", EdgeLabel::LoopBody),
                edge(2, "b1", "b2", EdgeLabel::Data),
                edge(3, "b2", "l", EdgeLabel::LoopReturn),
                edge(4, "l", "done", EdgeLabel::Data),
            ],
        );
        let t = Topology::build(&s, None).expect("topology");
        let shape = t.loop_shape("l").expect("loop");
        assert_eq!(shape.body_targets, vec!["b1"]);
        assert_eq!(shape.completion_nodes, vec!["b2"]);
        assert_eq!(
            shape.body.iter().cloned().collect::<Vec<_>>(),
            vec!["b1", "b2"]
        );
        assert_eq!(t.loop_of("b2"), Some("l"));
        assert_eq!(t.advance("l", None), Advance::Next(vec!["done".into()]));
        assert_eq!(
            t.advance("b2", None),
            Advance::Terminal,
            "loop_return is not an advance edge"
        );
        assert_eq!(t.arity("b1"), 1);
    }

    #[test]
    fn no_executable_nodes_is_an_error() {
        let s = snap(vec![node("t", "trigger_manual")], vec![]);
        assert_eq!(
            Topology::build(&s, None).err(),
            Some("Workflow 'w' has no executable nodes".into())
        );
    }
}
