//! Labels: movable names such as `production` or `staging` for prompt versions, kept in git.
//!
//! The labels live in `labels.toml` at the project root, one table per prompt:
//!
//! ```toml
//! [coaching_system]
//! production = "1.1"
//! staging = "1.2"
//! ```
//!
//! A separate file (not `ptrack.toml`) so that moving a label is a one-line change that is easy
//! to review and to merge, and does not touch the configuration the user approved with
//! `ptrack trust`. `latest` is implicit: the highest version. A label may not look like a version
//! (`1.2`) and is named like a prompt (lowercase letters, digits, `_`, `-`).
//!
//! [`set_label`] moves a label by editing the text in place (comments, order and the other
//! tables are kept).

use std::collections::BTreeMap;
use std::path::Path;

use crate::diagnostic::{Diagnostic, line_of_offset};
use crate::version::Version;

/// The file that holds the labels, relative to the project root.
pub const LABELS_FILE: &str = "labels.toml";

/// The label every prompt has without a file: its highest version.
pub const LATEST: &str = "latest";

/// One label: the version it names and the line of `labels.toml` that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// The version it points at.
    pub version: Version,
    /// 1-based line in `labels.toml`.
    pub line: usize,
}

/// Every label of a project, with what was wrong in `labels.toml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Labels {
    prompts: BTreeMap<String, BTreeMap<String, Label>>,
    /// Errors in `labels.toml` (a file that does not parse has one, and no labels).
    pub diagnostics: Vec<Diagnostic>,
}

/// Why a label name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelNameError {
    /// The name looks like a version, so `NAME:1.2` would be ambiguous.
    #[error("a label may not be named like a version (`{0}`); pick a name such as `production`")]
    LooksLikeVersion(String),
    /// `latest` is every prompt's highest version and cannot be moved.
    #[error("`latest` is always the highest version and cannot be set")]
    Latest,
    /// The name breaks the naming rule.
    #[error(
        "invalid label name `{0}`: use lowercase letters, digits, `_` and `-`, starting with a letter"
    )]
    Invalid(String),
}

/// Check a label name: like a prompt name, starting with a letter, and not a version.
pub fn check_label_name(label: &str) -> Result<(), LabelNameError> {
    if label == LATEST {
        return Err(LabelNameError::Latest);
    }
    if label.parse::<Version>().is_ok() {
        return Err(LabelNameError::LooksLikeVersion(label.to_string()));
    }
    let starts_with_letter = label.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
    if !starts_with_letter || !crate::prompt::is_valid_name(label) {
        return Err(LabelNameError::Invalid(label.to_string()));
    }
    Ok(())
}

