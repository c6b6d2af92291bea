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
}

/// The `check --json` model.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
        diags.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
        let runs = self.runs(&RunFilter::default());
        diags.extend(runs.diagnostics.iter().cloned());
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
        }
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
}
