//! The CLI's one error type: a kind (which picks the exit code), the message, the library error
//! it came from, and hints. Hints are attached here, while converting each library error, by its
//! variant; library messages say what is wrong, the CLI says what to do about it.

use std::fmt;

use ptrack::LookupError;

/// Exit code for a check or gate that found problems.
pub const EXIT_PROBLEMS: u8 = 1;
/// Exit code for a usage or runtime error.
pub const EXIT_ERROR: u8 = 2;
/// Exit code after Ctrl-C (128 + SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;

/// What kind of failure, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A usage or runtime error (exit 2).
    Error,
    /// A check or gate found problems (exit 1); they were reported already.
    Problems,
    /// Stopped by Ctrl-C (exit 130).
    Interrupted,
    /// The reader of the output went away (`ptrack export | head`): exit quietly.
    BrokenPipe,
}

/// An error to show the user, printed as `error: …` then one `hint: …` per hint.
#[derive(Debug)]
pub struct CliError {
    pub kind: Kind,
    pub message: String,
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
    pub hints: Vec<String>,
}

pub type CliResult<T = ()> = Result<T, CliError>;

impl CliError {
    /// A runtime or usage error (exit 2).
    pub fn new(message: impl Into<String>) -> Self {
        CliError {
            kind: Kind::Error,
            message: message.into(),
            source: None,
            hints: Vec::new(),
        }
    }

    /// Problems were found and reported already (exit 1; a message, when not empty, is printed).
    pub fn problems(message: impl Into<String>) -> Self {
        CliError {
            kind: Kind::Problems,
            ..CliError::new(message)
        }
    }

    /// Stopped by Ctrl-C.
    pub fn interrupted(message: impl Into<String>) -> Self {
        CliError {
            kind: Kind::Interrupted,
            ..CliError::new(message)
        }
    }

    /// A library error, its text as the message.
    pub fn from_source<E: std::error::Error + Send + Sync + 'static>(e: E) -> Self {
        CliError {
            message: e.to_string(),
            source: Some(Box::new(e)),
            ..CliError::new("")
        }
    }

    /// The same error with one more hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// The process exit code.
    pub fn code(&self) -> u8 {
        match self.kind {
            Kind::Error => EXIT_ERROR,
            Kind::Problems => EXIT_PROBLEMS,
            Kind::Interrupted => EXIT_INTERRUPTED,
            Kind::BrokenPipe => 0,
        }
    }

    /// The causes under the library error whose text the message does not already hold.
    pub fn causes(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut next = self.source.as_deref().and_then(std::error::Error::source);
        while let Some(e) = next {
            let text = e.to_string();
            if !self.message.contains(&text) {
                out.push(text);
            }
            next = e.source();
        }
        out
    }

    /// The message with its hints in parentheses, for one line of a batch (`record --stdin`).
    pub fn one_line(&self) -> String {
        if self.hints.is_empty() {
            self.message.clone()
        } else {
            format!("{} ({})", self.message, self.hints.join("; "))
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        let kind = if e.kind() == std::io::ErrorKind::BrokenPipe {
            Kind::BrokenPipe
        } else {
            Kind::Error
        };
        CliError {
            kind,
            message: format!("cannot write output: {e}"),
            source: Some(Box::new(e)),
            hints: Vec::new(),
        }
    }
}

impl From<serde_json::Error> for CliError {
    fn from(e: serde_json::Error) -> Self {
        if e.is_io() {
            return std::io::Error::from(e).into();
        }
        CliError::new(format!("cannot write JSON: {e}"))
    }
}

