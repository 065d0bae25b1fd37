//! The typed document: what [`crate::parse`] makes of the text once §1–2's checks pass.
//! Step bodies stay as located YAML because each step type reads different keys (§4), and
//! compile reports problems in them with their positions.

use crate::yaml::{Located, Pos};
use serde_json::{Map, Value};

/// A parsed document: create mode or fork mode (dsl.md §1).
#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    Create(CreateDoc),
    Fork(ForkDoc),
}

/// Create mode.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateDoc {
    pub name: String,
    pub description: String,
    pub tags: Vec<String>,
    pub trigger: TriggerSpec,
    pub trigger_config: Map<String, Value>,
    /// The workflow-level model spec (§7), unparsed; `None` when absent or null.
    pub model: Option<Located>,
    pub steps: Vec<Step>,
    /// `Some` selects the explicit form (§12): every edge is listed here.
    pub edges: Option<Vec<Located>>,
}

/// Fork mode: clone `based_on`, then apply `patches` (§10).
#[derive(Debug, Clone, PartialEq)]
pub struct ForkDoc {
    pub based_on: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub patches: Vec<Patch>,
}

/// One patch mapping, decoded when it is applied so that errors come in patch order (§10.3).
#[derive(Debug, Clone, PartialEq)]
pub struct Patch(pub Located);

impl Patch {
    /// A patch given as JSON (e.g. by the service or a test).
    pub fn from_json(value: &Value) -> Self {
        Patch(Located::from_json(value))
    }
}

/// The trigger types of §3 (+ `webhook`, §0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerKind {
    None,
    Workflow,
    Manual,
    Chat,
    Telegram,
    Schedule,
    Error,
    Webhook,
}

impl TriggerKind {
    /// The DSL names, in the order §2's error text lists them.
    pub const NAMES: &'static [&'static str] = &[
        "telegram", "chat", "none", "workflow", "manual", "schedule", "error", "webhook",
    ];

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "none" => TriggerKind::None,
            "workflow" => TriggerKind::Workflow,
            "manual" => TriggerKind::Manual,
            "chat" => TriggerKind::Chat,
            "telegram" => TriggerKind::Telegram,
            "schedule" => TriggerKind::Schedule,
            "error" => TriggerKind::Error,
            "webhook" => TriggerKind::Webhook,
            _ => return None,
        })
    }

    /// The trigger node's component type.
    pub fn component_type(self) -> &'static str {
        match self {
            TriggerKind::None | TriggerKind::Workflow => "trigger_workflow",
            TriggerKind::Manual => "trigger_manual",
            TriggerKind::Chat => "trigger_chat",
            TriggerKind::Telegram => "trigger_telegram",
            TriggerKind::Schedule => "trigger_schedule",
            TriggerKind::Error => "trigger_error",
            TriggerKind::Webhook => "trigger_webhook",
        }
    }

    pub fn unknown_error(name: &str) -> String {
        format!(
            "Unknown trigger type '{name}'. Valid: {}",
            Self::NAMES.join(", ")
        )
    }
}

/// `trigger:` as a string or a mapping (`type`, and agentry's `id`, §12).
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerSpec {
    pub kind: TriggerKind,
    pub id: Option<String>,
}

impl TriggerSpec {
    pub fn node_id(&self) -> String {
        self.id
            .clone()
            .unwrap_or_else(|| format!("{}_1", self.kind.component_type()))
    }
}

/// The DSL step types (§4, plus `http`, §0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepType {
    Code,
    Agent,
    DeepAgent,
    Switch,
    Loop,
    Workflow,
    Human,
    Transform,
    ReplyChat,
    Categorizer,
    Router,
    Extractor,
    Filter,
    Merge,
    Wait,
    IdentifyUser,
    Http,
}

impl StepType {
    /// The DSL names, in the order §2's error text lists them.
    pub const NAMES: &'static [&'static str] = &[
        "code",
        "agent",
        "deep_agent",
        "switch",
        "loop",
        "workflow",
        "human",
        "transform",
        "reply_chat",
        "categorizer",
        "router",
        "extractor",
        "filter",
        "merge",
        "wait",
        "identify_user",
        "http",
    ];

    pub fn parse(name: &str) -> Option<Self> {
        use StepType::*;
        Some(match name {
            "code" => Code,
            "agent" => Agent,
            "deep_agent" => DeepAgent,
            "switch" => Switch,
            "loop" => Loop,
            "workflow" => Workflow,
            "human" => Human,
            "transform" => Transform,
            "reply_chat" => ReplyChat,
            "categorizer" => Categorizer,
            "router" => Router,
            "extractor" => Extractor,
            "filter" => Filter,
            "merge" => Merge,
            "wait" => Wait,
            "identify_user" => IdentifyUser,
            "http" => Http,
            _ => return None,
        })
    }

    /// The component type of the node the step becomes.
    pub fn component_type(self) -> &'static str {
        use StepType::*;
        match self {
            Code => "code",
            Agent => "agent",
            DeepAgent => "deep_agent",
            Switch => "switch",
            Loop => "loop",
            Workflow => "workflow",
            Human => "human_confirmation",
            // agentry: a text_template node (§4), though the default id stays `code_{i+1}`.
            Transform => "text_template",
            ReplyChat => "reply_chat",
            Categorizer => "categorizer",
            Router => "router",
            Extractor => "extractor",
            Filter => "filter",
            Merge => "merge",
            Wait => "wait",
            IdentifyUser => "identify_user",
            Http => "http_request",
        }
    }

    /// The prefix of a generated id (`{prefix}_{i+1}`): the reference's component type.
    pub fn id_prefix(self) -> &'static str {
        match self {
            StepType::Transform => "code",
            other => other.component_type(),
        }
    }

    /// AI steps get a model (§6).
    pub fn is_ai(self) -> bool {
        matches!(
            self,
            StepType::Agent
                | StepType::DeepAgent
                | StepType::Categorizer
                | StepType::Router
                | StepType::Extractor
        )
    }

    /// Steps whose `tools`/`skills`/`memory` add sub-components (§6).
    pub fn takes_tools(self) -> bool {
        matches!(self, StepType::Agent | StepType::DeepAgent)
    }

    pub fn unknown_error(name: &str, index: usize) -> String {
        format!(
            "Unknown step type '{name}' in step {index}. Valid: {}",
            Self::NAMES.join(", ")
        )
    }
}

/// What a step becomes: a DSL step type, or (§12) a raw component type with its `config`.
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    Dsl(StepType),
    Component(String),
}

impl StepKind {
    pub fn component_type(&self) -> &str {
        match self {
            StepKind::Dsl(t) => t.component_type(),
            StepKind::Component(c) => c,
        }
    }
}

/// One top-level step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// 0-based position in `steps`.
    pub index: usize,
    /// The explicit `id`, or the generated `{type}_{index+1}`.
    pub id: String,
    pub kind: StepKind,
    /// The step's mapping as written.
    pub body: Located,
}

impl Step {
    pub fn pos(&self) -> Pos {
        self.body.pos
    }
}