impl Labels {
    /// Parse the text of `labels.toml`; `path` is how diagnostics name it.
    pub fn parse(text: &str, path: &Path) -> Labels {
        type Spanned<T> = toml::Spanned<T>;
        let mut labels = Labels::default();
        let raw: BTreeMap<Spanned<String>, Spanned<toml::Value>> = match toml::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                let line = e.span().map(|s| line_of_offset(text, s.start));
                labels.diagnostics.push(Diagnostic::error(
                    path,
                    line,
                    format!("invalid labels file: {}", e.message()),
                ));
                return labels;
            }
        };
        for (prompt, table) in raw {
            let prompt_line = line_of_offset(text, prompt.span().start);
            let prompt = prompt.into_inner();
            if !crate::prompt::is_valid_name(&prompt) {
                labels.diagnostics.push(Diagnostic::error(
                    path,
                    Some(prompt_line),
                    format!("`{prompt}` is not a valid prompt name"),
                ));
                continue;
            }
            let toml::Value::Table(table) = table.into_inner() else {
                labels.diagnostics.push(Diagnostic::error(
                    path,
                    Some(prompt_line),
                    format!(
                        "`{prompt}` must be a table of labels, such as [{prompt}] with production = \"1.0\""
                    ),
                ));
                continue;
            };
            // Spans inside a `toml::Value` are gone: find each label's line in the text.
            let entry = labels.prompts.entry(prompt.clone()).or_default();
            for (label, value) in table {
                let line = find_label_line(text, &prompt, &label).unwrap_or(prompt_line);
                let bad = |message: String| Diagnostic::error(path, Some(line), message);
                if let Err(e) = check_label_name(&label) {
                    labels
                        .diagnostics
                        .push(bad(format!("[{prompt}] {label}: {e}")));
                    continue;
                }
                let toml::Value::String(v) = value else {
                    labels.diagnostics.push(bad(format!(
                        "[{prompt}] {label} must be a version in quotes, such as \"1.0\""
                    )));
                    continue;
                };
                match v.parse::<Version>() {
                    Ok(version) => {
                        entry.insert(label, Label { version, line });
                    }
                    Err(e) => labels
                        .diagnostics
                        .push(bad(format!("[{prompt}] {label}: {e}"))),
                }
            }
        }
        labels.diagnostics.sort_by_key(|d| d.line);
        labels
    }

    /// Read `root/labels.toml` (a missing file: no labels). The file is read like every other
    /// file of a cloned project: only a regular file inside the project, up to 1 MiB.
    pub fn load(root: &Path) -> Labels {
        let path = Path::new(LABELS_FILE);
        match crate::project::read_project_text(root, path, "labels.toml") {
            Ok(Some(text)) => Labels::parse(&text, path),
            Ok(None) => Labels::default(),
            Err(d) => Labels::unreadable(d),
        }
    }

    /// No labels, because the file could not be read: `diagnostic` says why.
    pub fn unreadable(diagnostic: Diagnostic) -> Labels {
        Labels {
            diagnostics: vec![diagnostic],
            ..Labels::default()
        }
    }

    /// The label `label` of `prompt`.
    pub fn get(&self, prompt: &str, label: &str) -> Option<&Label> {
        self.prompts.get(prompt)?.get(label)
    }

    /// The labels of `prompt`, by name.
    pub fn of(&self, prompt: &str) -> impl Iterator<Item = (&str, &Label)> {
        self.prompts
            .get(prompt)
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v))
    }

    /// Every prompt with labels, and its labels.
    pub fn all(&self) -> impl Iterator<Item = (&str, &BTreeMap<String, Label>)> {
        self.prompts.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Whether `labels.toml` has errors.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// The line of `label = …` inside the `[prompt]` table of `text`, scanning line by line.
fn find_label_line(text: &str, prompt: &str, label: &str) -> Option<usize> {
    let mut in_table = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(header) = t.strip_prefix('[') {
            let name = header
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches('"');
            in_table = name == prompt;
            continue;
        }
        if in_table {
            let key = t.split('=').next().unwrap_or("").trim().trim_matches('"');
            if key == label && t.contains('=') {
                return Some(i + 1);
            }
        }
    }
    None
}

/// What names a version where a user gives one: a number (`1.2`) or a label (`production`,
/// `latest`). Labels cannot look like versions, so the text decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionSpec {
    /// A version number.
    Version(Version),
    /// A label (`latest` included).
    Label(String),
}

/// The label a caller asked for (`label`, or `NAME:LABEL` but not `NAME:VERSION`), which the
/// runs it records carry.
pub fn asked_label(name: Option<&str>, label: Option<&str>) -> Option<String> {
    label.map(str::to_string).or_else(|| {
        name.and_then(|n| n.split_once(':'))
            .map(|(_, l)| l.to_string())
            .filter(|l| l.parse::<Version>().is_err())
    })
}

/// Why a text is neither a version nor a label name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is neither a version (dotted numbers such as `1.0`) nor a label (such as `production`)"
)]
pub struct VersionSpecError(pub String);

impl std::str::FromStr for VersionSpec {
    type Err = VersionSpecError;

    fn from_str(s: &str) -> Result<VersionSpec, VersionSpecError> {
        if let Ok(v) = s.parse::<Version>() {
            return Ok(VersionSpec::Version(v));
        }
        match check_label_name(s) {
            Ok(()) | Err(LabelNameError::Latest) => Ok(VersionSpec::Label(s.to_string())),
            Err(_) => Err(VersionSpecError(s.to_string())),
        }
    }
}

impl std::fmt::Display for VersionSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VersionSpec::Version(v) => write!(f, "{v}"),
            VersionSpec::Label(l) => f.write_str(l),
        }
    }
}