impl From<LookupError> for CliError {
    fn from(e: LookupError) -> Self {
        let hint = match &e {
            LookupError::InvalidName { .. } => Some(
                "names use lower-case letters, digits, `_` and `-`, starting with a letter or digit"
                    .to_string(),
            ),
            LookupError::NoPrompt {
                name,
                invalid_files: true,
                ..
            } => Some(format!("prompts/{name}/ has invalid files; run `ptrack check`")),
            LookupError::NoPrompt {
                suggestion: Some(s),
                ..
            } => Some(format!("did you mean `{s}`?")),
            LookupError::NoPrompt { known, .. } if !known.is_empty() => {
                Some(format!("prompts: {}", known.join(", ")))
            }
            LookupError::NoVersion { known, .. } => Some(format!(
                "versions: {}",
                known
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            LookupError::NoLabel { known, .. } if !known.is_empty() => {
                Some(format!("labels: latest, {}", known.join(", ")))
            }
            LookupError::NoLabel { name, .. } => Some(format!(
                "`{name}` has no labels in labels.toml yet; set one with `ptrack label {name} LABEL VERSION`"
            )),
            LookupError::LabelTarget { name, label, .. } => Some(format!(
                "point it at a version that exists: `ptrack label {name} {label} VERSION`"
            )),
            LookupError::InvalidVersion { path, .. } => Some(format!(
                "fix {}, or name another version with --version; `ptrack check` lists every problem",
                path.display()
            )),
            _ => None,
        };
        let err = CliError::from_source(e);
        match hint {
            Some(h) => err.with_hint(h),
            None => err,
        }
    }
}

impl From<ptrack::ProjectError> for CliError {
    fn from(e: ptrack::ProjectError) -> Self {
        let not_found = matches!(e, ptrack::ProjectError::NotFound { .. });
        let err = CliError::from_source(e);
        if not_found {
            err.with_hint("run `ptrack init` to start a project here, or pass -C DIR")
        } else {
            err
        }
    }
}

impl From<ptrack::git::GitError> for CliError {
    fn from(e: ptrack::git::GitError) -> Self {
        use ptrack::git::GitError;
        let hint = match &e {
            GitError::UnknownRevision { shallow: true, .. } => Some(
                "fetch the full history: `git fetch --unshallow`, or in GitHub Actions `actions/checkout` with `fetch-depth: 0`",
            ),
            GitError::UnknownRevision { .. } => Some("check the name with `git rev-parse REV`"),
            GitError::NotARepository { .. } => {
                Some("history comes from git: run `git init` and commit the prompts")
            }
            _ => None,
        };
        let err = CliError::from_source(e);
        match hint {
            Some(h) => err.with_hint(h),
            None => err,
        }
    }
}

impl From<ptrack::render::RenderError> for CliError {
    fn from(e: ptrack::render::RenderError) -> Self {
        let hint = match &e {
            ptrack::render::RenderError::Missing(names) => Some(format!(
                "pass --var NAME=VALUE or give {} a default under `variables`",
                if names.len() == 1 { "it" } else { "them" }
            )),
            ptrack::render::RenderError::Syntax { .. } => None,
            ptrack::render::RenderError::Limit { .. } => Some(
                "look for a loop that runs too long or a huge repetition in the text".to_string(),
            ),
        };
        let err = CliError::from_source(e);
        match hint {
            Some(h) => err.with_hint(h),
            None => err,
        }
    }
}

impl From<ptrack::create::CreateError> for CliError {
    fn from(e: ptrack::create::CreateError) -> Self {
        use ptrack::create::CreateError;
        let hint = match &e {
            CreateError::Lookup(l) => return CliError::from(l.clone()),
            CreateError::Exists { .. } => {
                Some("pick another --version, or edit the file and commit it")
            }
            CreateError::NextVersionUnclear(_) => {
                Some("fix them (see `ptrack check`) or pass --version")
            }
            CreateError::Invalid(_) => Some("nothing was written"),
            _ => None,
        };
        let err = CliError::from_source(e);
        match hint {
            Some(h) => err.with_hint(h),
            None => err,
        }
    }
}

impl From<ptrack::record::RecordError> for CliError {
    fn from(e: ptrack::record::RecordError) -> Self {
        let invalid = matches!(e, ptrack::record::RecordError::Invalid { .. });
        let err = CliError::from_source(e);
        if invalid {
            err.with_hint("nothing was recorded")
        } else {
            err
        }
    }
}

impl From<ptrack::query::ExportError> for CliError {
    fn from(e: ptrack::query::ExportError) -> Self {
        match e {
            ptrack::query::ExportError::Write(io) => io.into(),
            ptrack::query::ExportError::Lookup(l) => l.into(),
            e @ ptrack::query::ExportError::NotEmpty(_) => CliError::from_source(e)
                .with_hint("export to a new or empty folder, or add --force to replace an earlier export there"),
            e @ ptrack::query::ExportError::ForeignFile { .. } => CliError::from_source(e)
                .with_hint("export to a new or empty folder; --force replaces only the files of an earlier export"),
            other => CliError::from_source(other),
        }
    }
}

impl From<ptrack::query::HistoryError> for CliError {
    fn from(e: ptrack::query::HistoryError) -> Self {
        match e {
            ptrack::query::HistoryError::Git(g) => g.into(),
            ptrack::query::HistoryError::Lookup(l) => l.into(),
        }
    }
}

impl From<ptrack::query::CheckError> for CliError {
    fn from(e: ptrack::query::CheckError) -> Self {
        match e {
            ptrack::query::CheckError::Git(g) => g.into(),
            other => CliError::from_source(other),
        }
    }
}

impl From<ptrack::query::ReportError> for CliError {
    fn from(e: ptrack::query::ReportError) -> Self {
        match e {
            ptrack::query::ReportError::Git(g) => g.into(),
            other => CliError::from_source(other),
        }
    }
}

macro_rules! from_source {
    ($($t:ty),*) => {$(
        impl From<$t> for CliError {
            fn from(e: $t) -> Self {
                CliError::from_source(e)
            }
        }
    )*};
}

from_source!(
    ptrack::ConfigError,
    ptrack::runlog::WriteError,
    ptrack::VersionError
);

impl From<ptrack::eval::EndpointError> for CliError {
    fn from(e: ptrack::eval::EndpointError) -> Self {
        use ptrack::trust::{KeyRefusal, ProjectTrust};
        let review = "review ptrack.toml, then run `ptrack trust` to let it choose where keys go";
        let hint = match &e {
            ptrack::eval::EndpointError::Key(k) => Some(match k {
                KeyRefusal::PlainHttp { var, .. } => {
                    format!("use an https:// URL, or leave {var} unset to send no key")
                }
                KeyRefusal::Url {
                    project: ProjectTrust::Changed,
                    ..
                } => "review ptrack.toml again, then run `ptrack trust` again; or pass --base-url URL to choose the server yourself".to_string(),
                KeyRefusal::Url { .. } => {
                    format!("{review}; or pass --base-url URL to choose the server yourself")
                }
                KeyRefusal::Variable {
                    project: ProjectTrust::Changed,
                    ..
                } => "review ptrack.toml again, then run `ptrack trust` again".to_string(),
                KeyRefusal::Variable { .. } => review.to_string(),
            }),
            _ => None,
        };
        let err = CliError::from_source(e);
        match hint {
            Some(h) => err.with_hint(h),
            None => err,
        }
    }
}

impl From<ptrack::eval::JudgeError> for CliError {
    fn from(e: ptrack::eval::JudgeError) -> Self {
        match e {
            ptrack::eval::JudgeError::Endpoint(inner) => {
                let mut err = CliError::from(inner);
                err.message = format!("judge: {}", err.message);
                err
            }
            other => CliError::from_source(other),
        }
    }
}

impl From<ptrack::trust::TrustError> for CliError {
    fn from(e: ptrack::trust::TrustError) -> Self {
        let invalid = matches!(e, ptrack::trust::TrustError::Invalid { .. });
        let err = CliError::from_source(e);
        if invalid {
            err.with_hint("fix the file by hand, or delete it (`ptrack trust` writes trusted.toml)")
        } else {
            err
        }
    }
}

impl From<ptrack::eval::CasesError> for CliError {
    fn from(e: ptrack::eval::CasesError) -> Self {
        let empty = matches!(e, ptrack::eval::CasesError::Empty { .. });
        let err = CliError::from_source(e);
        if empty {
            err.with_hint(
                "`ptrack run NAME --no-cases --var KEY=VALUE` runs once without a cases file",
            )
        } else {
            err
        }
    }
}
