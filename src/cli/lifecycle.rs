//! `stackgen plan` and `stackgen migrate`: the stack over time.

use std::io::Write;

use stackgen::lifecycle::{migrate, plan};
use stackgen::source::Source;

use super::args::{PlanFormat, RenderFormat};
use super::print_human;

/// Load and check a stack for a command that needs a valid one: the diagnostics go to
/// stderr; `None` when the stack has errors or cannot be read.
fn checked_stack(path: &str) -> Option<stackgen::Checked> {
    let src: Source = match stackgen::load(path) {
        Ok(s) => s,
        Err(e) => {
            say!("error[SG006]: {e}");
            return None;
        }
    };
    match stackgen::check(&src) {
        Ok(c) => {
            print_human(&src, &c.warnings);
            Some(c)
        }
        Err(diags) => {
            print_human(&src, &diags);
            None
        }
    }
}

/// `stackgen plan`: 0 with a plan, 1 when the stack has errors, 2 when it declares no load.
pub fn plan(path: &str, format: PlanFormat, stdout: &mut impl Write) -> std::io::Result<u8> {
    let Some(checked) = checked_stack(path) else { return Ok(1) };
    match plan::plan(&checked.stack) {
        Ok(p) => {
            let text = match format {
                PlanFormat::Human => p.to_human(),
                PlanFormat::Json => p.to_json(),
            };
            stdout.write_all(text.as_bytes())?;
            stdout.flush()?;
            Ok(0)
        }
        Err(plan::PlanError::NoLoad) => {
            say!(
                "error: {path} declares no load to plan from\n  help: set [prometheus] ingestion_rate (samples/s of the whole stack) or active_series"
            );
            Ok(2)
        }
    }
}

/// What `stackgen migrate` was asked.
pub struct MigrateArgs<'a> {
    pub stack: &'a str,
    pub from: Option<&'a str>,
    pub resize: bool,
    pub shard: u16,
    pub replica: u32,
    pub bwlimit: &'a str,
    pub target: RenderFormat,
}

/// `stackgen migrate`: the runbook on stdout; 1 when the stack has errors, 2 when no
/// runbook can be written for these arguments.
pub fn migrate(a: &MigrateArgs<'_>, stdout: &mut impl Write) -> std::io::Result<u8> {
    let Some(checked) = checked_stack(a.stack) else { return Ok(1) };
    let target = match a.target {
        RenderFormat::Manifests => migrate::Target::Manifests,
        RenderFormat::HelmValues => migrate::Target::HelmValues,
        RenderFormat::Operator => {
            // Its claims are named as the chart's, but the runbook's cut-over applies the
            // chart; not written for the operator render yet.
            say!(
                "error: migrate has no runbook for --target operator yet; the operator render's claims are named \
                 as helm-values' (`migrate --target helm-values` shows them), apply operator.yaml instead of the chart"
            );
            return Ok(2);
        }
    };
    let text = match a.from {
        Some(from) if !a.resize => {
            let req = migrate::Request {
                stack_path: a.stack,
                from,
                shard: a.shard,
                replica: a.replica,
                bwlimit: a.bwlimit,
                target,
            };
            migrate::runbook(&checked.stack, &req)
        }
        _ => migrate::resize_runbook(&checked.stack, a.stack, target),
    };
    match text {
        Ok(t) => {
            stdout.write_all(t.as_bytes())?;
            stdout.flush()?;
            Ok(0)
        }
        Err(e) => {
            say!("error: {e}");
            Ok(2)
        }
    }
}
