//! Git as the version history: revisions, prompt files at a revision, and prompt history.
//!
//! Everything goes through `git2` (libgit2); nothing shells out to `git`. History is one
//! revision walk: a commit is looked at closely only when the tree id of the prompt's folder
//! differs from its parent's, and its changed files then come from comparing the entries of
//! the prompt's folders; a tree diff with rename detection runs only when files may have been
//! renamed (added and deleted in one commit) or the commit changed other folders too, so long
//! histories stay fast.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use git2::Oid;

use crate::project::{EntryKind, PromptSource, SourceEntry};
use crate::safe_fs::Refusal;

/// Why a git operation failed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The revision does not name a commit here.
    #[error("unknown revision `{rev}`{}", if *shallow { " (this is a shallow clone: the commit may not have been fetched)" } else { "" })]
    UnknownRevision {
        /// What was asked for.
        rev: String,
        /// Whether the repository is a shallow clone.
        shallow: bool,
    },
    /// The repository has no commits yet.
    #[error("the git repository has no commits yet")]
    NoCommits,
    /// The project is not inside a git work tree.
    #[error("{} is not in a git repository", path.display())]
    NotARepository {
        /// The project root.
        path: PathBuf,
    },
    /// The repository has no work tree (a bare repository), or the project is outside it.
    #[error("{} is not inside the work tree of the git repository at {}", path.display(), repo.display())]
    OutsideWorkTree {
        /// The project root.
        path: PathBuf,
        /// The repository's git directory.
        repo: PathBuf,
    },
    /// A path could not be resolved.
    #[error("cannot resolve {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Any other libgit2 error.
    #[error("git: {0}")]
    Git(#[from] git2::Error),
}

/// The git repository holding a project.
pub struct Repo {
    repo: git2::Repository,
    /// The project root relative to the repository's work tree ("" when they are the same).
    prefix: PathBuf,
    /// The largest prompt file read from a revision, in bytes.
    prompt_limit: u64,
}

/// The HEAD commit's id when the file at `path` (relative to the project `root`) is committed at
/// HEAD with blob id `blob_sha`, i.e. the committed file is exactly what ran; else None
/// (not in git, no commits, file uncommitted or edited since).
pub fn head_commit_if_unchanged(root: &Path, path: &Path, blob_sha: &str) -> Option<String> {
    let repo = Repo::open(root).ok()?;
    let head = repo.repo.head().ok()?.peel_to_commit().ok()?;
    let entry = head.tree().ok()?.get_path(&repo.prefix.join(path)).ok()?;
    (entry.id().to_string() == blob_sha).then(|| head.id().to_string())
}

impl Repo {
    /// The repository containing `root`, or why there is none.
    pub fn open(root: &Path) -> Result<Repo, GitError> {
        let repo = git2::Repository::discover(root).map_err(|e| {
            if e.code() == git2::ErrorCode::NotFound {
                GitError::NotARepository {
                    path: root.to_path_buf(),
                }
            } else {
                GitError::Git(e)
            }
        })?;
        let outside = || GitError::OutsideWorkTree {
            path: root.to_path_buf(),
            repo: repo.path().to_path_buf(),
        };
        let canonical = |p: &Path| {
            std::fs::canonicalize(p).map_err(|source| GitError::Io {
                path: p.to_path_buf(),
                source,
            })
        };
        let workdir = canonical(repo.workdir().ok_or_else(outside)?)?;
        let abs_root = canonical(root)?;
        let prefix = abs_root
            .strip_prefix(&workdir)
            .map_err(|_| outside())?
            .to_path_buf();
        // Revisions are read within the same prompt size limit as the working tree.
        let prompt_limit =
            crate::config::Config::load(&root.join("ptrack.toml"), Path::new("ptrack.toml"))
                .map_or(crate::safe_fs::DEFAULT_FILE_LIMIT, |(c, _)| {
                    c.limits.prompt_bytes()
                });
        Ok(Repo {
            repo,
            prefix,
            prompt_limit,
        })
    }

    /// Whether this is a shallow clone.
    pub fn is_shallow(&self) -> bool {
        self.repo.is_shallow()
    }

    /// The HEAD commit, or None when there are no commits yet.
    pub fn head(&self) -> Option<git2::Oid> {
        self.repo.head().ok()?.peel_to_commit().ok().map(|c| c.id())
    }

    /// The commit a revision names (`HEAD~2`, a tag, a branch, a sha).
    pub fn resolve(&self, rev: &str) -> Result<git2::Oid, GitError> {
        let unknown = || GitError::UnknownRevision {
            rev: rev.to_string(),
            shallow: self.is_shallow(),
        };
        let obj = self.repo.revparse_single(rev).map_err(|_| unknown())?;
        obj.peel_to_commit().map(|c| c.id()).map_err(|_| unknown())
    }

    /// Short form of a commit id.
    pub fn short(&self, oid: git2::Oid) -> String {
        match self.repo.find_object(oid, None) {
            Ok(o) => short_id(&o),
            Err(_) => oid.to_string()[..7].to_string(),
        }
    }

    /// The merge base of HEAD with the default branch (`origin/HEAD`, else `main`, `master`,
    /// `origin/main`, `origin/master`), with the branch's name; None without commits or branch.
    pub fn default_base(&self) -> Result<Option<(String, git2::Oid)>, GitError> {
        match self.head() {
            Some(head) => self.default_base_of(head),
            None => Ok(None),
        }
    }

