//! `history`: the commits that touched a prompt, newest first, with the figures of the runs
//! recorded against exactly each changed file's text (runs whose `prompt_sha` is its blob).

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Serialize;

use crate::diagnostic::Diagnostic;
use crate::git::{GitError, HistoryEntry, Repo};
use crate::project::{LookupError, Project, check_name};
use crate::runlog::{Metrics, RunFacts, RunFilter};
use crate::version::Version;

/// Whose history.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// The prompt.
    pub prompt: String,
    /// Only commits that changed this version's file.
    pub version: Option<Version>,
    /// At most this many commits.
    pub limit: Option<usize>,
}

/// One commit with the figures of each changed file's runs.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct HistoryRow {
    /// The commit and the prompt's files it changed.
    #[serde(flatten)]
    pub entry: HistoryEntry,
    /// Metrics of the runs of each changed file's new blob, in the order of `changes`
    /// (None: no run has that text).
    pub metrics: Vec<Option<Metrics>>,
}

/// The `history --json` model is `rows`.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    /// Commits, newest first.
    pub rows: Vec<HistoryRow>,
    /// Whether the repository has no commits yet.
    pub no_commits: bool,
    /// Whether the repository is a shallow clone: its history stops at the rows marked
    /// `shallow`, whose files read as added.
    pub shallow: bool,
    /// Problems in the run logs.
    #[serde(skip)]
    pub diagnostics: Vec<Diagnostic>,
}

/// Why history could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// Git could not answer.
    #[error(transparent)]
    Git(#[from] GitError),
    /// No such prompt, now or in the history.
    #[error(transparent)]
    Lookup(#[from] LookupError),
}

impl Project {
    /// The history of a prompt in git.
    pub fn history(&self, query: &HistoryQuery) -> Result<History, HistoryError> {
        check_name(&query.prompt)?;
        let repo = Repo::open(self.root())?;
        let shallow = repo.is_shallow();
        // The walk stops at `--limit` entries: a short history of a long repository is quick.
        let entries = repo.history_where(&query.prompt, query.limit, |e| match &query.version {
            None => true,
            Some(v) => {
                // By number: `--version 1.0` names the file `1.00.md` too.
                e.changes.retain(|c| {
                    c.version
                        .as_deref()
                        .is_some_and(|cv| crate::version::same_version(cv, v.as_str()))
                });
                !e.changes.is_empty()
            }
        })?;
        if entries.is_empty() {
            // No history and no such prompt: most likely a typo.
            let registry = self.load_prompts();
            if registry.get(&query.prompt).is_none() {
                registry.find(&query.prompt)?;
            }
        }
        let folder = |p: &std::path::Path| -> String {
            p.strip_prefix("prompts")
                .ok()
                .and_then(|p| p.components().next())
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        // The prompt's names over its history (it may have been renamed); runs of the same text
        // under any other prompt are that prompt's runs, not this one's.
        let mut names = BTreeSet::from([query.prompt.clone()]);
        for c in entries.iter().flat_map(|e| &e.changes) {
            names.insert(folder(&c.path));
            if let Some(old) = &c.old_path {
                names.insert(folder(old));
            }
        }
        let wanted: HashSet<&str> = entries
            .iter()
            .flat_map(|e| &e.changes)
            .filter_map(|c| c.blob.as_deref())
            .collect();
        // The compact columns (through the cache) give the same figures; the simple reader
        // decides when ids repeat or a text ran under two versions.
        let columns = self.run_columns(&RunFilter::default());
        let (by_blob, diagnostics) = match columns.blob_metrics(&names, &wanted) {
            Some(m) => (m, columns.diagnostics),
            None => {
                let runs = self.runs(&RunFilter::default());
                let mut by_sha: HashMap<&str, Vec<&RunFacts>> = HashMap::new();
                for r in runs.runs.iter().filter(|r| names.contains(&r.prompt)) {
                    if let Some(sha) = &r.prompt_sha {
                        by_sha.entry(sha.as_str()).or_default().push(r);
                    }
                }
                let m = by_sha
                    .into_iter()
                    .filter(|(sha, _)| wanted.contains(sha))
                    .map(|(sha, rs)| (sha.to_string(), Metrics::compute(rs.iter().copied())))
                    .collect();
                (m, runs.diagnostics)
            }
        };
        let rows = entries
            .into_iter()
            .map(|entry| {
                let metrics = entry
                    .changes
                    .iter()
                    .map(|c| c.blob.as_deref().and_then(|b| by_blob.get(b)).cloned())
                    .collect();
                HistoryRow { entry, metrics }
            })
            .collect();
        Ok(History {
            rows,
            no_commits: repo.head().is_none(),
            shallow,
            diagnostics,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::testing::{project_with_runs, run_line};

    fn commit_all(repo: &git2::Repository, msg: &str) {
        let mut index = repo.index().expect("index");
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .expect("add");
        index.write().expect("write index");
        let tree = repo
            .find_tree(index.write_tree().expect("tree"))
            .expect("tree");
        let sig = git2::Signature::new("T", "t@example.com", &git2::Time::new(1_763_000_000, 0))
            .expect("sig");
        let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        repo.commit(Some("HEAD"), &sig, &sig, msg, &tree, &parents)
            .expect("commit");
    }

    #[test]
    fn each_changed_file_carries_the_runs_of_exactly_its_text() {
        let (dir, project) = project_with_runs(&["p"], &[]);
        let repo = git2::Repository::init(dir.path()).expect("init");
        commit_all(&repo, "add p");
        let v11 = project
            .load_prompts()
            .resolve("p", None)
            .expect("1.1")
            .clone();
        // Two runs of 1.1's committed text, one of a text no commit holds.
        let mut lines = Vec::new();
        for (id, sha) in [
            ("a", v11.blob_sha.as_str()),
            ("b", v11.blob_sha.as_str()),
            ("c", "0000"),
        ] {
            let mut v: serde_json::Value = serde_json::from_str(&run_line(
                id,
                "p",
                "1.1",
                "2026-11-01T10:00:00Z",
                100.0,
                id != "b",
                None,
            ))
            .expect("json");
            v["prompt_sha"] = serde_json::json!(sha);
            lines.push(v.to_string());
        }
        std::fs::create_dir_all(dir.path().join("runs/p")).expect("mkdir");
        std::fs::write(
            dir.path().join("runs/p/2026-11.jsonl"),
            lines.join("\n") + "\n",
        )
        .expect("write");
        std::fs::write(
            dir.path().join("prompts/p/1.1.md"),
            "---\ngoal: g\n---\nnew text\n",
        )
        .expect("edit");
        commit_all(&repo, "edit 1.1");
        let h = project
            .history(&HistoryQuery {
                prompt: "p".into(),
                version: Some("1.1".parse().expect("v")),
                limit: None,
            })
            .expect("history");
        let subjects: Vec<&str> = h.rows.iter().map(|r| r.entry.subject.as_str()).collect();
        assert_eq!(subjects, ["edit 1.1", "add p"]);
        assert_eq!(h.rows[0].metrics, [None], "no run has the edited text");
        let m = h.rows[1].metrics[0]
            .as_ref()
            .expect("runs of the first text");
        assert_eq!((m.runs, m.successes), (2, 1));
        assert!(!h.no_commits);
        let err = project
            .history(&HistoryQuery {
                prompt: "q".into(),
                ..HistoryQuery::default()
            })
            .expect_err("no such prompt");
        assert!(
            matches!(err, HistoryError::Lookup(LookupError::NoPrompt { .. })),
            "{err}"
        );
    }
}
