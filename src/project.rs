//! A ptrack project on disk: its root, settings, and the registry of prompt versions.
//!
//! The root is the first folder, walking up from a start directory, that holds `ptrack.toml`
//! or `prompts/` (as git and cargo find theirs). Loading the registry never fails as a whole:
//! each bad file becomes a [`Diagnostic`] and the good prompts are still listed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::{Config, ConfigError};
use crate::diagnostic::Diagnostic;
use crate::prompt::{PromptVersion, is_valid_name, parse_prompt_file};
use crate::runlog::{RunFilter, RunSet};
use crate::version::Version;

/// Why a project could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// No folder with `ptrack.toml` or `prompts/` above the start directory.
    #[error("no ptrack project found in {} or any parent folder (looked for ptrack.toml or prompts/)", start.display())]
    NotFound {
        /// Where the search started.
        start: PathBuf,
    },
    /// The given directory does not exist or cannot be read.
    #[error("cannot open {}: {source}", path.display())]
    Io {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `ptrack.toml` is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// An opened project.
#[derive(Debug, Clone)]
pub struct Project {
    root: PathBuf,
    config: Config,
    config_diagnostics: Vec<Diagnostic>,
}

/// Every prompt of a project, with the problems found while loading them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Registry {
    /// Prompts by name.
    pub prompts: BTreeMap<String, Prompt>,
    /// Problems in prompt files (errors and warnings), by path then line.
    pub diagnostics: Vec<Diagnostic>,
}

/// A prompt: its valid versions, oldest first, and the version files that have errors.
#[derive(Debug, Clone, Serialize)]
pub struct Prompt {
    /// The prompt's name.
    pub name: String,
    /// Valid versions, ordered by version number.
    pub versions: Vec<PromptVersion>,
    /// Version files with errors, ordered by version number. They are still versions: asking
    /// for one, or for the latest when the highest version is one of them, is an error that
    /// carries the file's diagnostics, never a silent fallback to an older version.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub invalid: Vec<InvalidVersion>,
}

/// A version file that exists but cannot be used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvalidVersion {
    /// The version named by the file.
    pub version: Version,
    /// The file, relative to the project root.
    pub path: PathBuf,
    /// The file's errors, ordered by line.
    pub errors: Vec<Diagnostic>,
}

impl Prompt {
    /// The highest valid version. This skips a higher version whose file has errors; use
    /// [`Prompt::resolve`] with `None` to get "the latest" as commands mean it.
    pub fn latest(&self) -> Option<&PromptVersion> {
        self.versions.last()
    }

    /// The version `v`, if it exists and is valid.
    pub fn version(&self, v: &Version) -> Option<&PromptVersion> {
        self.versions.iter().find(|p| &p.version == v)
    }

    /// The version file `v` when it exists but has errors.
    pub fn invalid_version(&self, v: &Version) -> Option<&InvalidVersion> {
        self.invalid.iter().find(|p| &p.version == v)
    }

    /// The highest version file with errors, when it is higher than every valid version.
    pub fn latest_invalid(&self) -> Option<&InvalidVersion> {
        let top = self.invalid.last()?;
        match self.latest() {
            Some(valid) if valid.version > top.version => None,
            _ => Some(top),
        }
    }

    /// Every version number, valid or not, in order.
    pub fn all_versions(&self) -> Vec<Version> {
        let mut all: Vec<Version> = self
            .versions
            .iter()
            .map(|v| v.version.clone())
            .chain(self.invalid.iter().map(|v| v.version.clone()))
            .collect();
        all.sort();
        all
    }

    /// Version `v`, or the latest when `v` is None. A version whose file has errors (asked
    /// for, or the highest one when `v` is None) is an error with that file's diagnostics;
    /// an unknown version's error lists the versions there are.
    pub fn resolve(&self, v: Option<&Version>) -> Result<&PromptVersion, LookupError> {
        match v {
            None => {
                if let Some(bad) = self.latest_invalid() {
                    return Err(LookupError::invalid(&self.name, bad));
                }
                self.latest().ok_or_else(|| LookupError::NoValidVersion {
                    name: self.name.clone(),
                })
            }
            Some(v) => {
                if let Some(p) = self.version(v) {
                    return Ok(p);
                }
                if let Some(bad) = self.invalid_version(v) {
                    return Err(LookupError::invalid(&self.name, bad));
                }
                Err(LookupError::no_version(&self.name, v, self.all_versions()))
            }
        }
    }
}

