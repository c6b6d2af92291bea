//! `ptrack show`: one version's attributes, text, run stats and last output.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::error::CliResult;
use super::output::{self, Style};
use super::{Ctx, find_prompt, find_version};
use ptrack::PromptVersion;
use ptrack::metrics::Metrics;
use ptrack::runlog::RunSet;
use ptrack::runlog::{Event, RunFilter, scan};

/// Show a prompt version: attributes, text, run stats and the last output recorded
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  ptrack show coaching_system\n  ptrack show coaching_system --version 1.0 --json"
)]
pub struct ShowArgs {
    /// Prompt name
    pub name: String,
    /// Version to show (default: the latest)
    #[arg(long, short = 'v')]
    pub version: Option<String>,
}

#[derive(Serialize)]
struct ShowModel<'a> {
    #[serde(flatten)]
    version: &'a PromptVersion,
    versions: Vec<String>,
    runs: Metrics,
    last_output: Option<LastOutput>,
}

#[derive(Serialize)]
struct LastOutput {
    run_id: String,
    ts: DateTime<Utc>,
    success: bool,
    output: String,
    error: Option<String>,
}

pub fn run(ctx: &mut Ctx, args: ShowArgs) -> CliResult {
    let project = ctx.project()?;
    let registry = project.load_prompts();
    let prompt = find_prompt(&registry, &args.name)?;
    let v = find_version(prompt, args.version.as_deref())?;
    let filter = RunFilter {
        prompt: Some(prompt.name.clone()),
        version: Some(v.version.to_string()),
        ..RunFilter::default()
    };
    let runs = RunSet::load(&project.runs_dir(), Path::new("runs"), &filter);
    let last_output = last_output(&project.runs_dir(), &filter);
    let model = ShowModel {
        version: v,
        versions: prompt
            .versions
            .iter()
            .map(|v| v.version.to_string())
            .collect(),
        runs: Metrics::compute(&runs.runs),
        last_output,
    };
    if ctx.ui.json {
        return ctx.ui.json(&model);
    }
    render(ctx, &model, project.config().defaults.model.as_deref())
}

/// The output of the latest run (by time) that passes `filter`.
fn last_output(runs_dir: &Path, filter: &RunFilter) -> Option<LastOutput> {
    let mut best: Option<(DateTime<Utc>, String)> = None;
    scan(runs_dir, Path::new("runs"), filter, |_, _, line, ev| {
        if let Event::Run(r) = ev
            && best.as_ref().is_none_or(|(ts, _)| r.ts >= *ts)
        {
            best = Some((r.ts, line.to_string()));
        }
    });
    let (ts, line) = best?;
    let v: serde_json::Value = serde_json::from_str(&line).ok()?;
    Some(LastOutput {
        run_id: v["id"].as_str().unwrap_or_default().to_string(),
        ts,
        success: v["success"].as_bool().unwrap_or(false),
        output: v["output"].as_str().unwrap_or_default().to_string(),
        error: v["error"].as_str().map(str::to_string),
    })
}

