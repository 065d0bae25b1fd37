//! Expressions (engine.md §7): Jinja2-compatible `{{ … }}` templates rendered with minijinja.
//!
//! * Variables: every node id → its output object, `trigger` → the trigger payload, `loop` →
//!   `{item, index, total}` during a loop iteration (`trigger` and `loop` win over node ids of
//!   the same name).
//! * Strict undefined handling: an unknown name or attribute is an error, as Jinja2's
//!   `StrictUndefined`.
//! * Bounded: a fuel budget ([`FUEL`]: instructions and bytes produced) stops endless or huge
//!   work, and output over [`MAX_OUTPUT_BYTES`] is an error. There is no loader (no `include`
//!   of files) and no function that reads the environment.
//! * Jinja2 look: `None`, `True`/`False`, Python reprs of lists and mappings (`['a', 1]`) and
//!   floats (`1e+16`) when printed; Python string/dict/list methods (`.upper()`, `.get(k)`,
//!   `.items()`, …) through minijinja-contrib's pycompat, plus its Jinja2 filters `striptags`,
//!   `filesizeformat` and globals `cycler`, `joiner`; Jinja2's `truncate` (`length`, `killwords`, `end`
//!   positional or keyword, `leeway` keyword) is our own, as contrib's takes keywords only.
//!
//! The environment is built once. Only the top-level variables a template names are converted
//! to template values, so a large `node_outputs` costs nothing to templates that ignore it.

use crate::node::State;
use agentry_core::flow::SnapNode;
use agentry_core::operators::{py_float_repr, py_str_repr};
use minijinja::value::{Enumerator, Kwargs, Object, Value as TValue, ValueKind};
use minijinja::{AutoEscape, Environment, ErrorKind, Output, UndefinedBehavior};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io;
use std::sync::{Arc, LazyLock};

/// Work budget of one rendering (minijinja fuel: one unit per instruction, plus data produced;
/// about 64 MB of data or a million loop steps — tens of milliseconds).
pub const FUEL: u64 = 1_000_000;

/// Largest rendered text (1 MiB).
pub const MAX_OUTPUT_BYTES: usize = 1 << 20;

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_formatter(jinja_formatter);
    minijinja_contrib::add_to_environment(&mut env);
    env.add_filter("truncate", truncate);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env
});

/// The variables templates see (engine.md §7), as one JSON object.
pub fn variables(state: &State) -> Value {
    let mut vars = state.node_outputs.clone();
    vars.insert("trigger".into(), state.trigger.clone());
    if let Some(item) = &state.loop_ {
        vars.insert("loop".into(), item.clone());
    }
    Value::Object(vars)
}

/// Renders `template` with `vars` (a JSON object of top-level names). Errors are minijinja's
/// message, e.g. `undefined value: 'agent_1.outptu' is undefined (line 1)`.
pub fn render_strict(template: &str, vars: &Value) -> Result<String, String> {
    Renderer::new(Vars::Json(vars)).render(template)
}

/// [`render_strict`] with the [`variables`] of `state`, without building them.
pub fn render_strict_with_state(template: &str, state: &State) -> Result<String, String> {
    Renderer::new(Vars::State(state)).render(template)
}

/// Resolves every string containing `{{` in `value` (recursively through maps and lists); a
/// string whose rendering fails stays as it was.
pub fn resolve_lenient(value: &Value, vars: &Value) -> Value {
    let mut value = value.clone();
    Renderer::new(Vars::Json(vars)).resolve_in_place(&mut value);
    value
}