/// The text of a small project file read from `rel` (an initial BOM skipped), or the
/// diagnostic for bytes that are not UTF-8.
pub(crate) fn project_text(bytes: Vec<u8>, rel: &Path) -> Result<String, Diagnostic> {
    match String::from_utf8(bytes) {
        Ok(t) => Ok(match t.strip_prefix('\u{feff}') {
            Some(rest) => rest.to_string(),
            None => t,
        }),
        Err(e) => Err(Diagnostic::error(
            rel,
            None,
            format!(
                "not valid UTF-8 (bad byte at offset {}); save it as UTF-8",
                e.utf8_error().valid_up_to()
            ),
        )),
    }
}

/// The text of `root/rel` (`labels.toml`, `experiments.toml`), read like every file of a
/// cloned project: a regular file inside it, at most 1 MiB. None when there is no such file.
pub(crate) fn read_project_text(
    root: &Path,
    rel: &Path,
    what: &'static str,
) -> Result<Option<String>, Diagnostic> {
    match crate::safe_fs::read_inside(root, rel, crate::safe_fs::DEFAULT_FILE_LIMIT, what) {
        Ok(bytes) => project_text(bytes, rel).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Diagnostic::error(
            rel,
            None,
            format!("cannot read file: {e}"),
        )),
    }
}

/// Why a prompt or one of its versions could not be found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LookupError {
    /// The name breaks the naming rule.
    #[error("invalid prompt name `{name}`")]
    InvalidName {
        /// The name given.
        name: String,
    },
    /// No valid prompt has this name.
    #[error("no prompt named `{name}`")]
    NoPrompt {
        /// The name given.
        name: String,
        /// A known name close to it.
        suggestion: Option<String>,
        /// Every known prompt name.
        known: Vec<String>,
        /// Whether `prompts/<name>/` holds files with errors (so the prompt may exist but be broken).
        invalid_files: bool,
    },
    /// The prompt has files but none of them is valid.
    #[error("prompt `{name}` has no valid version")]
    NoValidVersion {
        /// The prompt.
        name: String,
    },
    /// The version's file exists but has errors.
    #[error("version {version} of `{name}` is invalid:\n{}", errors.iter().map(|d| format!("  {d}")).collect::<Vec<_>>().join("\n"))]
    InvalidVersion {
        /// The prompt.
        name: String,
        /// The version.
        version: Version,
        /// Its file.
        path: PathBuf,
        /// The file's errors.
        errors: Vec<Diagnostic>,
    },
    /// The prompt has no such version.
    #[error("prompt `{name}` has no version {version}")]
    NoVersion {
        /// The prompt.
        name: String,
        /// The version asked for.
        version: Version,
        /// The versions it has.
        known: Vec<Version>,
    },
    /// The prompt has no such label in `labels.toml`.
    #[error("prompt `{name}` has no label `{label}`")]
    NoLabel {
        /// The prompt.
        name: String,
        /// The label asked for.
        label: String,
        /// The labels it has.
        known: Vec<String>,
    },
    /// The label names a version that does not exist (or whose file has errors).
    #[error("label `{label}` of `{name}` points at version {version}, which {}; see labels.toml:{line}", if *invalid { "has errors" } else { "does not exist" })]
    LabelTarget {
        /// The prompt.
        name: String,
        /// The label.
        label: String,
        /// The version it names.
        version: Version,
        /// Its line in `labels.toml`.
        line: usize,
        /// Whether the version's file exists but has errors.
        invalid: bool,
    },
    /// `labels.toml` has errors, so a label cannot be trusted.
    #[error("labels.toml has errors:\n{}", errors.iter().map(|d| format!("  {d}")).collect::<Vec<_>>().join("\n"))]
    InvalidLabels {
        /// Its errors.
        errors: Vec<Diagnostic>,
    },
}

/// Why `NAME:LABEL`, `--version` or `--label` name no version ([`Project::named_version`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NamedVersionError {
    /// `NAME:X` names the version and a version or label was given besides.
    #[error("`{name}:{inline}` already names the version")]
    Twice {
        /// The prompt.
        name: String,
        /// What follows the colon.
        inline: String,
    },
    /// What follows the colon is neither a version nor a label name.
    #[error("{0}")]
    Spec(String),
    /// The label given is not a label name.
    #[error("{0}")]
    Label(String),
    /// The prompt, version or label cannot be found.
    #[error(transparent)]
    Lookup(#[from] LookupError),
}

