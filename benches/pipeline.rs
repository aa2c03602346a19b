//! In-process cost of each pipeline stage (issue 7; budgets in design.md "Budgets").
//!
//! `cargo bench --bench pipeline` times, on the largest example (stacks/sharded-64.toml:
//! 64 shards x 2 replicas, Thanos, Alertmanager, Grafana): TOML parse with spans, JSON
//! Schema validation, the typed model, lint, render to objects and YAML emission, plus
//! the whole `check` and render+emit over 1, 4, 16, 64 and 256 shards. Whole-process
//! figures (process start, schema compilation, output) come from `scripts/bench.sh`.
//! Nothing here asserts a time: the numbers are read, not tested.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use stackgen::model::raw::RawStack;
use stackgen::{lint, model, render, source};

const SHARDED_64: &str = include_str!("../stacks/sharded-64.toml");

/// sharded-64.toml with another shard count.
fn with_shards(n: u32) -> String {
    assert!(SHARDED_64.contains("\nshards = 64\n"), "sharded-64.toml sets shards = 64");
    SHARDED_64.replace("\nshards = 64\n", &format!("\nshards = {n}\n"))
}

fn stages(c: &mut Criterion) {
    let text = SHARDED_64;
    let parsed = source::parse(text).expect("parses");
    let raw: RawStack = toml::from_str(text).expect("deserializes");
    let stack = model::validate(&raw, &parsed).expect("valid");
    let objs = render::render(&stack);
    let yaml = render::to_yaml(&objs);
    // Compile the schema outside the timed loop: that is once per process.
    assert!(model::schema::check(&parsed).is_empty());

    let mut g = c.benchmark_group("sharded-64");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("parse", |b| b.iter(|| source::parse(black_box(text)).expect("parses")));
    g.bench_function("schema", |b| b.iter(|| model::schema::check(black_box(&parsed))));
    g.bench_function("model", |b| {
        b.iter(|| {
            let raw: RawStack = toml::from_str(black_box(text)).expect("deserializes");
            model::validate(&raw, &parsed).expect("valid")
        })
    });
    g.bench_function("lint", |b| b.iter(|| lint::lint(black_box(&stack), &parsed)));
    g.bench_function("check", |b| {
        let src = source::Source::new("sharded-64.toml", text);
        b.iter(|| stackgen::check(black_box(&src)).expect("valid"))
    });
    g.throughput(Throughput::Bytes(yaml.len() as u64));
    g.bench_function("render", |b| b.iter(|| render::render(black_box(&stack))));
    g.bench_function("emit", |b| b.iter(|| render::to_yaml(black_box(&objs))));
    g.finish();
}

fn shard_sweep(c: &mut Criterion) {
    let mut g = c.benchmark_group("render+emit by shards");
    g.sample_size(20);
    for n in [1u32, 4, 16, 64, 256] {
        let text = with_shards(n);
        let parsed = source::parse(&text).expect("parses");
        let raw: RawStack = toml::from_str(&text).expect("deserializes");
        let stack = model::validate(&raw, &parsed).expect("valid");
        g.throughput(Throughput::Elements(u64::from(n)));
        g.bench_with_input(BenchmarkId::from_parameter(n), &stack, |b, stack| {
            b.iter(|| render::to_yaml(&render::render(black_box(stack))))
        });
    }
    g.finish();
}

criterion_group!(benches, stages, shard_sweep);
criterion_main!(benches);