/// A copy of `node` whose `config.system_prompt` and every string inside
/// `config.extra_config` are resolved leniently (engine.md §7), except a `text_template`
/// node's `extra_config.template`, which that node renders strictly itself.
pub fn resolve_node_config(node: &SnapNode, state: &State) -> SnapNode {
    let mut node = node.clone();
    let keep_template = node.component_type == "text_template";
    let mut renderer = Renderer::new(Vars::State(state));
    if let Some(config) = node.config.as_object_mut() {
        if let Some(prompt) = config.get_mut("system_prompt") {
            renderer.resolve_in_place(prompt);
        }
        match config.get_mut("extra_config") {
            Some(Value::Object(extra)) => {
                for (key, item) in extra.iter_mut() {
                    if !(keep_template && key == "template") {
                        renderer.resolve_in_place(item);
                    }
                }
            }
            Some(other) => renderer.resolve_in_place(other),
            None => {}
        }
    }
    node
}

/// Where top-level names come from.
#[derive(Clone, Copy)]
enum Vars<'a> {
    Json(&'a Value),
    State(&'a State),
}

impl<'a> Vars<'a> {
    fn get(self, name: &str) -> Option<&'a Value> {
        match self {
            Vars::Json(v) => v.get(name),
            Vars::State(s) => match name {
                "trigger" => Some(&s.trigger),
                "loop" if s.loop_.is_some() => s.loop_.as_ref(),
                _ => s.node_outputs.get(name),
            },
        }
    }
}

/// Renders templates against one set of variables, converting each top-level variable once.
struct Renderer<'a> {
    vars: Vars<'a>,
    converted: HashMap<String, TValue>,
}

impl<'a> Renderer<'a> {
    fn new(vars: Vars<'a>) -> Self {
        Renderer {
            vars,
            converted: HashMap::new(),
        }
    }

    fn resolve_in_place(&mut self, value: &mut Value) {
        match value {
            Value::String(s) if s.contains("{{") => {
                if let Ok(rendered) = self.render(s) {
                    *s = rendered;
                }
            }
            Value::Array(items) => items
                .iter_mut()
                .for_each(|item| self.resolve_in_place(item)),
            Value::Object(map) => map
                .values_mut()
                .for_each(|item| self.resolve_in_place(item)),
            _ => {}
        }
    }

    fn render(&mut self, source: &str) -> Result<String, String> {
        let template = ENV.template_from_str(source).map_err(|e| describe(&e))?;
        let mut scope = BTreeMap::new();
        for name in template.undeclared_variables(false) {
            if let Some(value) = self.lookup(&name) {
                scope.insert(name, value);
            }
        }
        let mut out = CappedBuf::default();
        match template.render_captured_to(TValue::from_object(Scope(scope)), &mut out) {
            Ok(_) => Ok(String::from_utf8(out.buf)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())),
            Err(_) if out.overflow => Err(format!("output exceeds {MAX_OUTPUT_BYTES} bytes")),
            Err(e) if e.kind() == ErrorKind::UndefinedError => {
                let missing = template
                    .undeclared_variables(true)
                    .into_iter()
                    .filter(|path| !self.path_exists(path))
                    .min();
                Err(match missing {
                    Some(path) => describe_with(&e, &format!("'{path}' is undefined")),
                    None => describe(&e),
                })
            }
            Err(e) => Err(describe(&e)),
        }
    }

    fn lookup(&mut self, name: &str) -> Option<TValue> {
        if let Some(v) = self.converted.get(name) {
            return Some(v.clone());
        }
        let value = to_template_value(self.vars.get(name)?);
        self.converted.insert(name.to_string(), value.clone());
        Some(value)
    }

    /// Whether a dotted name from `undeclared_variables(true)` resolves (globals count).
    fn path_exists(&self, path: &str) -> bool {
        let mut parts = path.split('.');
        let head = parts.next().unwrap_or_default();
        let Some(mut cur) = self.vars.get(head) else {
            return ENV.globals().any(|(name, _)| name == head);
        };
        for part in parts {
            cur = match cur.get(part) {
                Some(v) => v,
                None => return false,
            };
        }
        true
    }
}