    /// The merge base of `head` with the default branch, with the branch's name.
    pub fn default_base_of(
        &self,
        head: git2::Oid,
    ) -> Result<Option<(String, git2::Oid)>, GitError> {
        for name in [
            "origin/HEAD",
            "main",
            "master",
            "origin/main",
            "origin/master",
        ] {
            let Ok(target) = self.resolve(name) else {
                continue;
            };
            return match self.repo.merge_base(head, target) {
                Ok(base) => Ok(Some((name.to_string(), base))),
                Err(_) => Err(GitError::UnknownRevision {
                    rev: format!("merge-base HEAD {name}"),
                    shallow: self.is_shallow(),
                }),
            };
        }
        Ok(None)
    }

    /// The prompts as they are at revision `rev`, with the commit's short id.
    pub fn registry_at(&self, rev: &str) -> Result<(crate::project::Registry, String), GitError> {
        let oid = self.resolve(rev)?;
        let source = self.source_at(oid)?;
        Ok((crate::project::load_registry(&source), self.short(oid)))
    }

    /// The text of the project file `rel` at `rev` (read as prompt files are: a regular file,
    /// within the size limit); None when it did not exist, or the diagnostic saying why it
    /// cannot be read.
    fn project_text_at(
        &self,
        rev: &str,
        rel: &Path,
    ) -> Result<Option<Result<String, crate::Diagnostic>>, GitError> {
        use crate::project::PromptSource;
        let oid = self.resolve(rev)?;
        let source = self.source_at(oid)?;
        Ok(match source.read(rel) {
            Ok(bytes) => Some(crate::project::project_text(bytes, rel)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => Some(Err(crate::Diagnostic::error(
                rel,
                None,
                format!("cannot read file at {rev}: {e}"),
            ))),
        })
    }

    /// The labels (`labels.toml`) as they were at `rev`; none when the file did not exist.
    pub fn labels_at(&self, rev: &str) -> Result<crate::labels::Labels, GitError> {
        use crate::labels::{LABELS_FILE, Labels};
        let path = Path::new(LABELS_FILE);
        Ok(match self.project_text_at(rev, path)? {
            Some(Ok(text)) => Labels::parse(&text, path),
            Some(Err(d)) => Labels::unreadable(d),
            None => Labels::default(),
        })
    }

    /// The experiments (`experiments.toml`) as they were at `rev`; none when the file did not
    /// exist.
    pub fn experiments_at(&self, rev: &str) -> Result<crate::experiment::Experiments, GitError> {
        use crate::experiment::{EXPERIMENTS_FILE, Experiments};
        let path = Path::new(EXPERIMENTS_FILE);
        Ok(match self.project_text_at(rev, path)? {
            Some(Ok(text)) => Experiments::parse(&text, path),
            Some(Err(d)) => Experiments {
                diagnostics: vec![d],
                ..Experiments::default()
            },
            None => Experiments::default(),
        })
    }

    /// The project's files as they are in commit `oid`.
    pub fn source_at(&self, oid: git2::Oid) -> Result<TreeSource<'_>, GitError> {
        let tree = self.repo.find_commit(oid)?.tree()?;
        Ok(TreeSource {
            repo: &self.repo,
            tree,
            prefix: self.prefix.clone(),
            max_bytes: self.prompt_limit,
        })
    }

