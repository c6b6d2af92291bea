//! Problems found in a project's files, reported as `path:line: message`.
//!
//! Parsing and validation never stop at the first problem: they return every
//! [`Diagnostic`] they find, so one bad file does not hide the others.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// How serious a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The file cannot be used as it is.
    Error,
    /// The file works, but something in it is probably a mistake.
    Warning,
}

/// One problem in one file, with the line and field where known.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Diagnostic {
    /// The file, relative to the project root where possible.
    pub path: PathBuf,
    /// 1-based line number, when known.
    pub line: Option<usize>,
    /// Error or warning.
    pub severity: Severity,
    /// The field (front matter key, run field) the problem is about, when there is one.
    pub field: Option<String>,
    /// What is wrong, and how to fix it where that is clear.
    pub message: String,
    /// A stable name for the kind of problem (e.g. `in-place-edit`), for front ends that
    /// attach their own advice; most diagnostics have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

impl Diagnostic {
    /// An error about `path`.
    pub fn error(path: impl AsRef<Path>, line: Option<usize>, message: impl Into<String>) -> Self {
        Diagnostic {
            path: path.as_ref().to_path_buf(),
            line,
            severity: Severity::Error,
            field: None,
            message: message.into(),
            code: None,
        }
    }

    /// A warning about `path`.
    pub fn warning(
        path: impl AsRef<Path>,
        line: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(path, line, message)
        }
    }

    /// The same diagnostic, naming the field it is about.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// The same diagnostic, with a code naming its kind.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Whether this is an error (not a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        match self.severity {
            Severity::Error => write!(f, ": {}", self.message),
            Severity::Warning => write!(f, ": warning: {}", self.message),
        }
    }
}

impl Diagnostic {
    /// The diagnostic as a GitHub Actions workflow command, so it shows as an annotation on
    /// the pull request's diff: `::error file=prompts/p/1.1.md,line=4,title=temperature::…`.
    /// Data and properties are escaped as the runner expects (`%`, CR and LF; also `:` and `,`
    /// in properties).
    pub fn github_command(&self) -> String {
        fn data(s: &str) -> String {
            s.replace('%', "%25")
                .replace('\r', "%0D")
                .replace('\n', "%0A")
        }
        fn property(s: &str) -> String {
            data(s).replace(':', "%3A").replace(',', "%2C")
        }
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut props = vec![format!(
            "file={}",
            property(&self.path.to_string_lossy().replace('\\', "/"))
        )];
        if let Some(line) = self.line {
            props.push(format!("line={line}"));
        }
        let title = match (&self.field, &self.code) {
            (Some(f), _) => format!("ptrack: {f}"),
            (None, Some(c)) => format!("ptrack: {c}"),
            (None, None) => "ptrack".to_string(),
        };
        props.push(format!("title={}", property(&title)));
        format!("::{kind} {}::{}", props.join(","), data(&self.message))
    }
}

/// 1-based line number of byte offset `offset` in `text`.
pub(crate) fn line_of_offset(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_commands_escape_data_and_properties() {
        let d = Diagnostic::error("prompts/p,x/1.1.md", Some(4), "100% bad:\nsecond line\r")
            .with_field("temperature");
        assert_eq!(
            d.github_command(),
            "::error file=prompts/p%2Cx/1.1.md,line=4,title=ptrack%3A temperature::100%25 bad:%0Asecond line%0D"
        );
        let w = Diagnostic::warning("runs/p/2026-11.jsonl", None, "incomplete line");
        assert_eq!(
            w.github_command(),
            "::warning file=runs/p/2026-11.jsonl,title=ptrack::incomplete line"
        );
    }

    #[test]
    fn displays_path_line_and_severity() {
        let e = Diagnostic::error(
            "prompts/a/1.0.md",
            Some(4),
            "temperature must be between 0 and 2, got 7",
        );
        assert_eq!(
            e.to_string(),
            "prompts/a/1.0.md:4: temperature must be between 0 and 2, got 7"
        );
        let w = Diagnostic::warning("prompts/a/1.0.md", None, "no goal");
        assert_eq!(w.to_string(), "prompts/a/1.0.md: warning: no goal");
    }

    #[test]
    fn line_of_offset_counts_newlines_before() {
        let t = "a\nbb\nccc";
        assert_eq!(line_of_offset(t, 0), 1);
        assert_eq!(line_of_offset(t, 2), 2);
        assert_eq!(line_of_offset(t, 5), 3);
        assert_eq!(line_of_offset(t, 100), 3);
    }
}
