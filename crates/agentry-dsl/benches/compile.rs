//! DSL compile benchmark (BENCHMARKS.md "DSL"): parse + compile + finalize (models resolved by
//! a stub) of generated 10- and 200-step documents, and export + recompile of the 200-step
//! graph. Pure CPU, no I/O. Run: `cargo bench -p agentry-dsl --bench compile`.
//!
//! The documents mix every common step shape: code, transform, an agent with an explicit
//! model and two inline tools, an http step, a wait, and every 10th step a switch routing to
//! the next two steps; so a 200-step document compiles to about 330 nodes.

use agentry_dsl::{ModelRef, ResolvedModel, compile_text, export};
use std::fmt::Write;
use std::hint::black_box;
use std::time::Instant;

/// A create-mode document with `n` steps.
pub fn document(n: usize) -> String {
    let mut s = String::from("name: Bench Flow\ntrigger: manual\ntags: [bench]\nsteps:\n");
    let mut i = 0;
    while i < n {
        if i % 10 == 9 && i + 2 < n {
            let _ = write!(
                s,
                "  - id: s{i}\n    type: switch\n    rules: [{{field: node_outputs.s{p}.output, operator: contains, value: yes, route: s{a}}}]\n    default: s{b}\n",
                p = i - 1,
                a = i + 1,
                b = i + 2
            );
            i += 1;
            continue;
        }
        match i % 5 {
            0 => {
                let _ = write!(
                    s,
                    "  - id: s{i}\n    type: code\n    snippet: |\n      x = {i}\n      return x * 2\n"
                );
            }
            1 => {
                let _ = writeln!(
                    s,
                    "  - {{id: s{i}, type: transform, template: 'Step {i}: {{{{ trigger.text }}}}'}}"
                );
            }
            2 => {
                let _ = write!(
                    s,
                    "  - id: s{i}\n    type: agent\n    prompt: You are step {i}. Be brief.\n    model: {{credential_id: 1, model_name: gpt-4o-mini, temperature: 0.2}}\n    tools: [calculator, {{type: http_request, allow_hosts: [example.com]}}]\n"
                );
            }
            3 => {
                let _ = writeln!(
                    s,
                    "  - {{id: s{i}, type: http, url: 'https://example.com/{i}', method: POST, body: '{{{{ trigger.text }}}}'}}"
                );
            }
            _ => {
                let _ = writeln!(s, "  - {{id: s{i}, type: wait, delay: 1}}");
            }
        }
        i += 1;
    }
    s
}

fn compile_once(text: &str) -> usize {
    let compiled = compile_text(text).expect("the bench document compiles");
    let mut resolver = |spec: &ModelRef| -> Result<ResolvedModel, String> {
        Ok(match spec {
            ModelRef::Explicit {
                credential_id,
                model_name,
                temperature,
            } => ResolvedModel {
                credential_id: Some(*credential_id),
                model_name: Some(model_name.clone()),
                temperature: *temperature,
            },
            _ => ResolvedModel::default(),
        })
    };
    let (graph, errors) = compiled.finalize(&mut resolver, None);
    assert!(errors.is_empty(), "{errors:?}");
    graph.nodes.len() + graph.edges.len()
}

fn summary(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    (pct(0.5), pct(0.99))
}

fn time(samples: usize, mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..samples.min(20) {
        f();
    }
    let mut v = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = Instant::now();
        f();
        v.push(t.elapsed().as_secs_f64() * 1e6);
    }
    summary(v)
}

fn main() {
    println!("| Document | Nodes / edges | Compile p50 | p99 |");
    println!("|---|---|---|---|");
    for (n, samples) in [(10usize, 2000usize), (200, 300)] {
        let text = document(n);
        let compiled = compile_text(&text).expect("compiles");
        let (nodes, edges) = (compiled.graph.nodes.len(), compiled.graph.edges.len());
        let (p50, p99) = time(samples, || {
            black_box(compile_once(black_box(&text)));
        });
        println!(
            "| {n} steps ({} KiB) | {nodes} / {edges} | {p50:.0} µs | {p99:.0} µs |",
            text.len() / 1024
        );
    }
    // Export of the compiled 200-step graph, then compiling the export (explicit form).
    let compiled = compile_text(&document(200)).expect("compiles");
    let (p50, p99) = time(300, || {
        black_box(export(black_box(&compiled.graph)));
    });
    println!("| export, 200 steps | — | {p50:.0} µs | {p99:.0} µs |");
    let exported = export(&compiled.graph);
    let (p50, p99) = time(300, || {
        black_box(compile_text(black_box(&exported)).expect("export compiles"));
    });
    println!(
        "| compile the export, 200 steps ({} KiB) | — | {p50:.0} µs | {p99:.0} µs |",
        exported.len() / 1024
    );
}