    /// The first-parent commits after `good` up to and including `bad` that changed the folder
    /// `rel` (relative to the project root), oldest first.
    pub fn first_parent_changes(
        &self,
        good: git2::Oid,
        bad: git2::Oid,
        rel: &Path,
    ) -> Result<Vec<CommitInfo>, GitError> {
        let path = self.prefix.join(rel);
        let id_of = |c: &git2::Commit<'_>| {
            c.tree()
                .ok()
                .and_then(|t| t.get_path(&path).ok())
                .map(|e| e.id())
        };
        let mut out = Vec::new();
        let mut at = Some(self.repo.find_commit(bad)?);
        let mut reached = false;
        while let Some(c) = at {
            if c.id() == good {
                reached = true;
                break;
            }
            let parent = c.parent(0).ok();
            if parent.as_ref().is_none_or(|p| id_of(p) != id_of(&c)) {
                out.push(CommitInfo {
                    oid: c.id(),
                    short: self.short(c.id()),
                    subject: subject(&c),
                    author: author_name(&c),
                    time: DateTime::from_timestamp(c.time().seconds(), 0).unwrap_or_default(),
                });
            }
            at = parent;
        }
        if !reached {
            return Err(GitError::UnknownRevision {
                rev: format!(
                    "{} (not on the first-parent history of {})",
                    self.short(good),
                    self.short(bad)
                ),
                shallow: self.is_shallow(),
            });
        }
        out.reverse();
        Ok(out)
    }

    /// The blob id of `rel` (relative to the project root) in commit `oid`, if it exists there.
    pub fn blob_at(&self, oid: git2::Oid, rel: &Path) -> Option<String> {
        let tree = self.repo.find_commit(oid).ok()?.tree().ok()?;
        tree.get_path(&self.prefix.join(rel))
            .ok()
            .map(|e| e.id().to_string())
    }

    /// The commits of a shallow clone whose parents were not fetched (`.git/shallow`).
    fn shallow_boundary(&self) -> BTreeSet<git2::Oid> {
        if !self.repo.is_shallow() {
            return BTreeSet::new();
        }
        std::fs::read_to_string(self.repo.path().join("shallow"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| git2::Oid::from_str(l.trim()).ok())
            .collect()
    }

    /// The commits that touched `prompts/<name>/`, newest first, following folder and file
    /// renames; at most `limit` of them.
    pub fn history(&self, name: &str, limit: Option<usize>) -> Result<Vec<HistoryEntry>, GitError> {
        self.history_where(name, limit, |_| true)
    }

    /// Like [`Repo::history`], keeping only the entries `keep` accepts (it may also drop some
    /// of an entry's changes); the walk stops as soon as `limit` entries were kept.
    pub fn history_where(
        &self,
        name: &str,
        limit: Option<usize>,
        keep: impl FnMut(&mut HistoryEntry) -> bool,
    ) -> Result<Vec<HistoryEntry>, GitError> {
        self.walk_history(name, limit, keep, true)
    }

    /// The walk behind [`Repo::history_where`]. With `quick`, a commit's changes come from
    /// comparing the prompt folders' trees when that gives what the tree diff gives (see
    /// [`Repo::quick_changes`]); without it, always from the diff (tests compare the two).
    fn walk_history(
        &self,
        name: &str,
        limit: Option<usize>,
        mut keep: impl FnMut(&mut HistoryEntry) -> bool,
        quick: bool,
    ) -> Result<Vec<HistoryEntry>, GitError> {
        let Some(head) = self.head() else {
            return Ok(Vec::new());
        };
        let walk = self.walk_order(head)?;
        let prompts_dir = self.prefix.join("prompts");
        let mut names: BTreeSet<String> = BTreeSet::from([name.to_string()]);
        let boundary = self.shallow_boundary();
        // A tree's `prompts/` folder, looked up once per tree rather than once per name.
        let prompts_of = |t: &git2::Tree<'_>| -> Option<git2::Tree<'_>> {
            let entry = t.get_path(&prompts_dir).ok()?;
            self.repo.find_tree(entry.id()).ok()
        };
        let mut out = Vec::new();
        for oid in walk {
            if limit.is_some_and(|l| out.len() >= l) {
                break;
            }
            let commit = self.repo.find_commit(oid)?;
            let tree = commit.tree()?;
            let parents: Vec<git2::Tree<'_>> =
                commit.parents().filter_map(|p| p.tree().ok()).collect();
            let here = prompts_of(&tree);
            let theirs: Vec<Option<git2::Tree<'_>>> = parents.iter().map(prompts_of).collect();
            let sub =
                |t: Option<&git2::Tree<'_>>, n: &str| t.and_then(|t| t.get_name(n)).map(|e| e.id());
            let differs = |p: Option<&git2::Tree<'_>>| {
                names.iter().any(|n| sub(here.as_ref(), n) != sub(p, n))
            };
            // Like `git log PATH`: a merge counts only when it differs from every parent.
            let touched = match theirs.as_slice() {
                [] => differs(None),
                [p] => differs(p.as_ref()),
                ps => ps.iter().all(|p| differs(p.as_ref())),
            };
            if !touched {
                continue;
            }
            let first = theirs.first().and_then(Option::as_ref);
            let quick_changes = if quick {
                self.quick_changes(first, here.as_ref(), &names)
            } else {
                None
            };
            let changes = match quick_changes {
                Some(c) => c,
                None => self.diff_changes(parents.first(), &tree, &mut names)?,
            };
            let mut entry = HistoryEntry {
                commit: commit.id().to_string(),
                short: short_id(commit.as_object()),
                time: DateTime::from_timestamp(commit.time().seconds(), 0).unwrap_or_default(),
                author: author_name(&commit),
                subject: subject(&commit),
                merge: parents.len() > 1,
                shallow: boundary.contains(&commit.id()),
                changes,
            };
            if keep(&mut entry) {
                out.push(entry);
            }
        }
        Ok(out)
    }

    /// The commits from `head` in the order of a revision walk sorted topologically, then by
    /// time. Without merges that order is the first-parent chain, read here through the object
    /// cache the history reads next (a revision walk reads every commit once more for its
    /// order, as libgit2 does not read the commit-graph files git writes now). A merge, or a
    /// shallow clone, takes the revision walk.
    fn walk_order(&self, head: git2::Oid) -> Result<Vec<git2::Oid>, GitError> {
        if !self.repo.is_shallow() {
            let mut chain = Vec::new();
            let mut next = Some(head);
            while let Some(oid) = next {
                let commit = self.repo.find_commit(oid)?;
                chain.push(oid);
                next = match commit.parent_count() {
                    0 => None,
                    1 => Some(commit.parent_id(0)?),
                    _ => break,
                };
            }
            if next.is_none() {
                return Ok(chain);
            }
        }
        let mut walk = self.repo.revwalk()?;
        walk.push(head)?;
        walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::TIME)?;
        walk.map(|oid| oid.map_err(GitError::from)).collect()
    }

    /// The changes to the files of the prompts `names` between two `prompts/` trees, found by
    /// comparing their entries instead of a tree diff, when that is sure to give what
    /// [`Repo::diff_changes`] gives: every entry of `prompts/` that changed is a folder of one
    /// of `names`, the entries that changed in those folders are regular files with the same
    /// mode on both sides, and files were not both added and deleted (so no rename can be
    /// found). None: take the diff. Changes come in path order, as the diff's do.
    fn quick_changes(
        &self,
        old: Option<&git2::Tree<'_>>,
        new: Option<&git2::Tree<'_>>,
        names: &BTreeSet<String>,
    ) -> Option<Vec<FileChange>> {
        let mut changes = Vec::new();
        let (mut added, mut deleted) = (false, false);
        for (a, b) in changed_entries(old, new) {
            let folder = a.as_ref().or(b.as_ref())?.name().ok()?;
            if !names.contains(folder) {
                return None;
            }
            let subtree = |e: &Option<git2::TreeEntry<'_>>| -> Option<Option<git2::Tree<'_>>> {
                match e {
                    None => Some(None),
                    Some(e) if e.kind() == Some(git2::ObjectType::Tree) => {
                        self.repo.find_tree(e.id()).ok().map(Some)
                    }
                    Some(_) => None,
                }
            };
            let (old_sub, new_sub) = (subtree(&a)?, subtree(&b)?);
            for (x, y) in changed_entries(old_sub.as_ref(), new_sub.as_ref()) {
                let regular = |e: &git2::TreeEntry<'_>| {
                    e.kind() == Some(git2::ObjectType::Blob)
                        && matches!(e.filemode(), 0o100644 | 0o100755)
                };
                let (status, e) = match (&x, &y) {
                    (None, Some(y)) if regular(y) => (ChangeKind::Added, y),
                    (Some(x), None) if regular(x) => (ChangeKind::Deleted, x),
                    (Some(x), Some(y)) if regular(x) && x.filemode() == y.filemode() => {
                        (ChangeKind::Modified, y)
                    }
                    _ => return None,
                };
                added |= status == ChangeKind::Added;
                deleted |= status == ChangeKind::Deleted;
                let path = Path::new("prompts").join(folder).join(e.name().ok()?);
                changes.push(FileChange {
                    status,
                    version: version_of(&path),
                    old_path: None,
                    path,
                    blob: (status != ChangeKind::Deleted).then(|| e.id().to_string()),
                });
            }
        }
        (!(added && deleted)).then_some(changes)
    }

    /// The changes to the files of the prompts `names` from `old` to `new` by a diff of
    /// `prompts/` with rename detection; a renamed folder's old name joins `names`.
    fn diff_changes(
        &self,
        old: Option<&git2::Tree<'_>>,
        new: &git2::Tree<'_>,
        names: &mut BTreeSet<String>,
    ) -> Result<Vec<FileChange>, GitError> {
        let mut opts = git2::DiffOptions::new();
        opts.pathspec(self.prefix.join("prompts"));
        let mut diff = self
            .repo
            .diff_tree_to_tree(old, Some(new), Some(&mut opts))?;
        diff.find_similar(Some(git2::DiffFindOptions::new().renames(true)))?;
        let mut changes = Vec::new();
        for delta in diff.deltas() {
            let rel = |f: git2::DiffFile<'_>| -> Option<PathBuf> {
                f.path()?
                    .strip_prefix(&self.prefix)
                    .ok()
                    .map(Path::to_path_buf)
            };
            let new_path = rel(delta.new_file());
            let old_path = rel(delta.old_file());
            let folder = |p: &Option<PathBuf>| {
                p.as_ref()
                    .and_then(|p| p.strip_prefix("prompts").ok())
                    .and_then(|p| p.components().next())
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
            };
            let (new_folder, old_folder) = (folder(&new_path), folder(&old_path));
            let ours = |f: &Option<String>| f.as_ref().is_some_and(|f| names.contains(f));
            if !ours(&new_folder) && !ours(&old_folder) {
                continue;
            }
            let status = match delta.status() {
                git2::Delta::Added | git2::Delta::Copied => ChangeKind::Added,
                git2::Delta::Deleted => ChangeKind::Deleted,
                git2::Delta::Renamed => ChangeKind::Renamed,
                _ => ChangeKind::Modified,
            };
            let (path, blob) = match status {
                ChangeKind::Deleted => (old_path.clone(), None),
                _ => (new_path.clone(), Some(delta.new_file().id().to_string())),
            };
            let Some(path) = path else { continue };
            changes.push(FileChange {
                status,
                version: version_of(&path),
                old_path: (status == ChangeKind::Renamed)
                    .then_some(old_path)
                    .flatten(),
                path,
                blob,
            });
            if status == ChangeKind::Renamed
                && let Some(old) = old_folder
            {
                names.insert(old);
            }
        }
        Ok(changes)
    }
}