impl LookupError {
    /// The error for a version whose file has errors.
    pub fn invalid(name: &str, bad: &InvalidVersion) -> LookupError {
        LookupError::InvalidVersion {
            name: name.to_string(),
            version: bad.version.clone(),
            path: bad.path.clone(),
            errors: bad.errors.clone(),
        }
    }

    /// The error for a version that `known` does not hold.
    pub fn no_version(name: &str, version: &Version, known: Vec<Version>) -> LookupError {
        LookupError::NoVersion {
            name: name.to_string(),
            version: version.clone(),
            known,
        }
    }
}

/// Check a prompt name given by a user.
pub fn check_name(name: &str) -> Result<(), LookupError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(LookupError::InvalidName {
            name: name.to_string(),
        })
    }
}

/// The closest candidate to `word` by edit distance, when it is close enough to be a typo.
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

impl Registry {
    /// The prompt called `name`.
    pub fn get(&self, name: &str) -> Option<&Prompt> {
        self.prompts.get(name)
    }

    /// The prompt called `name`, or why there is none (with a close name, when one exists).
    pub fn find(&self, name: &str) -> Result<&Prompt, LookupError> {
        check_name(name)?;
        self.prompts.get(name).ok_or_else(|| {
            let names: Vec<&str> = self.prompts.keys().map(String::as_str).collect();
            LookupError::NoPrompt {
                name: name.to_string(),
                suggestion: closest(name, &names).map(str::to_string),
                known: names.iter().map(|n| n.to_string()).collect(),
                invalid_files: self.has_invalid_files(name),
            }
        })
    }

    /// Version `version` of prompt `name`, or its latest when `version` is None.
    pub fn resolve(
        &self,
        name: &str,
        version: Option<&Version>,
    ) -> Result<&PromptVersion, LookupError> {
        self.find(name)?.resolve(version)
    }

    /// Whether a file under `prompts/<name>/` has errors.
    pub fn has_invalid_files(&self, name: &str) -> bool {
        let dir = Path::new("prompts").join(name);
        self.diagnostics
            .iter()
            .any(|d| d.is_error() && d.path.starts_with(&dir))
    }

    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

impl Project {
    /// Find the project containing `start` by walking up to the first folder with
    /// `ptrack.toml` or `prompts/`.
    pub fn discover(start: &Path) -> Result<Project, ProjectError> {
        let start = std::path::absolute(start).map_err(|source| ProjectError::Io {
            path: start.to_path_buf(),
            source,
        })?;
        let mut dir = Some(start.as_path());
        while let Some(d) = dir {
            // Any `ptrack.toml` marks the root, so one that is not a regular file (a FIFO) is
            // reported when it is read, not skipped.
            if std::fs::symlink_metadata(d.join("ptrack.toml")).is_ok()
                || d.join("prompts").is_dir()
            {
                return Project::open(d);
            }
            dir = d.parent();
        }
        Err(ProjectError::NotFound { start })
    }

    /// Open the project rooted at `root` (which need not have `ptrack.toml`).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # std::fs::create_dir_all(dir.path().join("prompts/greet")).unwrap();
    /// # std::fs::write(dir.path().join("prompts/greet/1.0.md"),
    /// #     "---\ngoal: Greet.\nmodel: llama3.1:8b\ntemperature: 0.2\n---\nSay hello to {{ name }}.\n").unwrap();
    /// let project = ptrack::Project::open(dir.path())?;
    /// let registry = project.load_prompts();
    /// let latest = registry.get("greet").and_then(|p| p.latest()).unwrap();
    /// assert_eq!(latest.version.as_str(), "1.0");
    /// assert_eq!(latest.meta.params.temperature, Some(0.2));
    /// assert_eq!(latest.text, "Say hello to {{ name }}.\n");
    /// # Ok::<(), ptrack::ProjectError>(())
    /// ```
    pub fn open(root: &Path) -> Result<Project, ProjectError> {
        let meta = std::fs::metadata(root).map_err(|source| ProjectError::Io {
            path: root.to_path_buf(),
            source,
        })?;
        if !meta.is_dir() {
            return Err(ProjectError::Io {
                path: root.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
            });
        }
        let (config, config_diagnostics) =
            Config::load(&root.join("ptrack.toml"), Path::new("ptrack.toml"))?;
        Ok(Project {
            root: root.to_path_buf(),
            config,
            config_diagnostics,
        })
    }

