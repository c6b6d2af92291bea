//! `import prompty|dotprompt|github`: a file in another tool's format written as ptrack's own
//! `prompts/<name>/<version>.md`, for teams that move rather than read the files in place.
//! A GitHub Models file's `testData` and string `evaluators` become `cases.jsonl`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::project::Project;
use crate::prompt::{SourceFormat, is_valid_name, parse_prompt_file, to_ptrack_text, version_stem};
use crate::version::Version;

/// Why a file was not imported.
#[derive(Debug, thiserror::Error)]
pub enum ForeignImportError {
    /// The file's name does not end as the format's files do.
    #[error("{path}: not a {what} file (expected a name ending in {ending})")]
    WrongFormat {
        /// The file, as given.
        path: PathBuf,
        /// The format asked for.
        what: &'static str,
        /// The ending its files have.
        ending: &'static str,
    },
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file, as given.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// No prompt name could be made from the file name.
    #[error("{0}: cannot make a prompt name from the file name; pass --name")]
    NoName(PathBuf),
    /// The file has errors.
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
    /// The version exists already.
    #[error("{0} exists; pass --version to import as another version")]
    Exists(PathBuf),
    /// The file could not be written.
    #[error("cannot write {path}: {message}")]
    Write {
        /// The file, relative to the project root.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// One file imported (an item of the `import prompty|dotprompt|github --json` model).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ImportedFile {
    /// The file read, as given.
    pub source: PathBuf,
    /// The prompt.
    pub prompt: String,
    /// The version.
    pub version: String,
    /// The version file written, relative to the project root.
    pub path: PathBuf,
    /// The cases file written from the file's test data, when there was any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cases: Option<PathBuf>,
    /// Warnings about the file (an evaluator ptrack cannot run, a cases file kept).
    pub warnings: Vec<String>,
}

fn ending(format: SourceFormat) -> (&'static str, &'static [&'static str]) {
    match format {
        SourceFormat::Prompty => ("Prompty", &[".prompty"]),
        SourceFormat::Dotprompt => ("Dotprompt", &[".prompt"]),
        _ => ("GitHub Models", &[".prompt.yml", ".prompt.yaml"]),
    }
}

/// Import `file` (read from `abs`, shown as `file`) in `format` into `project` as prompt
/// `name` (default: from the file name, or its folder when the file is named by a version)
/// and `version` (default: the file's version, else after the prompt's latest, else 1.0).
pub fn import_file(
    project: &Project,
    abs: &Path,
    file: &Path,
    format: SourceFormat,
    name: Option<&str>,
    version: Option<&Version>,
) -> Result<ImportedFile, ForeignImportError> {
    let (what, endings) = ending(format);
    let file_name = file
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or_default();
    let matches = endings.iter().any(|e| file_name.ends_with(e))
        && crate::prompt::foreign_format_of(file) == Some(format);
    if !matches {
        return Err(ForeignImportError::WrongFormat {
            path: file.to_path_buf(),
            what,
            ending: endings[0],
        });
    }
    let bytes =
        crate::safe_fs::read_limited(abs, project.config().limits.prompt_bytes(), "prompt files")
            .map_err(|source| ForeignImportError::Read {
            path: file.to_path_buf(),
            source,
        })?;
    let stem = version_stem(file_name).unwrap_or(file_name);
    let stem_version: Option<Version> = stem.parse().ok();
    let name = match name {
        Some(n) => n.to_string(),
        None => {
            let raw = match &stem_version {
                Some(_) => file
                    .parent()
                    .and_then(|p| p.file_name())
                    .and_then(|n| n.to_str())
                    .unwrap_or_default(),
                None => stem,
            };
            super::legacy::normalize_name(raw)
        }
    };
    if !is_valid_name(&name) {
        return Err(ForeignImportError::NoName(file.to_path_buf()));
    }
    let registry = project.load_prompts();
    let version = match (version, stem_version) {
        (Some(v), _) => v.clone(),
        (None, Some(v)) => v,
        (None, None) => registry
            .get(&name)
            .and_then(|p| p.all_versions().last().cloned())
            .map_or_else(Version::first, |v| v.next_minor()),
    };
    let parsed = parse_prompt_file(file, &name, &version, &bytes);
    let mut warnings: Vec<String> = parsed
        .diagnostics
        .iter()
        .filter(|d| !d.is_error())
        .map(ToString::to_string)
        .collect();
    let Some(v) = parsed.version else {
        return Err(ForeignImportError::Invalid(
            parsed
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(ToString::to_string)
                .collect(),
        ));
    };
    let rel = PathBuf::from("prompts")
        .join(&name)
        .join(format!("{version}.md"));
    let dir = PathBuf::from("prompts").join(&name);
    if registry.resolve(&name, Some(&version)).is_ok()
        || crate::prompt::VERSION_FILE_ENDINGS.iter().any(|e| {
            project
                .root()
                .join(&dir)
                .join(format!("{version}{e}"))
                .exists()
        })
    {
        return Err(ForeignImportError::Exists(rel));
    }
    let text = to_ptrack_text(&v);
    // What is written must read back as a valid version.
    let check = parse_prompt_file(&rel, &name, &version, text.as_bytes());
    if check.version.is_none() {
        return Err(ForeignImportError::Invalid(
            check
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(ToString::to_string)
                .collect(),
        ));
    }
    let write = |rel: &Path, data: &[u8]| {
        crate::safe_fs::create_dirs_inside(project.root(), &dir, true)
            .and_then(|_| crate::safe_fs::replace_inside(project.root(), rel, data))
            .map_err(|e| ForeignImportError::Write {
                path: rel.to_path_buf(),
                message: e.to_string(),
            })
    };
    write(&rel, text.as_bytes())?;
    let mut cases = None;
    if !v.embedded_cases.is_empty() {
        let cases_rel = dir.join("cases.jsonl");
        if project.root().join(&cases_rel).exists() {
            warnings.push(format!(
                "{} exists and is kept; the file's testData was not written",
                cases_rel.display()
            ));
        } else {
            let lines: String = v.embedded_cases.iter().map(|c| format!("{c}\n")).collect();
            write(&cases_rel, lines.as_bytes())?;
            cases = Some(cases_rel);
        }
    }
    Ok(ImportedFile {
        source: file.to_path_buf(),
        prompt: name,
        version: version.to_string(),
        path: rel,
        cases,
        warnings,
    })
}
