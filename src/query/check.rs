//! `check`: every problem in the prompt files, `ptrack.toml` and the run logs, as diagnostics.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;

use crate::diagnostic::Diagnostic;
use crate::project::Project;
use crate::runlog::{RunFilter, log_files};
use crate::version::Version;

/// What to check beyond the files themselves.
#[derive(Debug, Clone, Default)]
pub struct CheckQuery {
    /// Also report version files with runs that were edited in place since this revision.
    pub base: Option<String>,
}

/// Diagnostic codes a front end can attach advice to.
pub mod codes {
    /// A version file with runs was edited in place since the base.
    pub const IN_PLACE_EDIT: &str = "in-place-edit";
    /// Runs name a prompt version that has no file.
    pub const RUNS_WITHOUT_VERSION: &str = "runs-without-version";
    /// A rating names a run no log holds.
    pub const ORPHAN_RATING: &str = "orphan-rating";
    /// Two runs in the logs have the same id.
    pub const REPEATED_RUN_ID: &str = "repeated-run-id";
}

/// The `check --json` model.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CheckReport {
    /// Version files looked at (valid or not).
    pub prompt_files: usize,
    /// Run log files read.
    pub run_logs: usize,
    /// Runs read.
    pub runs: usize,
    /// Errors found.
    pub errors: usize,
    /// Warnings found.
    pub warnings: usize,
    /// Every problem, prompt files by path and line first.
    pub diagnostics: Vec<Diagnostic>,
}

/// Why `check` could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The base revision could not be read.
    #[cfg(feature = "git")]
    #[error(transparent)]
    Git(#[from] crate::git::GitError),
    /// `base` was given to a library built without git.
    #[error("checking against a base revision needs the `git` feature")]
    NoGit,
}

