//! One file per lint rule, named `<code>_<kebab name>.rs`: the rule's documentation (its
//! `DOC`, read by the registry in `diagnostic/codes.rs`) beside the `check` that raises
//! it. To add a rule: take the next free code, add its file here and to
//! [`STACK_RULES`], its entry to the registry, and a fixture under tests/lint/.

pub(crate) mod sg101_no_persistent_storage;
pub(crate) mod sg102_nfs_tsdb;
pub(crate) mod sg103_static_volume_count;
pub(crate) mod sg105_reclaim_delete;
pub(crate) mod sg106_retention_size_vs_volume;
pub(crate) mod sg107_disk_estimate;
pub(crate) mod sg110_shards_without_query;
pub(crate) mod sg113_compactor_retention;
pub(crate) mod sg119_volume_too_small;
pub(crate) mod sg121_component_ephemeral;
pub(crate) mod sg122_root_provisioner;
pub(crate) mod sg123_grafana_admin;
pub(crate) mod sg124_secret_value;
pub(crate) mod sg125_helm_unsupported;
pub(crate) mod sg127_namespace_default;
pub(crate) mod sg128_namespace_kube;
pub(crate) mod sg129_control_plane_localhost;
pub(crate) mod sg130_retention_size_headroom;
pub(crate) mod sg138_memory_estimate;
pub(crate) mod sg147_memory_limit_below_flags;
pub(crate) mod sg155_no_receivers;
pub(crate) mod sg156_exposed_without_from;
pub(crate) mod sg160_operator_unsupported;

use super::Checker;

/// The rules over a validated stack, in code order. SG124 (over the parsed file) and
/// SG125 (for the helm-values target) have entry points of their own in `lint`.
pub(crate) const STACK_RULES: &[fn(&mut Checker<'_>)] = &[
    sg101_no_persistent_storage::check,
    sg102_nfs_tsdb::check,
    sg103_static_volume_count::check,
    sg105_reclaim_delete::check,
    sg106_retention_size_vs_volume::check,
    sg107_disk_estimate::check,
    sg110_shards_without_query::check,
    sg113_compactor_retention::check,
    sg119_volume_too_small::check,
    sg121_component_ephemeral::check,
    sg122_root_provisioner::check,
    sg123_grafana_admin::check,
    sg127_namespace_default::check,
    sg128_namespace_kube::check,
    sg129_control_plane_localhost::check,
    sg130_retention_size_headroom::check,
    sg138_memory_estimate::check,
    sg147_memory_limit_below_flags::check,
    sg155_no_receivers::check,
    sg156_exposed_without_from::check,
];
