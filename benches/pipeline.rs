//! In-process cost of each pipeline stage (the budgets are in BENCHMARKS.md).
//!
//! `cargo bench --bench pipeline` times, on the largest example (stacks/sharded-64.toml:
//! 64 shards x 2 replicas, Thanos, Alertmanager, Grafana): TOML parse with spans, the
//! schema check (the build-time compiled fast path and the full jsonschema validator),
//! the typed model, lint, the whole `check`, the streamed render (`render::write_stream`,
//! what `stackgen render` runs), render to objects and their YAML emission (what `diff`
//! and `-o DIR` run), plus both render paths over 1, 4, 16, 64 and 256 shards.
//! Whole-process figures (process start, first-use costs, output) come from
//! `scripts/bench.sh`.
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
    g.bench_function("schema (compiled fast path)", |b| {
        b.iter(|| assert!(model::schema::quick_accepts(black_box(&parsed.json))))
    });
    g.bench_function("schema (full validator)", |b| b.iter(|| model::schema::check(black_box(&parsed))));
    g.bench_function("model", |b| {
        b.iter(|| {
            let raw = <RawStack as serde::Deserialize>::deserialize(black_box(&parsed.json)).expect("deserializes");
            model::validate(&raw, &parsed).expect("valid")
        })
    });
    g.bench_function("lint", |b| b.iter(|| lint::lint(black_box(&stack), &parsed)));
    g.bench_function("check", |b| {
        let src = source::Source::new("sharded-64.toml", text);
        b.iter(|| stackgen::check(black_box(&src)).expect("valid"))
    });
    g.throughput(Throughput::Bytes(yaml.len() as u64));
    g.bench_function("render (streamed)", |b| {
        b.iter(|| render::write_stream(black_box(&stack), &mut std::io::sink()).expect("sink"))
    });
    g.bench_function("render to objects", |b| b.iter(|| render::render(black_box(&stack))));
    g.bench_function("emit objects", |b| b.iter(|| render::to_yaml(black_box(&objs))));
    g.finish();
}

fn shard_sweep(c: &mut Criterion) {
    let stacks: Vec<(u32, model::Stack)> = [1u32, 4, 16, 64, 256]
        .into_iter()
        .map(|n| {
            let text = with_shards(n);
            let parsed = source::parse(&text).expect("parses");
            let raw: RawStack = toml::from_str(&text).expect("deserializes");
            (n, model::validate(&raw, &parsed).expect("valid"))
        })
        .collect();
    let mut g = c.benchmark_group("streamed render by shards");
    for (n, stack) in &stacks {
        g.throughput(Throughput::Elements(u64::from(*n)));
        g.bench_with_input(BenchmarkId::from_parameter(n), stack, |b, stack| {
            b.iter(|| render::write_stream(black_box(stack), &mut std::io::sink()).expect("sink"))
        });
    }
    g.finish();
    let mut g = c.benchmark_group("objects render+emit by shards");
    g.sample_size(20);
    for (n, stack) in &stacks {
        g.throughput(Throughput::Elements(u64::from(*n)));
        g.bench_with_input(BenchmarkId::from_parameter(n), stack, |b, stack| {
            b.iter(|| render::to_yaml(&render::render(black_box(stack))))
        });
    }
    g.finish();
}

criterion_group!(benches, stages, shard_sweep);
criterion_main!(benches);