impl Project {
    /// Check every prompt file, `ptrack.toml` and every run log line.
    pub fn check(&self, query: &CheckQuery) -> Result<CheckReport, CheckError> {
        let registry = self.load_prompts();
        let mut diags = registry.diagnostics.clone();
        diags.extend(self.config_diagnostics().iter().cloned());
        for v in registry.prompts.values().flat_map(|p| &p.versions) {
            match crate::render::template_warnings(v) {
                Ok(ws) => diags.extend(ws.into_iter().map(|(line, msg)| {
                    Diagnostic::warning(&v.path, Some(line), msg).with_field("variables")
                })),
                Err(crate::render::RenderError::Syntax { line, message, .. }) => {
                    diags.push(
                        Diagnostic::error(
                            &v.path,
                            Some(line),
                            format!("template error: {message}"),
                        )
                        .with_field("prompt"),
                    );
                }
                Err(e) => diags.push(Diagnostic::error(&v.path, None, e.to_string())),
            }
        }
        diags.extend(self.cases_diagnostics(&registry));
        diags.extend(missing_goals(&registry));
        diags.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
        let runs = self.runs(&RunFilter::default());
        diags.extend(runs.diagnostics.iter().cloned());
        if runs.duplicates > 0 {
            diags.extend(self.repeated_run_ids());
        }
        // Runs that point at prompts or versions that do not exist (any more).
        let mut unknown: BTreeMap<(String, String), usize> = BTreeMap::new();
        for r in &runs.runs {
            let known = registry.get(&r.prompt).is_some_and(|p| {
                r.version
                    .parse::<Version>()
                    .is_ok_and(|v| p.version(&v).is_some())
            });
            if !known && !registry.has_invalid_files(&r.prompt) {
                *unknown
                    .entry((r.prompt.clone(), r.version.clone()))
                    .or_default() += 1;
            }
        }
        for ((prompt, version), n) in unknown {
            diags.push(
                Diagnostic::warning(
                    Path::new("runs").join(&prompt),
                    None,
                    format!(
                        "{n} run(s) of {prompt} {version}, which has no version file in prompts/"
                    ),
                )
                .with_code(codes::RUNS_WITHOUT_VERSION),
            );
        }
        if let Some(rev) = &query.base {
            diags.extend(self.in_place_diagnostics(rev, &registry, &runs.runs)?);
            diags.extend(self.changed_missing_goals(rev, &registry)?);
        }
        diags.extend(self.labels().check(&registry));
        diags.extend(self.experiments().check(&registry));
        diags.extend(self.alert_diagnostics(&registry));
        for id in &runs.orphan_ratings {
            diags.push(
                Diagnostic::warning(
                    "runs",
                    None,
                    format!("a rating refers to run {id}, which no log holds"),
                )
                .with_code(codes::ORPHAN_RATING),
            );
        }
        let bad_files: BTreeSet<&std::path::PathBuf> = registry
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| &d.path)
            .collect();
        let prompt_files = registry
            .prompts
            .values()
            .map(|p| p.versions.len())
            .sum::<usize>()
            + bad_files.len();
        Ok(CheckReport {
            prompt_files,
            run_logs: log_files(&self.runs_dir()).len(),
            runs: runs.runs.len(),
            errors: diags.iter().filter(|d| d.is_error()).count(),
            warnings: diags.iter().filter(|d| !d.is_error()).count(),
            diagnostics: diags,
        })
    }

    /// A diagnostic at each run whose id an earlier run in the logs has, naming both places:
    /// a warning when the two lines are the same (a union merge that kept both copies), an
    /// error when they differ (readers count only the first).
    fn repeated_run_ids(&self) -> Vec<Diagnostic> {
        use std::hash::BuildHasher;
        let hash = |line: &str| foldhash::fast::FixedState::with_seed(3).hash_one(line.trim());
        let mut first: std::collections::HashMap<String, (std::path::PathBuf, usize, u64)> =
            Default::default();
        let mut diags = Vec::new();
        crate::runlog::scan(
            &self.runs_dir(),
            Path::new("runs"),
            &RunFilter::default(),
            |shown, line_no, line, ev| {
                let crate::runlog::Event::Run(r) = ev else {
                    return;
                };
                match first.entry(r.id) {
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert((shown.to_path_buf(), line_no, hash(line)));
                    }
                    std::collections::hash_map::Entry::Occupied(e) => {
                        let (path, at, h) = e.get();
                        let place = format!("{}:{at}", path.display());
                        let d = if *h == hash(line) {
                            Diagnostic::warning(
                                shown,
                                Some(line_no),
                                format!(
                                    "run {} is logged twice (same line as {place}); it counts once",
                                    e.key()
                                ),
                            )
                        } else {
                            Diagnostic::error(
                                shown,
                                Some(line_no),
                                format!(
                                    "run id {} is already the id of the run at {place}; readers count only that one",
                                    e.key()
                                ),
                            )
                        };
                        diags.push(d.with_field("id").with_code(codes::REPEATED_RUN_ID));
                    }
                }
            },
        );
        diags
    }

    /// Every bad line of every `prompts/<name>/cases.jsonl`, as `run` and `eval` read them
    /// (schema files beside them included).
    fn cases_diagnostics(&self, registry: &crate::project::Registry) -> Vec<Diagnostic> {
        let mut diags = Vec::new();
        let Ok(entries) = std::fs::read_dir(self.prompts_dir()) else {
            return diags;
        };
        let mut dirs: Vec<_> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for dir in dirs {
            let file = dir.join(CASES_FILE);
            if !file.is_file() {
                continue;
            }
            let Some(name) = dir.file_name() else {
                continue;
            };
            let shown = Path::new("prompts").join(name).join(CASES_FILE);
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => {
                    diags.push(Diagnostic::error(&shown, None, format!("cannot read: {e}")));
                    continue;
                }
            };
            let (cases, problems) = crate::eval::case_problems(&text, Some(&dir));
            if cases.is_empty() && problems.is_empty() {
                diags.push(Diagnostic::error(&shown, None, "holds no cases"));
            }
            // A judge must name a prompt version that exists and is valid, as `run` needs.
            for case in &cases {
                for e in &case.expect {
                    if let crate::eval::Expect::Judge {
                        prompt, version, ..
                    } = e
                        && let Err(err) = registry.resolve(prompt, version.as_ref())
                    {
                        let line = err.to_string();
                        let first = line.lines().next().unwrap_or_default();
                        diags.push(
                            Diagnostic::error(
                                &shown,
                                None,
                                format!("case `{}`: judge: {first}", case.name),
                            )
                            .with_field("expect"),
                        );
                    }
                }
            }
            for p in problems {
                let d = Diagnostic::error(&shown, Some(p.line), p.message);
                diags.push(match p.field {
                    Some(f) => d.with_field(f),
                    None => d,
                });
            }
        }
        diags
    }

    /// Versions added or edited since `rev` that have no goal (the latest is warned about anyway).
    #[cfg(feature = "git")]
    fn changed_missing_goals(
        &self,
        rev: &str,
        registry: &crate::project::Registry,
    ) -> Result<Vec<Diagnostic>, CheckError> {
        let repo = crate::git::Repo::open(self.root())?;
        let (base, _) = repo.registry_at(rev)?;
        let mut diags = Vec::new();
        for p in registry.prompts.values() {
            let latest = p.latest().map(|l| &l.version);
            for v in &p.versions {
                let changed = base
                    .get(&p.name)
                    .and_then(|b| b.version(&v.version))
                    .is_none_or(|b| b.blob_sha != v.blob_sha);
                if changed && v.meta.goal.is_none() && Some(&v.version) != latest {
                    diags.push(missing_goal(v));
                }
            }
        }
        Ok(diags)
    }

    #[cfg(not(feature = "git"))]
    fn changed_missing_goals(
        &self,
        _rev: &str,
        _registry: &crate::project::Registry,
    ) -> Result<Vec<Diagnostic>, CheckError> {
        Err(CheckError::NoGit)
    }

    #[cfg(feature = "git")]
    fn in_place_diagnostics(
        &self,
        rev: &str,
        registry: &crate::project::Registry,
        runs: &[crate::runlog::RunFacts],
    ) -> Result<Vec<Diagnostic>, CheckError> {
        let repo = crate::git::Repo::open(self.root())?;
        let (base, _) = repo.registry_at(rev)?;
        Ok(crate::report::in_place_edits(&base, registry, runs)
            .into_iter()
            .map(|w| {
                let prompt = w.prompt.as_deref().unwrap_or_default();
                let version = w.version.as_deref().unwrap_or_default();
                let path = registry
                    .get(prompt)
                    .and_then(|p| p.versions.iter().find(|v| v.version.as_str() == version))
                    .map(|v| v.path.clone())
                    .unwrap_or_default();
                let message = format!(
                    "version {version} was edited in place since {rev}, but {} run(s) were recorded against its old text; create a new version instead",
                    w.runs.unwrap_or(0)
                );
                Diagnostic::error(path, None, message)
                    .with_field("prompt")
                    .with_code(codes::IN_PLACE_EDIT)
            })
            .collect())
    }

    #[cfg(not(feature = "git"))]
    fn in_place_diagnostics(
        &self,
        _rev: &str,
        _registry: &crate::project::Registry,
        _runs: &[crate::runlog::RunFacts],
    ) -> Result<Vec<Diagnostic>, CheckError> {
        Err(CheckError::NoGit)
    }
}

