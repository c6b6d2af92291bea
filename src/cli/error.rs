//! The CLI's one error type: a message, an optional hint, and an exit code.

use std::fmt;

/// Exit code for a check or gate that found problems.
pub const EXIT_PROBLEMS: u8 = 1;
/// Exit code for a usage or runtime error.
pub const EXIT_ERROR: u8 = 2;

/// An error to show the user, printed as `error: …` then `hint: …`.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub hint: Option<String>,
    pub code: u8,
    /// Output stopped because the reader went away (`ptrack export | head`): exit quietly.
    pub broken_pipe: bool,
}

pub type CliResult<T = ()> = Result<T, CliError>;

impl CliError {
    /// A runtime or usage error (exit 2).
    pub fn new(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            hint: None,
            code: EXIT_ERROR,
            broken_pipe: false,
        }
    }

    /// Problems were found and reported already (exit 1, nothing more to print).
    pub fn problems(message: impl Into<String>) -> Self {
        CliError {
            code: EXIT_PROBLEMS,
            ..CliError::new(message)
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        let broken_pipe = e.kind() == std::io::ErrorKind::BrokenPipe;
        CliError {
            broken_pipe,
            ..CliError::new(format!("cannot write output: {e}"))
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

macro_rules! from_display {
    ($($t:ty),*) => {$(
        impl From<$t> for CliError {
            fn from(e: $t) -> Self {
                CliError::new(e.to_string())
            }
        }
    )*};
}

from_display!(
    ptrack::ProjectError,
    ptrack::ConfigError,
    ptrack::runlog::WriteError,
    ptrack::VersionError
);
