//! The scaffolds `init` and `create` write.
//!
//! They are compiled into the binary so ptrack works anywhere; a file of the same name in a
//! project's own `templates/` folder overrides the built-in one.

use std::path::Path;

/// A built-in template: its file name under `templates/` and its text.
#[derive(Debug, Clone, Copy)]
pub struct Template {
    /// File name under `templates/`.
    pub name: &'static str,
    /// The built-in text.
    pub text: &'static str,
}

/// A new `.md` prompt version (minijinja; the values arrive already quoted).
pub const PROMPT_MD: Template = Template {
    name: "prompt.md",
    text: include_str!("../templates/prompt.md"),
};
/// A new `.toml` prompt version.
pub const PROMPT_TOML: Template = Template {
    name: "prompt.toml",
    text: include_str!("../templates/prompt.toml"),
};
/// The `ptrack.toml` that `init` writes.
pub const PTRACK_TOML: Template = Template {
    name: "ptrack.toml",
    text: include_str!("../templates/ptrack.toml"),
};
/// The `.gitattributes` that `init` writes.
pub const GITATTRIBUTES: Template = Template {
    name: "gitattributes",
    text: include_str!("../templates/gitattributes"),
};

/// Every built-in template.
pub const ALL: &[Template] = &[PROMPT_MD, PROMPT_TOML, PTRACK_TOML, GITATTRIBUTES];

impl Template {
    /// The project's override from `templates_dir` when it exists, else the built-in text.
    pub fn load(&self, templates_dir: &Path) -> std::io::Result<String> {
        match std::fs::read_to_string(templates_dir.join(self.name)) {
            Ok(t) => Ok(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(self.text.to_string()),
            Err(e) => Err(e),
        }
    }
}