    /// The project's root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Settings from `ptrack.toml` (defaults when it is absent).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Warnings about `ptrack.toml` (unknown keys), for `check`.
    pub fn config_diagnostics(&self) -> &[Diagnostic] {
        &self.config_diagnostics
    }

    /// `prompts/` under the root.
    pub fn prompts_dir(&self) -> PathBuf {
        self.root.join("prompts")
    }

    /// `runs/` under the root.
    pub fn runs_dir(&self) -> PathBuf {
        self.root.join("runs")
    }

    /// `templates/` under the root.
    pub fn templates_dir(&self) -> PathBuf {
        self.root.join("templates")
    }

    /// The path of version `version` of `name` in `format` (`md` or `toml`).
    pub fn version_path(&self, name: &str, version: &Version, ext: &str) -> PathBuf {
        self.prompts_dir()
            .join(name)
            .join(format!("{version}.{ext}"))
    }

    /// Load every prompt version under `prompts/`. Bad files become diagnostics.
    pub fn load_prompts(&self) -> Registry {
        load_registry(&self.prompt_source())
    }

    /// The working tree's prompt files, read within the project's size limit.
    pub fn prompt_source(&self) -> FsSource<'_> {
        FsSource {
            root: &self.root,
            max_bytes: self.config.limits.prompt_bytes(),
        }
    }

    /// The labels in `labels.toml` (read each time: a label may have just moved).
    pub fn labels(&self) -> crate::labels::Labels {
        crate::labels::Labels::load(&self.root)
    }

    /// The version `spec` names for prompt `name`: a version number as it is, a label from
    /// `labels.toml`, or None for `latest` (and for no spec). A label is checked: it must point
    /// at a version that exists and is valid.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let project = ptrack::Project::discover(std::path::Path::new("."))?;
    /// let registry = project.load_prompts();
    /// let spec = "production".parse()?;
    /// let version = project.resolve_spec(&registry, "coaching_system", Some(&spec))?;
    /// let v = registry.resolve("coaching_system", version.as_ref())?;
    /// println!("{} serves {}", v.name, v.version);
    /// # Ok(())
    /// # }
    /// ```
    pub fn resolve_spec(
        &self,
        registry: &Registry,
        name: &str,
        spec: Option<&crate::labels::VersionSpec>,
    ) -> Result<Option<Version>, LookupError> {
        use crate::labels::VersionSpec;
        match spec {
            None => Ok(None),
            Some(VersionSpec::Version(v)) => Ok(Some(v.clone())),
            Some(VersionSpec::Label(l)) if l == crate::labels::LATEST => Ok(None),
            Some(VersionSpec::Label(label)) => {
                let prompt = registry.find(name)?;
                let labels = self.labels();
                labels.resolve_in(prompt, label).map(Some)
            }
        }
    }

    /// The version `spec` names for prompt `name`, as a number: a label's version, or the
    /// latest valid version for `latest`.
    pub fn version_of_spec(
        &self,
        registry: &Registry,
        name: &str,
        spec: &crate::labels::VersionSpec,
    ) -> Result<Version, LookupError> {
        match self.resolve_spec(registry, name, Some(spec))? {
            Some(v) => Ok(v),
            None => Ok(registry.resolve(name, None)?.version.clone()),
        }
    }

    /// The prompt and version a caller names: `NAME`, `NAME:LABEL` or `NAME:VERSION`, or a
    /// separate `version` or `label`. A label (and `latest`) becomes the version number it names,
    /// so a filter means one version; with neither, the version is None (the caller's default).
    pub fn named_version(
        &self,
        registry: &Registry,
        name: &str,
        version: Option<&Version>,
        label: Option<&str>,
    ) -> Result<(String, Option<Version>), NamedVersionError> {
        use crate::labels::{LabelNameError, VersionSpec, check_label_name};
        let (name, inline) = match name.split_once(':') {
            Some((n, l)) => (n, Some(l)),
            None => (name, None),
        };
        let spec = match (inline, version, label) {
            (Some(i), Some(_), _) | (Some(i), _, Some(_)) => {
                return Err(NamedVersionError::Twice {
                    name: name.to_string(),
                    inline: i.to_string(),
                });
            }
            (Some(i), None, None) => i
                .parse::<VersionSpec>()
                .map_err(|e| NamedVersionError::Spec(e.to_string()))?,
            (None, _, Some(l)) => match check_label_name(l) {
                Ok(()) | Err(LabelNameError::Latest) => VersionSpec::Label(l.to_string()),
                Err(e) => return Err(NamedVersionError::Label(e.to_string())),
            },
            (None, v, None) => return Ok((name.to_string(), v.cloned())),
        };
        let v = self.version_of_spec(registry, name, &spec)?;
        Ok((name.to_string(), Some(v)))
    }