/// The entries of two trees that differ (by id or mode), paired by name in git's tree order:
/// (old, new), either side None when the entry is only on the other.
fn changed_entries<'t>(
    old: Option<&'t git2::Tree<'_>>,
    new: Option<&'t git2::Tree<'_>>,
) -> Vec<(Option<git2::TreeEntry<'t>>, Option<git2::TreeEntry<'t>>)> {
    // Git sorts a tree's entries by name, a folder's name as if it ended in `/`.
    fn key<'e>(e: &'e git2::TreeEntry<'_>) -> impl Iterator<Item = u8> + 'e {
        let folder = e.kind() == Some(git2::ObjectType::Tree);
        e.name_bytes().iter().copied().chain(folder.then_some(b'/'))
    }
    let mut a = old.into_iter().flat_map(git2::Tree::iter).peekable();
    let mut b = new.into_iter().flat_map(git2::Tree::iter).peekable();
    let mut out = Vec::new();
    loop {
        let order = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => key(x).cmp(key(y)),
        };
        match order {
            std::cmp::Ordering::Less => out.push((a.next(), None)),
            std::cmp::Ordering::Greater => out.push((None, b.next())),
            std::cmp::Ordering::Equal => {
                let (x, y) = (a.next(), b.next());
                if x.as_ref().map(|e| (e.id(), e.filemode()))
                    != y.as_ref().map(|e| (e.id(), e.filemode()))
                {
                    out.push((x, y));
                }
            }
        }
    }
    out
}