/// JSON → template value, directly (no serde round trip).
fn to_template_value(v: &Value) -> TValue {
    match v {
        Value::Null => TValue::from(()),
        Value::Bool(b) => TValue::from(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => TValue::from(i),
            (None, Some(u)) => TValue::from(u),
            _ => TValue::from(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => TValue::from(s.as_str()),
        Value::Array(items) => items.iter().map(to_template_value).collect(),
        Value::Object(map) => {
            TValue::from_pairs(map.iter().map(|(k, v)| (k.as_str(), to_template_value(v))))
        }
    }
}

fn describe(e: &minijinja::Error) -> String {
    let mut text = match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    };
    if let Some(line) = e.line() {
        let _ = write!(text, " (line {line})");
    }
    text
}

fn describe_with(e: &minijinja::Error, detail: &str) -> String {
    let mut text = format!("{}: {detail}", e.kind());
    if let Some(line) = e.line() {
        let _ = write!(text, " (line {line})");
    }
    text
}

/// Jinja2's `truncate(s, length=255, killwords=False, end='...', leeway=5)` (`leeway` by
/// keyword only: minijinja functions take at most five parameters).
fn truncate(
    value: &TValue,
    length: Option<usize>,
    killwords: Option<bool>,
    end: Option<String>,
    kwargs: Kwargs,
) -> Result<String, minijinja::Error> {
    let length = match length {
        Some(n) => n,
        None => kwargs.get::<Option<usize>>("length")?.unwrap_or(255),
    };
    let killwords = match killwords {
        Some(b) => b,
        None => kwargs.get::<Option<bool>>("killwords")?.unwrap_or(false),
    };
    let end = match end {
        Some(e) => e,
        None => kwargs
            .get::<Option<String>>("end")?
            .unwrap_or_else(|| "...".into()),
    };
    let leeway = kwargs.get::<Option<usize>>("leeway")?.unwrap_or(5);
    kwargs.assert_all_used()?;
    let text = match value.as_str() {
        Some(s) => s.to_string(),
        None if value.is_none() || value.is_undefined() => String::new(),
        None => value.to_string(),
    };
    let chars: Vec<char> = text.chars().collect();
    let end_len = end.chars().count();
    if length < end_len {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!("expected length >= {end_len}, got {length}"),
        ));
    }
    if chars.len() <= length + leeway {
        return Ok(text);
    }
    let head: String = chars[..length - end_len].iter().collect();
    let head = if killwords {
        head.as_str()
    } else {
        head.rsplit_once(' ')
            .map_or(head.as_str(), |(before, _)| before)
    };
    Ok(format!("{head}{end}"))
}

/// The template's top-level variables.
#[derive(Debug)]
struct Scope(BTreeMap<String, TValue>);

impl Object for Scope {
    fn get_value(self: &Arc<Self>, key: &TValue) -> Option<TValue> {
        self.0.get(key.as_str()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.0.keys().map(|k| TValue::from(k.as_str())).collect())
    }
}

/// Output sink that refuses to grow past [`MAX_OUTPUT_BYTES`].
#[derive(Default)]
struct CappedBuf {
    buf: Vec<u8>,
    overflow: bool,
}