    /// Version `spec` of `name` (the latest when None), as [`Registry::resolve`] gives it.
    pub fn resolve(&self, name: &str, spec: Option<&str>) -> Result<PromptVersion, LookupError> {
        let registry = self.load_prompts();
        let spec = spec
            .map(|s| {
                s.parse::<crate::labels::VersionSpec>()
                    .map_err(|_| LookupError::NoLabel {
                        name: name.to_string(),
                        label: s.to_string(),
                        known: self.labels().of(name).map(|(k, _)| k.to_string()).collect(),
                    })
            })
            .transpose()?;
        let version = self.resolve_spec(&registry, name, spec.as_ref())?;
        registry.resolve(name, version.as_ref()).cloned()
    }

    /// `.ptrack/cache` under the root, where `performance` keeps what it read of each log.
    pub fn cache_dir(&self) -> PathBuf {
        self.root.join(".ptrack").join("cache")
    }

    /// Every run that passes `filter`, with ratings applied and repeated ids counted once.
    pub fn runs(&self, filter: &RunFilter) -> RunSet {
        RunSet::load(&self.runs_dir(), Path::new("runs"), filter)
    }

    /// The compact columns of the logs `filter` may hold, through the project's cache.
    pub fn run_columns(&self, filter: &RunFilter) -> crate::runlog::compact::RunColumns {
        crate::runlog::compact::RunColumns::read(
            &self.runs_dir(),
            Path::new("runs"),
            Some(self.root()),
            filter,
            crate::runlog::default_threads(),
        )
    }
}

/// Where prompt files are read from: the working tree, or a git tree at some revision.
pub trait PromptSource {
    /// Entries of the folder `rel` (relative to the project root), sorted by name.
    fn list(&self, rel: &Path) -> std::io::Result<Vec<SourceEntry>>;
    /// The bytes of the file `rel`. A file that is not a regular file inside the project, or
    /// that is larger than the source's limit, is an error saying so.
    fn read(&self, rel: &Path) -> std::io::Result<Vec<u8>>;
}

/// One entry of a folder of a [`PromptSource`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SourceEntry {
    /// The name; when it is not UTF-8, its lossy rendering (see `utf8`).
    pub name: String,
    /// What the entry is.
    pub kind: EntryKind,
    /// Whether the name is valid UTF-8. Other names cannot be prompt or version names, so
    /// they are reported (lossily) instead of read.
    pub utf8: bool,
}

/// What a [`SourceEntry`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EntryKind {
    /// A file (or a link to one, in the working tree).
    File,
    /// A folder (or a link to one, in the working tree).
    Folder,
    /// A symbolic link the source does not follow (a link stored in a git tree).
    Link,
}

/// What `prompts/` files may be at most, in the `TooLarge` refusal.
pub const PROMPT_LIMIT_WHAT: &str = "prompt files, `[limits] max_prompt_bytes` in ptrack.toml";

/// The size limit for reading `rel`: `prompt_limit` for a prompt version file (`.md`,
/// `.toml`); other files a source is asked for (a `cases.jsonl`) have their own readers' limits.
pub fn size_limit(rel: &Path, prompt_limit: u64) -> u64 {
    match rel.file_name().and_then(|e| e.to_str()) {
        Some(f) if crate::prompt::version_stem(f).is_some() => prompt_limit,
        _ => u64::MAX,
    }
}

/// The working tree under a project root. Links are followed only when they stay inside the
/// root; only regular files are read, up to `max_bytes`.
pub struct FsSource<'a> {
    /// The project root.
    pub root: &'a Path,
    /// The largest prompt file read, in bytes.
    pub max_bytes: u64,
}