impl Labels {
    /// The version `label` of `prompt` points at, checked against the prompt's versions.
    pub fn resolve_in(
        &self,
        prompt: &crate::project::Prompt,
        label: &str,
    ) -> Result<Version, crate::project::LookupError> {
        use crate::project::LookupError;
        let Some(found) = self.get(&prompt.name, label) else {
            if self.has_errors() {
                return Err(LookupError::InvalidLabels {
                    errors: self.diagnostics.clone(),
                });
            }
            return Err(LookupError::NoLabel {
                name: prompt.name.clone(),
                label: label.to_string(),
                known: self.of(&prompt.name).map(|(k, _)| k.to_string()).collect(),
            });
        };
        if prompt.version(&found.version).is_some() {
            return Ok(found.version.clone());
        }
        Err(LookupError::LabelTarget {
            name: prompt.name.clone(),
            label: label.to_string(),
            version: found.version.clone(),
            line: found.line,
            invalid: prompt.invalid_version(&found.version).is_some(),
        })
    }
}

/// Why a label could not be moved.
#[derive(Debug, thiserror::Error)]
pub enum SetLabelError {
    /// The label name is refused.
    #[error(transparent)]
    Name(#[from] LabelNameError),
    /// `labels.toml` does not parse, or holds something other than tables of labels there.
    #[error("{path}: {message}", path = LABELS_FILE)]
    Invalid {
        /// What is wrong.
        message: String,
    },
}

/// `text` (the content of `labels.toml`, possibly empty) with `prompt`'s label `label` set to
/// `version`; comments, order and every other entry are kept.
pub fn set_label(
    text: &str,
    prompt: &str,
    label: &str,
    version: &Version,
) -> Result<String, SetLabelError> {
    check_label_name(label)?;
    let mut doc: toml_edit::DocumentMut =
        text.parse()
            .map_err(|e: toml_edit::TomlError| SetLabelError::Invalid {
                message: e.message().to_string(),
            })?;
    let item = doc
        .entry(prompt)
        .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()));
    let Some(table) = item.as_table_like_mut() else {
        return Err(SetLabelError::Invalid {
            message: format!("`{prompt}` is not a table of labels"),
        });
    };
    match table.get_mut(label) {
        Some(existing) if existing.is_value() => {
            // Keep the comment after the value, if any.
            let decor = existing.as_value().map(|v| v.decor().clone());
            let mut v = toml_edit::Value::from(version.as_str());
            if let Some(d) = decor {
                *v.decor_mut() = d;
            }
            *existing = toml_edit::Item::Value(v);
        }
        _ => {
            table.insert(label, toml_edit::value(version.as_str()));
        }
    }
    Ok(doc.to_string())
}

/// `text` without `prompt`'s label `label`; None when it was not there.
pub fn remove_label(
    text: &str,
    prompt: &str,
    label: &str,
) -> Result<Option<String>, SetLabelError> {
    let mut doc: toml_edit::DocumentMut =
        text.parse()
            .map_err(|e: toml_edit::TomlError| SetLabelError::Invalid {
                message: e.message().to_string(),
            })?;
    let Some(table) = doc.get_mut(prompt).and_then(|i| i.as_table_like_mut()) else {
        return Ok(None);
    };
    if table.remove(label).is_none() {
        return Ok(None);
    }
    if table.is_empty() {
        doc.remove(prompt);
    }
    Ok(Some(doc.to_string()))
}

/// One label of a prompt (the `label --json` model's entries).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LabelEntry {
    /// The label.
    pub label: String,
    /// The version it names.
    pub version: Version,
    /// Its line in `labels.toml`; none for the implicit `latest`.
    pub line: Option<usize>,
}

/// The labels of one prompt (the `label NAME --json` model).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LabelList {
    /// The prompt.
    pub prompt: String,
    /// Its labels by name, `latest` (the highest version) first.
    pub labels: Vec<LabelEntry>,
}

/// What moving a label did (the `label NAME LABEL VERSION --json` model).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LabelMove {
    /// The prompt.
    pub prompt: String,
    /// The label.
    pub label: String,
    /// Where it pointed before; none when it is new.
    pub from: Option<Version>,
    /// Where it points now; none when it was removed.
    pub to: Option<Version>,
}

