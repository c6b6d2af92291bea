//! `ptrack suggest`: ranked improvement suggestions for a version, from its runs and evals.

use super::error::{CliError, CliResult};
use super::output::Style;
use super::{Ctx, report_run_diagnostics};
use ptrack::Version;
use ptrack::suggest::{SuggestError, SuggestModel, SuggestQuery};

/// Suggest improvements to a version, from its runs, eval results, file and labels
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Each finding names its figures and a few example run ids (pass one to `ptrack export` or
search the logs). The rules and their thresholds: answers cut at the token limit (finish reason
`length` in at least 10% of at least 10 runs that record one); json/json_schema expectations
failing in at least 20% of the runs with expectations; failures concentrated in at most a third
of the cases; latency that tracks output length (r ≥ 0.8 over at least 20 runs, the slowest
answers 1.5× the median length); judge reasons that repeat (at least 3 runs); `check`'s template
warnings; a newer version that beat production in a paired eval (McNemar p < 0.05) but is not
labelled production.

With --rewrite, the version's text, parameters, failing cases (their inputs, outputs and failed
expectations), the judges' reasons and the findings go to the optimizer prompt (the project's
prompts/ptrack_optimizer/ when it has one, else the bundled one), and its answer is written as
the next version file (never over one), marked `proposed_from` (and `proposed_eval`, the eval
batch of the version's latest failures) in its front matter. Then `eval NAME --versions OLD,NEW`
runs both on the same cases and prints the comparison; --rounds N repeats the loop from the best
candidate so far (a candidate wins when it passes significantly more pairs, McNemar p < 0.05).
Nothing is committed: review the file
and the evidence, then open a pull request. An answer that is not a usable prompt is an error,
and no file is written.

Examples:
  ptrack suggest coaching_system
  ptrack suggest coaching_system --version 1.0 --json
  ptrack suggest coaching_system:production
  ptrack suggest coaching_system --rewrite --provider openai --base-url http://127.0.0.1:8080/v1
  ptrack suggest coaching_system --rewrite --rounds 3 --seed 1")]
pub struct SuggestArgs {
    /// Prompt name (NAME:LABEL for a labelled version)
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(super::completions::prompt_names))]
    pub name: String,
    /// The version (default: the latest)
    #[arg(long, short = 'v', value_parser = super::parse_version)]
    pub version: Option<Version>,
    /// The version this label names from labels.toml, instead of --version
    #[arg(long, conflicts_with = "version")]
    pub label: Option<String>,
    /// Ask the optimizer prompt for a rewrite, write it as the next version and eval it
    #[arg(long)]
    pub rewrite: bool,
    #[command(flatten)]
    pub server: super::ServerArgs,
    /// Seed of the eval's order of pairs (with --rewrite)
    #[arg(long, value_name = "N", requires = "rewrite")]
    pub seed: Option<u64>,
    /// Repeat the rewrite N times, each from the best candidate so far by the paired test
    #[arg(long, default_value_t = 1, value_name = "N", requires = "rewrite", value_parser = clap::value_parser!(u32).range(1..=20))]
    pub rounds: u32,
}

pub fn run(ctx: &mut Ctx, args: SuggestArgs) -> CliResult {
    let project = ctx.project()?;
    let registry = project.load_prompts();
    let (name, version) = super::named_version(
        &project,
        &registry,
        &args.name,
        args.version.as_ref(),
        args.label.as_deref(),
    )?;
    let model = project
        .suggest(&SuggestQuery {
            prompt: name,
            version,
        })
        .map_err(|e| match e {
            SuggestError::Lookup(l) => CliError::from(l),
        })?;
    report_run_diagnostics(ctx, &model.diagnostics);
    if args.rewrite {
        return rewrite(ctx, &project, &registry, &model, &args);
    }
    if ctx.ui.json {
        return ctx.ui.json(&model);
    }
    render(ctx, &model)
}