impl io::Write for CappedBuf {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > MAX_OUTPUT_BYTES {
            self.overflow = true;
            return Err(io::Error::other("template output too large"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Prints values as Jinja2 (Python) does: `None`, `True`, `['a', 1]`, `{'k': 2.5}`.
fn jinja_formatter(
    out: &mut Output,
    state: &mut minijinja::State,
    value: &TValue,
) -> Result<(), minijinja::Error> {
    match value.kind() {
        ValueKind::None | ValueKind::Bool | ValueKind::Number | ValueKind::Seq | ValueKind::Map => {
            let mut text = String::new();
            py_repr(value, &mut text, 0);
            out.write_str(&text).map_err(minijinja::Error::from)
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

fn py_repr(value: &TValue, out: &mut String, depth: usize) {
    if depth > 64 {
        out.push_str("...");
        return;
    }
    match value.kind() {
        ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if value.is_true() { "True" } else { "False" }),
        ValueKind::Number if !value.is_integer() => match f64::try_from(value.clone()) {
            Ok(f) => out.push_str(&py_float_repr(f)),
            Err(_) => {
                let _ = write!(out, "{value}");
            }
        },
        ValueKind::String if depth > 0 => {
            out.push_str(&py_str_repr(value.as_str().unwrap_or_default()))
        }
        ValueKind::Seq => {
            out.push('[');
            if let Ok(items) = value.try_iter() {
                for (i, item) in items.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    py_repr(&item, out, depth + 1);
                }
            }
            out.push(']');
        }
        ValueKind::Map => {
            out.push('{');
            if let Ok(keys) = value.try_iter() {
                for (i, key) in keys.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    py_repr(&key, out, depth + 1);
                    out.push_str(": ");
                    py_repr(&value.get_item(&key).unwrap_or_default(), out, depth + 1);
                }
            }
            out.push('}');
        }
        _ => {
            let _ = write!(out, "{value}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state() -> State {
        State {
            trigger: json!({"text": "hello", "payload": {"ticket_id": 42}}),
            node_outputs: json!({
                "trigger_chat_1": {"text": "hello"},
                "agent_1": {"output": "The answer"},
                "route": {"route": "refunds"},
                "code_1": {"output": [1, 2, 3]},
            })
            .as_object()
            .cloned()
            .unwrap_or_default(),
            loop_: Some(json!({"item": {"name": "x"}, "index": 0, "total": 2})),
            ..State::default()
        }
    }

    fn vars() -> Value {
        variables(&state())
    }

    #[test]
    fn variables_hold_outputs_trigger_and_loop() {
        let v = vars();
        assert_eq!(v["agent_1"]["output"], json!("The answer"));
        assert_eq!(v["trigger"]["payload"]["ticket_id"], json!(42));
        assert_eq!(v["loop"]["index"], json!(0));
        let mut s = state();
        s.loop_ = None;
        assert!(variables(&s).get("loop").is_none());
    }

    #[test]
    fn renders_the_spec_examples() {
        let v = vars();
        assert_eq!(
            render_strict("{{ trigger.text }}", &v).expect("render"),
            "hello"
        );
        assert_eq!(
            render_strict("#{{ trigger.payload.ticket_id }}", &v).expect("render"),
            "#42"
        );
        assert_eq!(
            render_strict("{{ trigger_chat_1.text }}", &v).expect("render"),
            "hello"
        );
        assert_eq!(
            render_strict("{{ agent_1.output }}", &v).expect("render"),
            "The answer"
        );
        assert_eq!(
            render_strict("{{ route.route }}", &v).expect("render"),
            "refunds"
        );
        assert_eq!(
            render_strict("{{ loop.item.name }}/{{ loop.total }}", &v).expect("render"),
            "x/2"
        );
        assert_eq!(
            render_strict("{{ agent_1['output'] | upper }}", &v).expect("render"),
            "THE ANSWER"
        );
    }

    #[test]
    fn state_and_json_variables_agree() {
        let s = state();
        for t in [
            "{{ trigger.text }} {{ loop.index }}",
            "{% for x in code_1.output %}{{ x }},{% endfor %}",
        ] {
            assert_eq!(
                render_strict_with_state(t, &s),
                render_strict(t, &variables(&s))
            );
        }
        assert_eq!(
            render_strict_with_state("{% for x in code_1.output %}{{ x }},{% endfor %}", &s)
                .expect("render"),
            "1,2,3,"
        );
    }

    #[test]
    fn jinja2_rendering_of_python_values() {
        let v = json!({"a": {"t": true, "f": false, "n": null, "x": 2.0, "big": 1e16, "l": ["a", 1, true], "m": {"k": "it's"}}});
        assert_eq!(
            render_strict("{{ a.t }} {{ a.f }} {{ a.n }}", &v).expect("render"),
            "True False None"
        );
        assert_eq!(
            render_strict("{{ a.x }} {{ a.big }}", &v).expect("render"),
            "2.0 1e+16"
        );
        assert_eq!(
            render_strict("{{ a.l }}", &v).expect("render"),
            "['a', 1, True]"
        );
        assert_eq!(
            render_strict("{{ a.m }}", &v).expect("render"),
            "{'k': \"it's\"}"
        );
        assert_eq!(
            render_strict("{{ a.l | tojson }}", &v).expect("render"),
            "[\"a\", 1, true]"
        );
        // No HTML escaping.
        assert_eq!(
            render_strict("{{ s }}", &json!({"s": "<b>&</b>"})).expect("render"),
            "<b>&</b>"
        );
        // Python methods (pycompat) and Jinja2 filters from contrib.
        assert_eq!(
            render_strict("{{ trigger.get('missing', 'dflt') }}", &vars()).expect("render"),
            "dflt"
        );
        assert_eq!(
            render_strict("{{ trigger.text.upper() }}", &vars()).expect("render"),
            "HELLO"
        );
        let t = |src: &str| {
            render_strict(src, &json!({"s": "The quick brown fox jumps"})).expect("render")
        };
        assert_eq!(
            t("{{ s | truncate(22) }}"),
            "The quick brown fox jumps",
            "within the leeway"
        );
        assert_eq!(t("{{ s | truncate(9) }}"), "The...");
        assert_eq!(t("{{ s | truncate(12, leeway=0) }}"), "The...");
        assert_eq!(t("{{ s | truncate(12, True, leeway=0) }}"), "The quick...");
        assert_eq!(
            t("{{ s | truncate(length=14, end='…', leeway=0) }}"),
            "The quick…"
        );
        assert_eq!(t("{{ s | truncate }}"), "The quick brown fox jumps");
        // Jinja2 drops one trailing newline.
        assert_eq!(render_strict("a\n", &json!({})).expect("render"), "a");
    }

    #[test]
    fn strict_undefined_names_the_missing_path() {
        let v = vars();
        let err = render_strict("{{ nope }}", &v).expect_err("undefined");
        assert!(err.contains("'nope' is undefined"), "{err}");
        let err = render_strict("Hi\n{{ agent_1.outptu }}", &v).expect_err("undefined");
        assert!(err.contains("'agent_1.outptu' is undefined"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        let err = render_strict("{% if nope %}x{% endif %}", &v).expect_err("undefined");
        assert!(err.starts_with("undefined value"), "{err}");
        // Tests for definedness still work.
        assert_eq!(
            render_strict("{{ 'y' if nope is defined else 'n' }}", &v).expect("render"),
            "n"
        );
        assert_eq!(
            render_strict("{{ nope | default('d') }}", &v).expect("render"),
            "d"
        );
    }

    #[test]
    fn syntax_errors_are_reported() {
        let err = render_strict("{{ trigger.text ", &vars()).expect_err("syntax");
        assert!(err.starts_with("syntax error"), "{err}");
        let err = render_strict("{% for x in y %}", &json!({"y": []})).expect_err("syntax");
        assert!(err.contains("syntax error"), "{err}");
    }

    #[test]
    fn rendering_is_bounded() {
        let err = render_strict(
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            &json!({}),
        )
        .expect_err("fuel");
        assert!(err.contains("fuel"), "{err}");
        let err = render_strict(
            "{% for i in range(2000) %}{{ s }}{% endfor %}",
            &json!({"s": "x".repeat(1000)}),
        )
        .expect_err("too large");
        assert_eq!(err, format!("output exceeds {MAX_OUTPUT_BYTES} bytes"));
        // Just under the cap is fine.
        let ok =
            render_strict("{{ s }}", &json!({"s": "x".repeat(MAX_OUTPUT_BYTES)})).expect("fits");
        assert_eq!(ok.len(), MAX_OUTPUT_BYTES);
        // No file access.
        assert!(render_strict("{% include '/etc/passwd' %}", &json!({})).is_err());
    }

    #[test]
    fn lenient_resolution_leaves_failures_unchanged() {
        let v = vars();
        let input = json!({
            "a": "Say {{ trigger.text }}",
            "b": ["{{ agent_1.output }}", 3, {"c": "{{ missing.x }}"}],
            "d": "{% if true %}no braces{% endif %}",
            "e": "broken {{ ",
            "f": null,
        });
        assert_eq!(
            resolve_lenient(&input, &v),
            json!({
                "a": "Say hello",
                "b": ["The answer", 3, {"c": "{{ missing.x }}"}],
                "d": "{% if true %}no braces{% endif %}",
                "e": "broken {{ ",
                "f": null,
            })
        );
    }

    fn node(component_type: &str, config: Value) -> SnapNode {
        SnapNode {
            node_id: "n1".into(),
            component_type: component_type.into(),
            label: String::new(),
            is_entry_point: false,
            interrupt_before: false,
            interrupt_after: false,
            config,
            subworkflow_id: None,
        }
    }

    #[test]
    fn node_configs_resolve_prompt_and_extra_config() {
        let s = state();
        let n = node(
            "agent",
            json!({
                "system_prompt": "Ticket {{ trigger.payload.ticket_id }}",
                "model": "{{ trigger.text }}",
                "extra_config": {"input_template": "Q: {{ trigger.text }}", "nested": {"l": ["{{ loop.index }}"]}},
            }),
        );
        let r = resolve_node_config(&n, &s);
        assert_eq!(r.config["system_prompt"], json!("Ticket 42"));
        assert_eq!(
            r.config["model"],
            json!("{{ trigger.text }}"),
            "only system_prompt and extra_config"
        );
        assert_eq!(
            r.config["extra_config"]["input_template"],
            json!("Q: hello")
        );
        assert_eq!(r.config["extra_config"]["nested"]["l"][0], json!("0"));
        assert_eq!(r.node_id, "n1");
    }

    #[test]
    fn text_template_keeps_its_template_raw() {
        let s = state();
        let config = json!({"extra_config": {"template": "{{ trigger.text }}", "other": "{{ trigger.text }}"}});
        let r = resolve_node_config(&node("text_template", config.clone()), &s);
        assert_eq!(
            r.config["extra_config"]["template"],
            json!("{{ trigger.text }}")
        );
        assert_eq!(r.config["extra_config"]["other"], json!("hello"));
        let r = resolve_node_config(&node("code", config), &s);
        assert_eq!(r.config["extra_config"]["template"], json!("hello"));
        // No config at all.
        let r = resolve_node_config(&node("wait", Value::Null), &s);
        assert_eq!(r.config, Value::Null);
    }

    #[test]
    fn trigger_and_loop_win_over_node_ids() {
        let mut s = state();
        s.node_outputs
            .insert("trigger".into(), json!({"text": "node"}));
        s.node_outputs.insert("loop".into(), json!({"index": 99}));
        assert_eq!(
            render_strict_with_state("{{ trigger.text }} {{ loop.index }}", &s).expect("render"),
            "hello 0"
        );
        s.loop_ = None;
        assert_eq!(
            render_strict_with_state("{{ loop.index }}", &s).expect("render"),
            "99"
        );
    }

    /// `cargo test -p agentry-engine --release expr::tests::timing -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn timing() {
        let mut s = state();
        for i in 0..50 {
            s.node_outputs.insert(
                format!("big_{i}"),
                json!({"output": "x".repeat(10_000), "list": [1, 2, 3]}),
            );
        }
        let n = node(
            "agent",
            json!({
                "system_prompt": "You help with ticket {{ trigger.payload.ticket_id }}.",
                "extra_config": {"input_template": "{{ trigger.text }} / {{ agent_1.output }}", "max_steps": 10, "note": "plain"},
            }),
        );
        let rounds = 2000;
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(resolve_node_config(&n, &s));
        }
        println!(
            "resolve_node_config: {:?} per call",
            start.elapsed() / rounds
        );
        let start = std::time::Instant::now();
        let err = render_strict(
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            &json!({}),
        );
        println!("fuel exhaustion: {:?} ({err:?})", start.elapsed());
    }
}
