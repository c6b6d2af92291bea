//! `ptrack show`: one version's attributes, text, run stats and last output.

use super::Ctx;
use super::error::CliResult;
use super::output::{self, Style};
use ptrack::Version;
use ptrack::format::times;
use ptrack::query::ShowModel;

/// Show a prompt version: attributes, text, run stats and the last output recorded
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  ptrack show coaching_system\n  ptrack show coaching_system --version 1.0 --json"
)]
pub struct ShowArgs {
    /// Prompt name, or NAME:LABEL
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(super::completions::prompt_names))]
    pub name: String,
    /// Version to show (default: the latest)
    #[arg(long, short = 'v', value_parser = super::parse_version)]
    pub version: Option<Version>,
    /// Version by label from labels.toml (also NAME:LABEL), instead of --version
    #[arg(long, conflicts_with = "version")]
    pub label: Option<String>,
}

pub fn run(ctx: &mut Ctx, args: ShowArgs) -> CliResult {
    let project = ctx.project()?;
    let registry = project.load_prompts();
    let (name, version) = super::named_version(
        &project,
        &registry,
        &args.name,
        args.version.as_ref(),
        args.label.as_deref(),
    )?;
    let model = project.show(&name, version.as_ref())?;
    super::report_run_diagnostics(ctx, &model.diagnostics);
    if ctx.ui.json {
        return ctx.ui.json(&model);
    }
    render(ctx, &model)
}

fn render(ctx: &mut Ctx, m: &ShowModel) -> CliResult {
    let v = &m.version;
    let default_model = m.default_model.as_deref();
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
    if v.is_chat() {
        let list: Vec<String> = v
            .messages
            .iter()
            .map(|m| format!("{} (line {})", m.role, m.line))
            .collect();
        rows.push(("messages", list.join(", ")));
    }
    rows.push(("versions", m.versions.join(", ")));
    rows.push(("blob", v.blob_sha.clone()));
    let r = &m.runs;
    rows.push((
        "runs",
        if r.runs == 0 {
            "none yet".to_string()
        } else {
            let [p50, p95] = times([r.time_ms.map(|t| t.p50), r.time_ms.map(|t| t.p95)]);
            format!(
                "{} · success {} · p50 {} · p95 {} · quality {} · last {}",
                r.runs,
                output::pct(r.success_rate),
                p50,
                p95,
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