fn render(ctx: &mut Ctx, m: &ShowModel<'_>, default_model: Option<&str>) -> CliResult {
    let v = m.version;
    let meta = &v.meta;
    let title = format!("{} {}", v.name, v.version);
    ctx.ui.line(&format!(
        "{}  {}",
        ctx.ui.paint(&title, Style::Bold),
        ctx.ui.paint(&v.path.display().to_string(), Style::Dim)
    ))?;
    let mut rows: Vec<(&str, String)> = Vec::new();
    let opt = |x: Option<String>| x.unwrap_or_else(output::dash);
    rows.push(("goal", opt(meta.goal.clone())));
    rows.push((
        "model",
        match (&meta.model, default_model) {
            (Some(m), _) => m.clone(),
            (None, Some(d)) => format!("{d} (default from ptrack.toml)"),
            (None, None) => output::dash(),
        },
    ));
    rows.push((
        "provider",
        opt(meta.provider.map(|p| p.as_str().to_string())),
    ));
    rows.push((
        "temperature",
        opt(meta.params.temperature.map(|x| x.to_string())),
    ));
    rows.push((
        "token_limit",
        opt(meta.params.token_limit.map(|x| x.to_string())),
    ));
    rows.push(("top_k", opt(meta.params.top_k.map(|x| x.to_string()))));
    rows.push(("top_p", opt(meta.params.top_p.map(|x| x.to_string()))));
    rows.push((
        "created_at",
        opt(meta
            .created_at
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))),
    ));
    rows.push((
        "tags",
        if meta.tags.is_empty() {
            output::dash()
        } else {
            meta.tags.join(", ")
        },
    ));
    if let Some(d) = &meta.description {
        rows.push(("description", d.trim().to_string()));
    }
    for (k, val) in &meta.extra {
        rows.push((k.as_str(), val.to_string()));
    }
    rows.push(("versions", m.versions.join(", ")));
    rows.push(("blob", v.blob_sha.clone()));
    let r = &m.runs;
    rows.push((
        "runs",
        if r.runs == 0 {
            "none yet".to_string()
        } else {
            format!(
                "{} · success {} · p50 {} · p95 {} · quality {} · last {}",
                r.runs,
                output::pct(r.success_rate),
                output::ms(r.time_ms.map(|t| t.p50)),
                output::ms(r.time_ms.map(|t| t.p95)),
                output::quality(r.quality_mean, r.quality_n),
                output::time(r.last_run)
            )
        },
    ));
    for (k, val) in rows {
        let key = format!("{k:<12}");
        ctx.ui.line(&format!(
            "{} {}",
            ctx.ui.paint(&key, Style::Cyan),
            val.replace('\n', "\n             ")
        ))?;
    }
    if !meta.variables.is_empty() {
        ctx.ui.line(&ctx.ui.paint("variables", Style::Cyan))?;
        for (name, var) in &meta.variables {
            let mut line = format!("  {name}");
            if let Some(d) = &var.default {
                line.push_str(&format!(" (default {d:?})"));
            }
            if let Some(d) = &var.description {
                line.push_str(&format!(": {d}"));
            }
            ctx.ui.line(&line)?;
        }
    }
    ctx.ui.line("")?;
    ctx.ui.line(&ctx.ui.paint("── prompt ──", Style::Bold))?;
    ctx.ui.write(&v.text)?;
    if !v.text.ends_with('\n') {
        ctx.ui.line("")?;
    }
    if let Some(o) = &m.last_output {
        ctx.ui.line("")?;
        let status = if o.success {
            ctx.ui.paint("ok", Style::Green)
        } else {
            ctx.ui.paint("failed", Style::Red)
        };
        ctx.ui.line(&format!(
            "{} {} · {} · run {}",
            ctx.ui.paint("── last output ──", Style::Bold),
            output::time(Some(o.ts)),
            status,
            o.run_id
        ))?;
        if let Some(e) = &o.error {
            ctx.ui.line(&format!("error: {e}"))?;
        }
        if o.output.is_empty() {
            ctx.ui.line(&ctx.ui.paint("(no output)", Style::Dim))?;
        }
        // A long output is cut on a terminal page's worth of characters; JSON has it whole.
        const SHOWN: usize = 4000;
        let total = o.output.chars().count();
        let text: String = o.output.chars().take(SHOWN).collect();
        ctx.ui.write(&text)?;
        if !text.is_empty() && !text.ends_with('\n') {
            ctx.ui.line("")?;
        }
        if total > SHOWN {
            let more = format!(
                "… {} more characters (`ptrack show … --json` or `ptrack export` has the whole text)",
                total - SHOWN
            );
            ctx.ui.line(&ctx.ui.paint(&more, Style::Dim))?;
        }
    }
    Ok(())
}