/// `--rewrite`: ask the optimizer, write its answer as the next version, eval it against the
/// version on the same cases; with `--rounds N`, again from the best candidate so far (a
/// candidate replaces it when it passes significantly more pairs: McNemar p < 0.05).
fn rewrite(
    ctx: &mut Ctx,
    project: &ptrack::Project,
    registry: &ptrack::Registry,
    model: &SuggestModel,
    args: &SuggestArgs,
) -> CliResult {
    let mut best = registry
        .resolve(&model.prompt, Some(&model.version))?
        .clone();
    let mut findings = model.findings.clone();
    let mut rounds = Vec::new();
    for round in 1..=args.rounds {
        if args.rounds > 1 {
            ctx.ui.status(&format!(
                "round {round} of {}: rewriting {} {}",
                args.rounds, best.name, best.version
            ));
        }
        let created = propose(ctx, project, &best, &findings, args)?;
        let spec = |v: &str| {
            v.parse::<ptrack::labels::VersionSpec>()
                .map_err(|e| CliError::new(e.to_string()))
        };
        let eval_args = super::eval::EvalArgs {
            names: vec![best.name.clone()],
            base: None,
            head: None,
            versions: Some((spec(best.version.as_str())?, spec(&created.version)?)),
            cases: None,
            repeat: 1,
            concurrency: 1,
            server: args.server.clone(),
            seed: args.seed,
            fresh: false,
            no_record: false,
            gates: super::EvalGateArgs {
                min_pass_rate: None,
                max_new_failures: None,
                max_pass_rate_drop_pts: None,
            },
        };
        let (summaries, interrupted) = super::eval::run_batches(ctx, &eval_args)?;
        if !ctx.ui.json {
            for s in &summaries {
                super::eval::print_summary(ctx, s)?;
            }
        }
        if interrupted {
            return Err(CliError::interrupted(format!(
                "interrupted: {} is written and the pairs done are kept",
                created.path.display()
            )));
        }
        let Some(eval) = summaries.into_iter().next() else {
            return Err(CliError::new(format!(
                "the eval of {} {} against {} gave no result",
                best.name, created.version, best.version
            )));
        };
        let better = ptrack::suggest::is_better(&eval);
        rounds.push(ptrack::suggest::RewriteRound {
            round,
            from_version: best.version.to_string(),
            candidate: created.clone(),
            eval,
            better,
        });
        if better {
            if args.rounds > 1 {
                ctx.ui.status(&format!(
                    "{} {} passed significantly more pairs than {}: it is the best candidate so far",
                    best.name, created.version, best.version
                ));
            }
            best = resolve_created(project, &best.name, &created)?;
            if round < args.rounds {
                findings = project
                    .suggest(&SuggestQuery {
                        prompt: best.name.clone(),
                        version: Some(best.version.clone()),
                    })
                    .map_err(|e| match e {
                        SuggestError::Lookup(l) => CliError::from(l),
                    })?
                    .findings;
            }
        } else if args.rounds > 1 {
            ctx.ui.status(&format!(
                "{} {} is not significantly better than {}: keeping {}",
                best.name, created.version, best.version, best.version
            ));
        }
    }
    if ctx.ui.json {
        return ctx.ui.json(&ptrack::suggest::RewriteModel {
            prompt: model.prompt.clone(),
            from_version: model.version.to_string(),
            rounds,
            best_version: best.version.to_string(),
        });
    }
    if args.rounds > 1 {
        ctx.ui.status(&format!(
            "best candidate: {} {} (review it, then open a pull request)",
            best.name, best.version
        ));
    }
    Ok(())
}

/// The version `created` wrote, read back from the prompt files.
fn resolve_created(
    project: &ptrack::Project,
    name: &str,
    created: &ptrack::create::Created,
) -> CliResult<ptrack::PromptVersion> {
    let registry = project.load_prompts();
    let version: Version = created
        .version
        .parse()
        .map_err(|e: ptrack::VersionError| CliError::new(e.to_string()))?;
    Ok(registry.resolve(name, Some(&version))?.clone())
}

