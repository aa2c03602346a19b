//! The integration tests: one binary (`cargo test --test it`), one module per area.
//! `common` holds the helpers every module shares: paths, the real-component and
//! validator lookups, the snapshot helper and the lock the real-component tests hold.
//!
//! Run one area with a filter: `cargo test --test it golden::`, `cargo test --test it
//! -- control_plane thanos_e2e`.

mod common;

mod alerting;
mod alerting_e2e;
mod alertmanager_e2e;
mod behaviour;
mod binding;
mod checkov;
mod cli_formats;
mod control_plane;
mod dashboard;
mod data_layout;
mod determinism;
mod diff;
mod diff_helm;
mod diff_helm_operator;
mod exposure;
mod fuzz;
mod golden;
mod hardening;
mod helm;
mod invalid;
mod lifecycle;
mod lint_config;
mod lint_rules;
mod operator;
mod receivers;
mod reload_e2e;
mod render_cli;
mod resources;
mod secrets;
mod sharding_e2e;
mod stream;
mod thanos;
mod thanos_e2e;
mod validators;