/// Short form of an object's id: the shortest unique prefix, at least `core.abbrev` long.
fn short_id(o: &git2::Object<'_>) -> String {
    o.short_id()
        .ok()
        .and_then(|b| b.as_str().ok().map(str::to_string))
        .unwrap_or_else(|| o.id().to_string()[..7].to_string())
}

fn version_of(path: &Path) -> Option<String> {
    let stem = crate::prompt::version_stem(path.file_name()?.to_str()?)?;
    stem.parse::<crate::version::Version>()
        .ok()
        .map(|v| v.to_string())
}

/// How a commit changed a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// New file.
    Added,
    /// Changed content.
    Modified,
    /// Moved (possibly with changes).
    Renamed,
    /// Removed.
    Deleted,
}

/// One changed file in a commit.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FileChange {
    /// What happened.
    pub status: ChangeKind,
    /// The file (its new path; the old one for deletions), relative to the project root.
    pub path: PathBuf,
    /// The previous path of a renamed file.
    pub old_path: Option<PathBuf>,
    /// The version the file holds, when its name is one.
    pub version: Option<String>,
    /// The file's blob id after the commit (None when deleted).
    pub blob: Option<String>,
}

/// A commit that touched a prompt.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct HistoryEntry {
    /// Full commit id.
    pub commit: String,
    /// Abbreviated id.
    pub short: String,
    /// Commit time.
    pub time: DateTime<Utc>,
    /// Author name.
    pub author: String,
    /// First line of the message.
    pub subject: String,
    /// Whether it is a merge commit.
    pub merge: bool,
    /// Whether the clone is shallow and this commit's parents were not fetched, so its
    /// changes are against nothing (every file reads as added).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub shallow: bool,
    /// The prompt's files it changed.
    pub changes: Vec<FileChange>,
}

/// A commit, as a bisect step names it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CommitInfo {
    /// Its id.
    #[serde(serialize_with = "ser_oid")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub oid: git2::Oid,
    /// Abbreviated id.
    pub short: String,
    /// First line of the message.
    pub subject: String,
    /// Author name.
    pub author: String,
    /// Commit time.
    pub time: DateTime<Utc>,
}

fn ser_oid<S: serde::Serializer>(o: &git2::Oid, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&o.to_string())
}

/// The project's files in one git tree.
pub struct TreeSource<'r> {
    repo: &'r git2::Repository,
    tree: git2::Tree<'r>,
    prefix: PathBuf,
    max_bytes: u64,
}

fn not_found(rel: &Path) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::NotFound,
        format!("{} is not in this revision", rel.display()),
    )
}

/// Git's file mode of a symbolic link.
const LINK_MODE: i32 = 0o120000;

impl TreeSource<'_> {
    fn entry(&self, rel: &Path) -> std::io::Result<git2::TreeEntry<'static>> {
        self.tree
            .get_path(&self.prefix.join(rel))
            .map_err(|_| not_found(rel))
    }
}

impl PromptSource for TreeSource<'_> {
    fn list(&self, rel: &Path) -> std::io::Result<Vec<SourceEntry>> {
        let entry = self.entry(rel)?;
        if entry.filemode() == LINK_MODE {
            return Err(link_refused(rel));
        }
        let obj = entry
            .to_object(self.repo)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let tree = obj.as_tree().ok_or_else(|| not_found(rel))?;
        let mut out: Vec<SourceEntry> = tree
            .iter()
            .filter_map(|e| {
                let (name, utf8) = match e.name() {
                    Ok(n) => (n.to_string(), true),
                    Err(_) => (String::from_utf8_lossy(e.name_bytes()).into_owned(), false),
                };
                let kind = if e.filemode() == LINK_MODE {
                    EntryKind::Link
                } else if e.kind() == Some(git2::ObjectType::Tree) {
                    EntryKind::Folder
                } else {
                    EntryKind::File
                };
                (!name.starts_with('.')).then_some(SourceEntry { name, kind, utf8 })
            })
            .collect();
        out.sort();
        Ok(out)
    }

    fn read(&self, rel: &Path) -> std::io::Result<Vec<u8>> {
        let entry = self.entry(rel)?;
        // A link's blob is its target's path: never take that for the file's text.
        if entry.filemode() == LINK_MODE {
            return Err(link_refused(rel));
        }
        let blob = self
            .repo
            .find_blob(entry.id())
            .map_err(|_| not_found(rel))?;
        let limit = crate::project::size_limit(rel, self.max_bytes);
        if blob.size() as u64 > limit {
            return Err(Refusal::TooLarge {
                limit,
                what: crate::project::PROMPT_LIMIT_WHAT,
            }
            .into());
        }
        Ok(blob.content().to_vec())
    }
}