/// The cases file `run` and `eval` read for a prompt, in `prompts/<name>/`.
const CASES_FILE: &str = "cases.jsonl";

/// The warning `report` gives for a version without a goal.
fn missing_goal(v: &crate::prompt::PromptVersion) -> Diagnostic {
    Diagnostic::warning(
        &v.path,
        None,
        "no `goal`: say in one sentence what the prompt is for",
    )
    .with_field("goal")
}

/// The latest version of each prompt without a goal: what `report` warns about when nothing
/// changed (older versions cannot be edited any more).
fn missing_goals(registry: &crate::project::Registry) -> Vec<Diagnostic> {
    registry
        .prompts
        .values()
        .filter_map(|p| p.latest())
        .filter(|v| v.meta.goal.is_none())
        .map(missing_goal)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::testing::{project_with_runs, run_line};

    #[test]
    fn counts_and_names_every_problem() {
        let lines = [
            run_line("a", "p", "1.0", "2026-11-01T10:00:00Z", 100.0, true, None),
            run_line("b", "p", "9.0", "2026-11-02T10:00:00Z", 100.0, true, None),
            "{\"id\": \"torn".to_string(),
        ];
        let (dir, project) = project_with_runs(&["p"], &lines);
        std::fs::create_dir_all(dir.path().join("prompts/q")).expect("mkdir");
        std::fs::write(
            dir.path().join("prompts/q/1.0.md"),
            "---\ntemperature: 7\n---\nx\n",
        )
        .expect("write");
        let r = project.check(&CheckQuery::default()).expect("check");
        assert_eq!((r.prompt_files, r.run_logs, r.runs), (3, 1, 2));
        let texts: Vec<String> = r.diagnostics.iter().map(ToString::to_string).collect();
        assert!(
            texts
                .iter()
                .any(|t| t.starts_with("prompts/q/1.0.md:2: temperature")),
            "{texts:?}"
        );
        assert!(
            texts.iter().any(|t| t.contains("1 run(s) of p 9.0")),
            "{texts:?}"
        );
        assert!(
            texts
                .iter()
                .any(|t| t.starts_with("runs/p/2026-11.jsonl:3:")),
            "{texts:?}"
        );
        // The template uses `who`, which no version declares: one warning per version file.
        assert_eq!(r.errors, 1, "{texts:?}");
    }

    #[test]
    fn every_bad_cases_line_and_a_missing_goal_are_reported() {
        let (dir, project) = project_with_runs(&["p"], &[]);
        std::fs::write(
            dir.path().join("prompts/p/cases.jsonl"),
            "{\"name\":\"a\",\"expect\":[{\"contain\":\"x\"}]}\n{\"name\":\"b\"}\n{\"expect\":[{\"regex\":\"(\"}]}\n{broken\n",
        )
        .expect("write");
        std::fs::create_dir_all(dir.path().join("prompts/q")).expect("mkdir");
        std::fs::write(
            dir.path().join("prompts/q/1.0.md"),
            "---\nmodel: m\n---\nx\n",
        )
        .expect("write");
        let r = project.check(&CheckQuery::default()).expect("check");
        let cases: Vec<(String, Option<&str>)> = r
            .diagnostics
            .iter()
            .filter(|d| d.path.ends_with("cases.jsonl"))
            .map(|d| (d.to_string(), d.field.as_deref()))
            .collect();
        assert_eq!(cases.len(), 3, "{cases:?}");
        assert!(
            cases[0].0.starts_with(
                "prompts/p/cases.jsonl:1: `expect` item 1: unknown expectation `contain`"
            ),
            "{cases:?}"
        );
        assert_eq!(cases[0].1, Some("expect"));
        assert!(
            cases[1]
                .0
                .starts_with("prompts/p/cases.jsonl:3: `expect` item 1: invalid regex"),
            "{cases:?}"
        );
        assert!(
            cases[2]
                .0
                .starts_with("prompts/p/cases.jsonl:4: invalid JSON"),
            "{cases:?}"
        );
        let goals: Vec<String> = r
            .diagnostics
            .iter()
            .filter(|d| d.field.as_deref() == Some("goal"))
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            goals,
            ["prompts/q/1.0.md: warning: no `goal`: say in one sentence what the prompt is for"]
        );
    }
}