/// Ask the optimizer for a rewrite of `version` and write it as the next version file.
fn propose(
    ctx: &mut Ctx,
    project: &ptrack::Project,
    version: &ptrack::PromptVersion,
    findings: &[ptrack::suggest::Finding],
    args: &SuggestArgs,
) -> CliResult<ptrack::create::Created> {
    use ptrack::suggest::{optimizer, parse_rewrite, rewrite_vars};
    let registry = project.load_prompts();
    let (runs, _) = project.run_views(&version.name, &version.version);
    let opt = optimizer(&registry)?;
    let vars = rewrite_vars(version, &runs, findings);
    let text = ptrack::render::render_prompt(&opt, &vars)?;
    let overrides = args.server.overrides();
    let env = |var: &str| std::env::var(var).ok();
    let trust = super::trust::load(project)?;
    let endpoint =
        ptrack::provider::Endpoint::resolve(project.config(), &opt, &overrides, &env, &trust)?;
    let opt_model = args
        .server
        .model
        .clone()
        .or_else(|| opt.meta.model.clone())
        .or_else(|| version.meta.model.clone())
        .or_else(|| project.config().defaults.model.clone())
        .ok_or_else(|| {
            CliError::new("the optimizer prompt names no model")
                .with_hint("pass --model or set [defaults] model in ptrack.toml")
        })?;
    let body = match endpoint.provider {
        ptrack::Provider::Ollama => ptrack::render::ollama_body(&opt, &opt_model, &text),
        ptrack::Provider::Openai => ptrack::render::openai_body(&opt, &opt_model, &text),
    };
    ctx.ui.status(&format!(
        "asking {} {} on {} ({}) for a rewrite of {} {}",
        opt.name,
        opt.version,
        opt_model,
        ptrack::provider::body_url(&endpoint, &body),
        version.name,
        version.version
    ));
    let (answer, _) = ptrack::provider::complete(&endpoint, &body);
    let answer = answer.map_err(|e| {
        CliError::new(format!("the optimizer request failed: {e}")).with_hint("nothing was written")
    })?;
    let new_text = parse_rewrite(&answer.output, version).map_err(|e| {
        let start: String = answer.output.chars().take(300).collect();
        CliError::new(format!(
            "the optimizer's answer is not a usable prompt: {e}; nothing was written"
        ))
        .with_hint(format!("the answer began: {start:?}"))
    })?;
    let batch = runs
        .iter()
        .rev()
        .find(|r| !r.success && r.eval.is_some())
        .and_then(|r| r.eval.clone());
    let created = project.write_proposal(version, &new_text, batch.as_deref(), ctx.now)?;
    ctx.ui.status(&format!(
        "wrote {} ({} {}, proposed from {}); evaluating it against {} on the same cases",
        created.path.display(),
        created.name,
        created.version,
        version.version,
        version.version
    ));
    Ok(created)
}

/// The findings as text, one numbered block each.
fn render(ctx: &mut Ctx, model: &SuggestModel) -> CliResult {
    let head = format!(
        "{} {} ({}): {} run(s), {} finding(s)",
        model.prompt,
        model.version,
        model.file.display(),
        model.runs,
        model.findings.len()
    );
    let head = ctx.ui.emphasize(&head, Style::Bold);
    ctx.ui.line(&head)?;
    for (i, f) in model.findings.iter().enumerate() {
        let rule = ctx.ui.paint(f.rule.as_str(), Style::Cyan);
        ctx.ui.line(&format!("{}. [{rule}] {}", i + 1, f.finding))?;
        ctx.ui.line(&format!("   → {}", f.suggestion))?;
        if !f.examples.is_empty() {
            ctx.ui
                .line(&format!("   runs: {}", f.examples.join(", ")))?;
        }
    }
    if model.findings.is_empty() {
        ctx.ui.status(
            "nothing to suggest: no rule fired (run the version on its cases with `ptrack run` or `ptrack eval` for more data)",
        );
    }
    Ok(())
}