/// Why labels could not be listed or moved.
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    /// The prompt or the version does not exist, or the version is invalid.
    #[error(transparent)]
    Lookup(#[from] crate::project::LookupError),
    /// The label name is refused.
    #[error(transparent)]
    Name(#[from] LabelNameError),
    /// `labels.toml` has errors; fix them first.
    #[error("labels.toml has errors:\n{}", .0.iter().map(|d| format!("  {d}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Diagnostic>),
    /// The label to remove is not there.
    #[error("prompt `{prompt}` has no label `{label}`")]
    NoLabel {
        /// The prompt.
        prompt: String,
        /// The label.
        label: String,
    },
    /// `labels.toml` could not be read or written.
    #[error("cannot write labels.toml: {0}")]
    Io(#[from] std::io::Error),
}

impl Labels {
    /// What `check` says about the labels: the file's own errors, and every label that names
    /// a prompt or version that does not exist (or whose file has errors).
    pub fn check(&self, registry: &crate::project::Registry) -> Vec<Diagnostic> {
        let path = Path::new(LABELS_FILE);
        let mut out = self.diagnostics.clone();
        for (prompt, labels) in &self.prompts {
            for (label, l) in labels {
                let line = Some(l.line);
                let problem = match registry.get(prompt) {
                    None if registry.has_invalid_files(prompt) => None,
                    None => Some(format!(
                        "[{prompt}] {label} = \"{}\": there is no prompt `{prompt}`",
                        l.version
                    )),
                    Some(p) if p.version(&l.version).is_some() => None,
                    Some(p) if p.invalid_version(&l.version).is_some() => Some(format!(
                        "[{prompt}] {label} points at {}, whose file has errors",
                        l.version
                    )),
                    Some(_) => Some(format!(
                        "[{prompt}] {label} points at {}, which does not exist",
                        l.version
                    )),
                };
                if let Some(message) = problem {
                    out.push(Diagnostic::error(path, line, message).with_code(LABEL_TARGET));
                }
            }
        }
        out
    }
}

/// The diagnostic code of a label that points nowhere.
pub const LABEL_TARGET: &str = "label-target";

impl crate::project::Project {
    /// The labels of `name`: `latest` first, then those in `labels.toml` by name.
    pub fn list_labels(&self, name: &str) -> Result<LabelList, LabelError> {
        let registry = self.load_prompts();
        let prompt = registry.find(name)?;
        let labels = self.labels();
        if labels.has_errors() {
            return Err(LabelError::Invalid(labels.diagnostics));
        }
        let mut out = Vec::new();
        if let Some(latest) = prompt.latest() {
            out.push(LabelEntry {
                label: LATEST.to_string(),
                version: latest.version.clone(),
                line: None,
            });
        }
        out.extend(labels.of(name).map(|(k, l)| LabelEntry {
            label: k.to_string(),
            version: l.version.clone(),
            line: Some(l.line),
        }));
        Ok(LabelList {
            prompt: name.to_string(),
            labels: out,
        })
    }

    /// Point `label` of `name` at `version` (None: remove the label), editing `labels.toml`
    /// in place. The version must exist and be valid.
    pub fn move_label(
        &self,
        name: &str,
        label: &str,
        version: Option<&Version>,
    ) -> Result<LabelMove, LabelError> {
        check_label_name(label)?;
        let registry = self.load_prompts();
        let prompt = registry.find(name)?;
        let to = match version {
            Some(v) => Some(prompt.resolve(Some(v))?.version.clone()),
            None => None,
        };
        let rel = Path::new(LABELS_FILE);
        let text = match crate::safe_fs::read_inside(
            self.root(),
            rel,
            crate::safe_fs::DEFAULT_FILE_LIMIT,
            "labels.toml",
        ) {
            Ok(bytes) => String::from_utf8(bytes).map_err(|_| {
                LabelError::Invalid(vec![Diagnostic::error(
                    rel,
                    None,
                    "not valid UTF-8; save it as UTF-8",
                )])
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(LabelError::Io(e)),
        };
        let labels = Labels::parse(&text, rel);
        if labels.has_errors() {
            return Err(LabelError::Invalid(labels.diagnostics));
        }
        let from = labels.get(name, label).map(|l| l.version.clone());
        let new_text = match &to {
            Some(v) => set_label(&text, name, label, v).map_err(|e| match e {
                SetLabelError::Name(n) => LabelError::Name(n),
                SetLabelError::Invalid { message } => {
                    LabelError::Invalid(vec![Diagnostic::error(rel, None, message)])
                }
            })?,
            None => match remove_label(&text, name, label) {
                Ok(Some(t)) => t,
                Ok(None) => {
                    return Err(LabelError::NoLabel {
                        prompt: name.to_string(),
                        label: label.to_string(),
                    });
                }
                Err(e) => {
                    return Err(LabelError::Invalid(vec![Diagnostic::error(
                        rel,
                        None,
                        e.to_string(),
                    )]));
                }
            },
        };
        if new_text != text {
            crate::safe_fs::replace_inside(self.root(), rel, new_text.as_bytes())?;
        }
        Ok(LabelMove {
            prompt: name.to_string(),
            label: label.to_string(),
            from,
            to,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().expect("version")
    }

    #[test]
    fn parses_tables_of_labels_with_their_lines() {
        let text = "# who serves what\n[coaching_system]\nproduction = \"1.1\"\nstaging = \"1.2\" # next\n\n[other]\nproduction = \"2.0\"\n";
        let l = Labels::parse(text, Path::new(LABELS_FILE));
        assert!(l.diagnostics.is_empty(), "{:?}", l.diagnostics);
        assert_eq!(
            l.get("coaching_system", "production"),
            Some(&Label {
                version: v("1.1"),
                line: 3
            })
        );
        assert_eq!(l.get("coaching_system", "staging").map(|x| x.line), Some(4));
        assert_eq!(l.get("other", "production").map(|x| x.line), Some(7));
        assert_eq!(l.get("other", "staging"), None);
        let names: Vec<&str> = l.of("coaching_system").map(|(k, _)| k).collect();
        assert_eq!(names, ["production", "staging"]);
    }

    #[test]
    fn bad_entries_are_errors_naming_the_line_and_the_rest_is_kept() {
        let text =
            "[p]\n\"1.2\" = \"1.0\"\nlatest = \"1.0\"\nprod = 3\nbeta = \"x.y\"\nok = \"1.0\"\n";
        let l = Labels::parse(text, Path::new(LABELS_FILE));
        let got: Vec<String> = l.diagnostics.iter().map(ToString::to_string).collect();
        assert_eq!(got.len(), 4, "{got:?}");
        assert!(got[0].starts_with("labels.toml:2: ") && got[0].contains("named like a version"));
        assert!(got[1].starts_with("labels.toml:3: ") && got[1].contains("`latest`"));
        assert!(got[2].starts_with("labels.toml:4: ") && got[2].contains("in quotes"));
        assert!(got[3].starts_with("labels.toml:5: ") && got[3].contains("invalid version"));
        assert_eq!(l.get("p", "ok").map(|x| x.version.clone()), Some(v("1.0")));
        let broken = Labels::parse("[p\nx = 1", Path::new(LABELS_FILE));
        assert_eq!(broken.diagnostics.len(), 1);
        assert!(
            broken.diagnostics[0]
                .to_string()
                .starts_with("labels.toml:1: ")
        );
    }

    #[test]
    fn label_names_follow_the_rule() {
        assert!(check_label_name("production").is_ok());
        assert!(check_label_name("canary-2").is_ok());
        assert_eq!(
            check_label_name("1.2"),
            Err(LabelNameError::LooksLikeVersion("1.2".into()))
        );
        assert_eq!(
            check_label_name("3"),
            Err(LabelNameError::LooksLikeVersion("3".into()))
        );
        assert_eq!(check_label_name("latest"), Err(LabelNameError::Latest));
        for bad in ["", "Prod", "2x", "a b", "_x", "a:b", "a@b"] {
            assert!(check_label_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn set_label_edits_in_place_keeping_comments_and_order() {
        let text =
            "# labels\n[b]\nproduction = \"1.0\" # reviewed by ann\n\n[a]\nstaging = \"2.0\"\n";
        let out = set_label(text, "b", "production", &v("1.1")).expect("set");
        assert_eq!(
            out,
            "# labels\n[b]\nproduction = \"1.1\" # reviewed by ann\n\n[a]\nstaging = \"2.0\"\n"
        );
        let out = set_label(&out, "a", "production", &v("2.1")).expect("set");
        assert!(
            out.ends_with("[a]\nstaging = \"2.0\"\nproduction = \"2.1\"\n"),
            "{out}"
        );
        let out = set_label("", "new", "production", &v("1.0")).expect("set");
        assert_eq!(out, "[new]\nproduction = \"1.0\"\n");
        assert!(set_label("", "p", "1.0", &v("1.0")).is_err());
        let back = Labels::parse(&out, Path::new(LABELS_FILE));
        assert_eq!(back.get("new", "production").map(|l| l.line), Some(2));
        let gone = remove_label(&out, "new", "production")
            .expect("ok")
            .expect("was there");
        assert_eq!(gone.trim(), "");
        assert_eq!(remove_label(&out, "new", "staging").expect("ok"), None);
    }
}