impl PromptSource for FsSource<'_> {
    fn list(&self, rel: &Path) -> std::io::Result<Vec<SourceEntry>> {
        let dir = crate::safe_fs::check_inside(self.root, rel)?;
        let mut out: Vec<SourceEntry> = std::fs::read_dir(&dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let os = e.file_name();
                let (name, utf8) = match os.to_str() {
                    Some(n) => (n.to_string(), true),
                    None => (os.to_string_lossy().into_owned(), false),
                };
                if name.starts_with('.') {
                    return None;
                }
                // `is_dir` follows a link; where it leads is checked when the folder is listed.
                let kind = if dir.join(&os).is_dir() {
                    EntryKind::Folder
                } else {
                    EntryKind::File
                };
                Some(SourceEntry { name, kind, utf8 })
            })
            .collect();
        out.sort();
        Ok(out)
    }

    fn read(&self, rel: &Path) -> std::io::Result<Vec<u8>> {
        crate::safe_fs::read_inside(
            self.root,
            rel,
            size_limit(rel, self.max_bytes),
            PROMPT_LIMIT_WHAT,
        )
    }
}

/// Load every prompt version under `prompts/` of `source`. Bad files become diagnostics.
pub fn load_registry(source: &dyn PromptSource) -> Registry {
    let mut reg = Registry::default();
    let prompts = Path::new("prompts");
    let entries = match source.list(prompts) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return reg,
        Err(e) => {
            reg.diagnostics.push(Diagnostic::error(
                "prompts",
                None,
                format!("cannot read folder: {e}"),
            ));
            return reg;
        }
    };
    for SourceEntry {
        name: entry,
        kind,
        utf8,
    } in entries
    {
        let rel = prompts.join(&entry);
        match kind {
            EntryKind::File => continue,
            EntryKind::Link => {
                reg.diagnostics.push(Diagnostic::error(
                    &rel,
                    None,
                    "a symbolic link in this revision: ptrack does not follow links stored in git",
                ));
                continue;
            }
            EntryKind::Folder => {}
        }
        if !utf8 {
            reg.diagnostics.push(Diagnostic::error(
                &rel,
                None,
                "invalid prompt name: the folder name is not UTF-8 (shown with \u{fffd}); rename it",
            ));
            continue;
        }
        if !is_valid_name(&entry) {
            reg.diagnostics.push(Diagnostic::error(
                &rel,
                None,
                "invalid prompt name: use lower-case letters, digits, `_` and `-`, starting with a letter or digit",
            ));
            continue;
        }
        let (versions, invalid) = load_versions(source, &entry, &rel, &mut reg.diagnostics);
        if !versions.is_empty() || !invalid.is_empty() {
            reg.prompts.insert(
                entry.clone(),
                Prompt {
                    name: entry,
                    versions,
                    invalid,
                },
            );
        }
    }
    reg
}

