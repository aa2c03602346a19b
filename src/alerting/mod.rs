//! Alerting, probes and self-monitoring (issue 17): the pieces the model and render
//! wire in, each from a small typed input and each returning text or values.
//!
//! - [`rules`]: checking a user's Prometheus rule file, every problem at file:line:col;
//! - [`builtin`]: the stack's own alerts (a rule file generated from [`builtin::SelfMonitoring`]);
//! - [`dashboard`]: the Grafana dashboard of the stack itself;
//! - [`blackbox`]: the blackbox_exporter config and the scrape config of probe jobs;
//! - [`receivers`]: Alertmanager receivers and the route tree, credentials from files.
//!
//! - [`stack`]: the above for a validated stack (job names, the rule files it loads).
//!
//! A generator layer: it uses only the model (and `diagnostic` for the rule checker);
//! render and lint use it.
//!
//! Every function is deterministic (same input, same bytes) and never panics.

pub mod blackbox;
pub mod builtin;
pub mod dashboard;
pub mod promql;
pub mod receivers;
pub mod rules;
pub mod stack;
mod yaml;