fn link_refused(rel: &Path) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!(
            "`{}` is a symbolic link in this revision; ptrack does not follow links stored in git",
            rel.display()
        ),
    )
}

/// A commit's subject (its first paragraph on one line), never empty for want of UTF-8: in
/// the encoding its `encoding` header names when that is Latin-1, else UTF-8 with each bad
/// byte shown as U+FFFD.
fn subject(c: &git2::Commit<'_>) -> String {
    decode(c, c.summary_bytes().unwrap_or_default())
}

/// A commit's author name, decoded as [`subject`] decodes the subject.
fn author_name(c: &git2::Commit<'_>) -> String {
    decode(c, c.author().name_bytes())
}

fn decode(c: &git2::Commit<'_>, bytes: &[u8]) -> String {
    let latin1 = c.message_encoding().ok().flatten().is_some_and(|e| {
        let e = e.to_ascii_lowercase().replace(['-', '_'], "");
        matches!(e.as_str(), "iso88591" | "latin1" | "l1")
    });
    if latin1 {
        bytes.iter().map(|&b| char::from(b)).collect()
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit_all(repo: &git2::Repository, msg: &str) -> git2::Oid {
        let mut index = repo.index().expect("index");
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .expect("add");
        index.update_all(["*"], None).expect("update");
        index.write().expect("write index");
        let tree = repo
            .find_tree(index.write_tree().expect("tree"))
            .expect("tree");
        let sig = git2::Signature::new("T", "t@example.com", &git2::Time::new(1_763_000_000, 0))
            .expect("sig");
        let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        repo.commit(Some("HEAD"), &sig, &sig, msg, &tree, &parents)
            .expect("commit")
    }

    #[test]
    fn commit_only_when_the_committed_blob_matches() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = git2::Repository::init(dir.path()).expect("init");
        let rel = Path::new("prompts/p/1.0.md");
        std::fs::create_dir_all(dir.path().join("prompts/p")).expect("mkdir");
        std::fs::write(dir.path().join(rel), "v1\n").expect("write");
        let sha = crate::blob_sha(b"v1\n");
        assert_eq!(
            head_commit_if_unchanged(dir.path(), rel, &sha),
            None,
            "no commits yet"
        );
        let commit = commit_all(&repo, "add");
        assert_eq!(
            head_commit_if_unchanged(dir.path(), rel, &sha),
            Some(commit.to_string())
        );
        assert_eq!(
            head_commit_if_unchanged(dir.path(), rel, &crate::blob_sha(b"v2\n")),
            None,
            "edited since"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_link_in_a_revision_is_an_error_never_its_target_text() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = git2::Repository::init(dir.path()).expect("init");
        let w = |rel: &str, text: &str| {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        };
        w("ptrack.toml", "[limits]\nmax_prompt_bytes = 100\n");
        w("prompts/ok/1.0.md", "---\ngoal: g\n---\nfine\n");
        w(
            "prompts/ok/1.1.md",
            &format!("---\ngoal: g\n---\n{}\n", "x".repeat(100)),
        );
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("prompts/ok/1.2.md"))
            .expect("link");
        std::os::unix::fs::symlink("ok", dir.path().join("prompts/alias")).expect("link");
        commit_all(&repo, "add");
        let r = Repo::open(dir.path()).expect("repo");
        let (reg, _) = r.registry_at("HEAD").expect("registry");
        let msgs: Vec<String> = reg.diagnostics.iter().map(ToString::to_string).collect();
        assert_eq!(
            msgs,
            [
                "prompts/alias: a symbolic link in this revision: ptrack does not follow links stored in git",
                "prompts/ok/1.1.md: cannot read file: the file is larger than 100 bytes (the limit for prompt files, `[limits] max_prompt_bytes` in ptrack.toml)",
                "prompts/ok/1.2.md: cannot read file: `prompts/ok/1.2.md` is a symbolic link in this revision; ptrack does not follow links stored in git",
            ]
        );
        let ok = reg.get("ok").expect("ok");
        assert_eq!(ok.versions.len(), 1);
        assert_eq!(ok.invalid.len(), 2);
    }

    /// Commit the working tree with `message` as raw bytes, which `Repository::commit` cannot
    /// take, and `encoding` as the commit's encoding header.
    fn commit_raw(repo: &git2::Repository, message: &[u8], encoding: Option<&str>) {
        let mut index = repo.index().expect("index");
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .expect("add");
        index.write().expect("write index");
        let tree = index.write_tree().expect("tree");
        let mut raw = format!("tree {tree}\n").into_bytes();
        if let Some(p) = repo.head().ok().and_then(|h| h.peel_to_commit().ok()) {
            raw.extend(format!("parent {}\n", p.id()).as_bytes());
        }
        // A Latin-1 commit's author is Latin-1 too.
        if encoding.is_some() {
            raw.extend(b"author Jos\xe9 <t@example.com> 1763000000 +0000\n");
        } else {
            raw.extend(b"author T\xff <t@example.com> 1763000000 +0000\n");
        }
        raw.extend(b"committer T <t@example.com> 1763000000 +0000\n");
        if let Some(e) = encoding {
            raw.extend(format!("encoding {e}\n").as_bytes());
        }
        raw.push(b'\n');
        raw.extend(message);
        let oid = repo
            .odb()
            .expect("odb")
            .write(git2::ObjectType::Commit, &raw)
            .expect("write commit");
        let head = repo.find_reference("HEAD").expect("HEAD");
        let branch = head
            .symbolic_target()
            .ok()
            .flatten()
            .expect("HEAD names a branch");
        repo.reference(branch, oid, true, "commit")
            .expect("move branch");
    }

    #[test]
    fn a_subject_that_is_not_utf8_is_shown_lossily_or_as_latin1() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = git2::Repository::init(dir.path()).expect("init");
        let w = |text: &str| {
            std::fs::create_dir_all(dir.path().join("prompts/p")).expect("mkdir");
            std::fs::write(dir.path().join("prompts/p/1.0.md"), text).expect("write");
        };
        w("---\ngoal: g\n---\none\n");
        commit_all(&repo, "add");
        w("---\ngoal: g\n---\ntwo\n");
        commit_raw(&repo, b"fix caf\xe9 \xff\n\nbody \xe9\n", None);
        w("---\ngoal: g\n---\nthree\n");
        commit_raw(&repo, b"r\xe9sum\xe9\n", Some("ISO-8859-1"));
        let r = Repo::open(dir.path()).expect("repo");
        let h = r.history("p", None).expect("history");
        let subjects: Vec<&str> = h.iter().map(|e| e.subject.as_str()).collect();
        assert_eq!(subjects, ["résumé", "fix caf\u{fffd} \u{fffd}", "add"]);
        let authors: Vec<&str> = h.iter().map(|e| e.author.as_str()).collect();
        assert_eq!(authors, ["José", "T\u{fffd}", "T"]);
        let last = r.resolve("HEAD").expect("HEAD");
        let first = r.resolve("HEAD~2").expect("HEAD~2");
        let changes = r
            .first_parent_changes(first, last, Path::new("prompts/p"))
            .expect("commits");
        let subjects: Vec<&str> = changes.iter().map(|c| c.subject.as_str()).collect();
        assert_eq!(subjects, ["fix caf\u{fffd} \u{fffd}", "résumé"]);
    }

    #[test]
    fn history_stops_walking_at_the_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = git2::Repository::init(dir.path()).expect("init");
        std::fs::create_dir_all(dir.path().join("prompts/p")).expect("mkdir");
        for i in 0..12 {
            let v = i % 3;
            std::fs::write(
                dir.path().join(format!("prompts/p/1.{v}.md")),
                format!("---\ngoal: g\n---\ntext {i}\n"),
            )
            .expect("write");
            commit_all(&repo, &format!("c{i}"));
        }
        let r = Repo::open(dir.path()).expect("repo");
        let mut looked_at = 0;
        let h = r
            .history_where("p", Some(3), |e| {
                looked_at += 1;
                e.changes
                    .iter()
                    .any(|c| c.version.as_deref() == Some("1.1"))
            })
            .expect("history");
        let subjects: Vec<&str> = h.iter().map(|e| e.subject.as_str()).collect();
        assert_eq!(subjects, ["c10", "c7", "c4"]);
        // c11 … c4: eight commits, not all twelve.
        assert_eq!(looked_at, 8);
        assert_eq!(r.history("p", Some(2)).expect("history").len(), 2);
        assert_eq!(r.history("p", None).expect("history").len(), 12);
    }

    /// Run git in `dir` with a fixed identity, at minute `at` of a fixed hour; its stdout.
    fn git_at(dir: &Path, at: u32, args: &[&str]) -> String {
        let date = format!("2026-11-01T10:{at:02}:00Z");
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "T")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "T")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn history_without_a_tree_diff_is_the_diffs_history_and_gits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let w = |rel: &str, text: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        };
        let long = |i: u32| {
            format!(
                "---\ngoal: g\n---\nA prompt text long enough to be found again after a rename, number {i}.\n"
            )
        };
        // Each command a minute after the one before, so the walk's order is the story's.
        let clock = std::cell::Cell::new(0);
        let git = |root: &Path, args: &[&str]| {
            clock.set(clock.get() + 1);
            git_at(root, clock.get(), args)
        };
        let commit = |msg: &str| {
            git(root, &["add", "-A"]);
            git(root, &["commit", "-q", "-m", msg]);
        };
        git(root, &["init", "-q", "-b", "main"]);
        w("prompts/coach/1.0.md", &long(0));
        w("prompts/other/1.0.md", &long(1));
        w("README.md", "r\n");
        commit("add coach and other");
        w("prompts/coach/1.0.md", &long(2));
        commit("edit coach 1.0");
        w("README.md", "r2\n");
        commit("not the prompt");
        w("prompts/coach/1.1.md", &long(3));
        w("prompts/other/1.0.md", &long(4));
        commit("add coach 1.1, edit other");
        git(root, &["checkout", "-q", "-b", "side"]);
        w("prompts/coach/1.1.md", &long(5));
        commit("side: edit coach 1.1");
        git(root, &["checkout", "-q", "main"]);
        w("prompts/coach/1.0.md", &long(6));
        commit("main: edit coach 1.0");
        git(
            root,
            &["merge", "-q", "--no-ff", "-m", "merge side", "side"],
        );
        git(root, &["checkout", "-q", "-b", "quiet"]);
        w("notes.txt", "n\n");
        commit("quiet: not the prompt");
        git(root, &["checkout", "-q", "main"]);
        git(
            root,
            &["merge", "-q", "--no-ff", "-m", "merge quiet", "quiet"],
        );
        git(
            root,
            &["mv", "prompts/coach/1.1.md", "prompts/coach/2.0.md"],
        );
        commit("rename 1.1 to 2.0");
        git(root, &["rm", "-q", "prompts/coach/1.0.md"]);
        commit("delete 1.0");
        git(
            root,
            &["update-index", "--chmod=+x", "prompts/coach/2.0.md"],
        );
        git(root, &["commit", "-q", "-m", "make 2.0 executable"]);
        w("prompts/coach/notes/x.md", &long(12));
        commit("a subfolder");
        w("prompts/coach/2.0.md", &long(7));
        w("prompts/coach/2.1.md", &long(8));
        commit("edit 2.0, add 2.1");
        git(
            root,
            &["mv", "prompts/other/1.0.md", "prompts/coach/3.0.md"],
        );
        commit("move other's file into coach");
        w("prompts/third/1.0.md", &long(9));
        w("prompts/coach/2.1.md", &long(10));
        commit("add third, edit coach 2.1");
        git(root, &["mv", "prompts/coach", "prompts/coaching"]);
        commit("rename coach to coaching");
        w("prompts/coaching/2.1.md", &long(11));
        commit("edit coaching 2.1");
        let r = Repo::open(root).expect("repo");
        for name in ["coaching", "coach", "other", "third"] {
            let quick = r.walk_history(name, None, |_| true, true).expect("quick");
            let diffed = r.walk_history(name, None, |_| true, false).expect("diff");
            assert_eq!(quick, diffed, "{name}");
        }
        // The changes are `git diff-tree -M` against the first parent, for the prompt's
        // folders over its history (coach, coaching and other, whose file moved into coach).
        let h = r.history("coaching", None).expect("history");
        let subjects: Vec<&str> = h.iter().map(|e| e.subject.as_str()).collect();
        assert_eq!(
            subjects,
            [
                "edit coaching 2.1",
                "rename coach to coaching",
                "add third, edit coach 2.1",
                "move other's file into coach",
                "edit 2.0, add 2.1",
                "a subfolder",
                "make 2.0 executable",
                "delete 1.0",
                "rename 1.1 to 2.0",
                "merge side",
                "main: edit coach 1.0",
                "side: edit coach 1.1",
                "add coach 1.1, edit other",
                "edit coach 1.0",
                "add coach and other",
            ]
        );
        let ours = ["coach", "coaching", "other"];
        for e in &h {
            let first_parent = format!("{}^", e.commit);
            let mut args = vec!["diff-tree", "-r", "-M", "--name-status", "--no-commit-id"];
            if e.subject == "add coach and other" {
                args.extend(["--root", e.commit.as_str()]);
            } else {
                args.extend([first_parent.as_str(), e.commit.as_str()]);
            }
            args.extend(["--", "prompts"]);
            let reference: Vec<String> = git(root, &args)
                .lines()
                .filter(|l| {
                    l.split('\t')
                        .skip(1)
                        .any(|p| ours.iter().any(|f| p.starts_with(&format!("prompts/{f}/"))))
                })
                .map(|l| {
                    let mut parts = l.split('\t');
                    let status = &parts.next().expect("status")[..1];
                    let paths: Vec<&str> = parts.collect();
                    format!("{status} {}", paths.join(" "))
                })
                .collect();
            let got: Vec<String> = e
                .changes
                .iter()
                .map(|c| {
                    let letter = match c.status {
                        ChangeKind::Added => "A",
                        ChangeKind::Modified => "M",
                        ChangeKind::Renamed => "R",
                        ChangeKind::Deleted => "D",
                    };
                    match &c.old_path {
                        Some(old) => format!("{letter} {} {}", old.display(), c.path.display()),
                        None => format!("{letter} {}", c.path.display()),
                    }
                })
                .collect();
            assert_eq!(got, reference, "{}", e.subject);
        }
    }

    #[test]
    fn history_follows_a_folder_rename() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = git2::Repository::init(dir.path()).expect("init");
        let w = |rel: &str, text: &str| {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        };
        w(
            "prompts/coach/1.0.md",
            "---\ngoal: g\n---\nA long enough prompt text to be detected as a rename.\n",
        );
        commit_all(&repo, "add coach");
        w("prompts/other/1.0.md", "---\ngoal: g\n---\nunrelated\n");
        commit_all(&repo, "add other");
        std::fs::rename(
            dir.path().join("prompts/coach"),
            dir.path().join("prompts/coaching"),
        )
        .expect("mv");
        commit_all(&repo, "rename coach to coaching");
        let r = Repo::open(dir.path()).expect("repo");
        let h = r.history("coaching", None).expect("history");
        let subjects: Vec<&str> = h.iter().map(|e| e.subject.as_str()).collect();
        assert_eq!(subjects, ["rename coach to coaching", "add coach"]);
        assert_eq!(h[0].changes[0].status, ChangeKind::Renamed);
        assert_eq!(
            h[0].changes[0].old_path.as_deref(),
            Some(Path::new("prompts/coach/1.0.md"))
        );
        assert_eq!(h[1].changes[0].status, ChangeKind::Added);
    }
}