fn load_versions(
    source: &dyn PromptSource,
    name: &str,
    rel_dir: &Path,
    diags: &mut Vec<Diagnostic>,
) -> (Vec<PromptVersion>, Vec<InvalidVersion>) {
    let files = match source.list(rel_dir) {
        Ok(f) => f,
        Err(e) => {
            diags.push(Diagnostic::error(
                rel_dir,
                None,
                format!("cannot read folder: {e}"),
            ));
            return (Vec::new(), Vec::new());
        }
    };
    let mut by_version: BTreeMap<Version, Vec<PathBuf>> = BTreeMap::new();
    for SourceEntry {
        name: file,
        kind,
        utf8,
    } in files
    {
        let rel = rel_dir.join(&file);
        let stem = crate::prompt::version_stem(&file);
        if stem.is_none() || kind == EntryKind::Folder {
            continue;
        }
        if !utf8 {
            diags.push(Diagnostic::warning(
                &rel,
                None,
                "ignored: the file name is not UTF-8 (shown with \u{fffd}); name version files like 1.0.md",
            ));
            continue;
        }
        let stem = stem.unwrap_or_default();
        match stem.parse::<Version>() {
            Ok(v) => by_version.entry(v).or_default().push(rel),
            Err(_) if stem.eq_ignore_ascii_case("readme") => {}
            Err(_) => diags.push(Diagnostic::warning(
                &rel,
                None,
                format!(
                    "ignored: `{stem}` is not a version number (name version files like 1.0.md)"
                ),
            )),
        }
    }
    let mut versions = Vec::new();
    let mut invalid = Vec::new();
    for (version, paths) in by_version {
        if paths.len() > 1 {
            let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            let errors: Vec<Diagnostic> = paths
                .iter()
                .map(|p| {
                    Diagnostic::error(
                        p,
                        None,
                        format!(
                            "version {version} is defined twice ({}); keep one file",
                            list.join(" and ")
                        ),
                    )
                })
                .collect();
            diags.extend(errors.iter().cloned());
            invalid.push(InvalidVersion {
                version,
                path: paths[0].clone(),
                errors,
            });
            continue;
        }
        let rel = &paths[0];
        let bytes = match source.read(rel) {
            Ok(b) => b,
            Err(e) => {
                let d = Diagnostic::error(rel, None, format!("cannot read file: {e}"));
                diags.push(d.clone());
                invalid.push(InvalidVersion {
                    version,
                    path: rel.clone(),
                    errors: vec![d],
                });
                continue;
            }
        };
        let outcome = parse_prompt_file(rel, name, &version, &bytes);
        match outcome.version {
            Some(v) => versions.push(v),
            None => invalid.push(InvalidVersion {
                version,
                path: rel.clone(),
                errors: outcome
                    .diagnostics
                    .iter()
                    .filter(|d| d.is_error())
                    .cloned()
                    .collect(),
            }),
        }
        diags.extend(outcome.diagnostics);
    }
    (versions, invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().expect("has parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    #[test]
    fn loads_versions_in_numeric_order_and_reports_bad_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for v in ["1.9", "1.10", "2.0", "1.0"] {
            write(
                root,
                &format!("prompts/a/{v}.md"),
                "---\ngoal: g\n---\ntext\n",
            );
        }
        write(root, "prompts/b/1.0.md", "---\ntemperature: 9\n---\ntext\n");
        write(root, "prompts/c/1.0.md", "---\ngoal: g\n---\ntext\n");
        write(root, "prompts/c/1.0.toml", "goal = \"g\"\nprompt = \"x\"\n");
        write(root, "prompts/Bad/1.0.md", "text\n");
        write(root, "prompts/a/notes.md", "text\n");
        let reg = Project::open(root).expect("open").load_prompts();
        let a = reg.get("a").expect("a loads");
        let order: Vec<&str> = a.versions.iter().map(|v| v.version.as_str()).collect();
        assert_eq!(order, ["1.0", "1.9", "1.10", "2.0"]);
        assert_eq!(a.latest().map(|v| v.version.as_str()), Some("2.0"));
        // A prompt whose only file is invalid is known, and asking for it names the error.
        let b = reg.get("b").expect("b is known");
        assert!(b.versions.is_empty());
        match reg.resolve("b", None) {
            Err(LookupError::InvalidVersion {
                version, errors, ..
            }) => {
                assert_eq!(version.as_str(), "1.0");
                assert_eq!(errors.len(), 1);
            }
            other => panic!("expected InvalidVersion, got {other:?}"),
        }
        let c = reg.get("c").expect("c is known");
        assert_eq!(c.invalid.len(), 1);
        assert!(c.resolve(None).is_err());
        let msgs: Vec<String> = reg.diagnostics.iter().map(ToString::to_string).collect();
        assert_eq!(
            msgs,
            [
                "prompts/Bad: invalid prompt name: use lower-case letters, digits, `_` and `-`, starting with a letter or digit",
                "prompts/a/notes.md: warning: ignored: `notes` is not a version number (name version files like 1.0.md)",
                "prompts/b/1.0.md:2: temperature must be between 0 and 2, got 9",
                "prompts/c/1.0.md: version 1.0 is defined twice (prompts/c/1.0.md and prompts/c/1.0.toml); keep one file",
                "prompts/c/1.0.toml: version 1.0 is defined twice (prompts/c/1.0.md and prompts/c/1.0.toml); keep one file",
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn refuses_prompt_files_that_resolve_outside_or_are_not_regular_or_too_large() {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::symlink;
        let outside = tempfile::tempdir().expect("tempdir");
        write(outside.path(), "secret.md", "---\ngoal: g\n---\nsecret\n");
        write(outside.path(), "dir/1.0.md", "---\ngoal: g\n---\nsecret\n");
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, "ptrack.toml", "[limits]\nmax_prompt_bytes = 100\n");
        write(root, "prompts/ok/1.0.md", "---\ngoal: g\n---\nfine\n");
        write(
            root,
            "prompts/big/1.0.md",
            &format!("---\ngoal: g\n---\n{}\n", "x".repeat(100)),
        );
        std::fs::create_dir_all(root.join("prompts/a")).expect("mkdir");
        symlink(
            outside.path().join("secret.md"),
            root.join("prompts/a/1.0.md"),
        )
        .expect("link");
        // A link that stays inside the project is fine.
        symlink("../ok/1.0.md", root.join("prompts/a/1.1.md")).expect("link");
        symlink("ok", root.join("prompts/alias")).expect("link");
        symlink(outside.path().join("dir"), root.join("prompts/evil")).expect("link");
        std::fs::create_dir_all(root.join("prompts/z")).expect("mkdir");
        symlink("/dev/zero", root.join("prompts/z/1.0.md")).expect("link");
        let fifo = std::ffi::CString::new(root.join("prompts/z/1.1.md").as_os_str().as_bytes())
            .expect("cstring");
        // SAFETY: `fifo` is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0, "mkfifo");
        let bad = std::ffi::OsStr::from_bytes(b"n\xffme");
        std::fs::create_dir_all(root.join("prompts").join(bad)).expect("mkdir");
        std::fs::write(
            root.join("prompts/ok")
                .join(std::ffi::OsStr::from_bytes(b"1.\xff.md")),
            "x",
        )
        .expect("write");

        let reg = Project::open(root).expect("open").load_prompts();
        let outside_path = outside.path().canonicalize().expect("canon");
        let msgs: Vec<String> = reg.diagnostics.iter().map(ToString::to_string).collect();
        assert_eq!(
            msgs,
            [
                format!("prompts/a/1.0.md: cannot read file: `prompts/a/1.0.md` is a symbolic link to {}, outside the project", outside_path.join("secret.md").display()),
                // `alias` is `ok`, read twice.
                "prompts/alias/1.\u{fffd}.md: warning: ignored: the file name is not UTF-8 (shown with \u{fffd}); name version files like 1.0.md".to_string(),
                "prompts/big/1.0.md: cannot read file: the file is larger than 100 bytes (the limit for prompt files, `[limits] max_prompt_bytes` in ptrack.toml)".to_string(),
                format!("prompts/evil: cannot read folder: `prompts/evil` is a symbolic link to {}, outside the project", outside_path.join("dir").display()),
                "prompts/n\u{fffd}me: invalid prompt name: the folder name is not UTF-8 (shown with \u{fffd}); rename it".to_string(),
                "prompts/ok/1.\u{fffd}.md: warning: ignored: the file name is not UTF-8 (shown with \u{fffd}); name version files like 1.0.md".to_string(),
                "prompts/z/1.0.md: cannot read file: `prompts/z/1.0.md` is a symbolic link to /dev/zero, outside the project".to_string(),
                "prompts/z/1.1.md: cannot read file: not a regular file (it is a FIFO)".to_string(),
            ]
        );
        // The refused version is invalid, never its target's text; the inside link reads.
        let a = reg.get("a").expect("a is known");
        assert_eq!(a.invalid.len(), 1);
        assert!(matches!(
            reg.resolve("a", Some(&"1.0".parse().expect("v"))),
            Err(LookupError::InvalidVersion { .. })
        ));
        assert_eq!(a.versions[0].text, "fine\n");
        assert_eq!(reg.get("alias").expect("alias").versions.len(), 1);
        assert!(reg.get("evil").is_none() && reg.has_invalid_files("evil"));
    }

    #[test]
    fn the_prompt_size_limit_applies_to_version_files_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let big = "x".repeat(100);
        write(dir.path(), "prompts/p/1.0.md", &big);
        write(dir.path(), "prompts/p/cases.jsonl", &big);
        let source = FsSource {
            root: dir.path(),
            max_bytes: 99,
        };
        let e = source
            .read(Path::new("prompts/p/1.0.md"))
            .expect_err("over");
        assert!(
            matches!(
                crate::safe_fs::refusal(&e),
                Some(crate::safe_fs::Refusal::TooLarge { limit: 99, .. })
            ),
            "{e}"
        );
        let cases = source
            .read(Path::new("prompts/p/cases.jsonl"))
            .expect("not a prompt file");
        assert_eq!(cases.len(), 100);
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_ptrack_toml_marks_the_root_and_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ok = std::process::Command::new("mkfifo")
            .arg(dir.path().join("ptrack.toml"))
            .status()
            .expect("mkfifo");
        assert!(ok.success());
        let e = Project::discover(dir.path()).expect_err("fifo");
        assert_eq!(
            e.to_string(),
            "cannot read ptrack.toml: not a regular file (it is a FIFO)"
        );
    }

    #[test]
    fn discover_walks_up_to_the_project_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "ptrack.toml", "");
        let deep = dir.path().join("x/y");
        std::fs::create_dir_all(&deep).expect("mkdir");
        let p = Project::discover(&deep).expect("found");
        assert_eq!(p.root(), dir.path());
    }
}
