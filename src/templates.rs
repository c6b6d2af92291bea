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
    /// The override `templates/<name>` of the project at `root` when it exists, else the
    /// built-in text. The override must be a regular file inside the project, within the
    /// default size limit, and UTF-8.
    pub fn load(&self, root: &Path) -> std::io::Result<String> {
        let rel = Path::new("templates").join(self.name);
        match crate::safe_fs::read_inside(
            root,
            &rel,
            crate::safe_fs::DEFAULT_FILE_LIMIT,
            "templates",
        ) {
            Ok(bytes) => String::from_utf8(bytes)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(self.text.to_string()),
            Err(e) => Err(e),
        }
    }
}

/// What `init` did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct InitReport {
    /// The project root.
    pub root: std::path::PathBuf,
    /// Files and folders written.
    pub created: Vec<String>,
    /// Files and folders that were there already (never overwritten).
    pub kept: Vec<String>,
    /// `.gitattributes` lacks `runs/**/*.jsonl merge=union`.
    #[serde(skip)]
    pub union_merge_missing: bool,
}

/// Scaffold a project in `root`: `ptrack.toml`, `prompts/`, `runs/`, `templates/`,
/// `.gitattributes` and `.ptrack/.gitignore`. Nothing that exists is overwritten.
pub fn init(root: &Path) -> Result<InitReport, (std::path::PathBuf, std::io::Error)> {
    let mut report = InitReport {
        root: root.to_path_buf(),
        created: Vec::new(),
        kept: Vec::new(),
        union_merge_missing: false,
    };
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e| (p, e)
    };
    std::fs::create_dir_all(root).map_err(io(root))?;
    for dir in ["prompts", "runs", "templates"] {
        let p = root.join(dir);
        if p.is_dir() {
            report.kept.push(format!("{dir}/"));
        } else {
            std::fs::create_dir_all(&p).map_err(io(&p))?;
            report.created.push(format!("{dir}/"));
        }
    }
    let files: [(&str, &str); 6] = [
        ("ptrack.toml", PTRACK_TOML.text),
        (".gitattributes", GITATTRIBUTES.text),
        ("runs/.gitkeep", ""),
        (".ptrack/.gitignore", "*\n"),
        ("templates/prompt.md", PROMPT_MD.text),
        ("templates/prompt.toml", PROMPT_TOML.text),
    ];
    for (rel, text) in files {
        let p = root.join(rel);
        // create_new: never overwrite, even if the file appears between check and write; and
        // never write through a link or into a folder linked out of the project.
        match crate::safe_fs::create_new_inside(root, Path::new(rel)) {
            Ok(mut f) => {
                use std::io::Write;
                f.write_all(text.as_bytes()).map_err(io(&p))?;
                report.created.push(rel.to_string());
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                report.kept.push(rel.to_string())
            }
            Err(e) => return Err((p, e)),
        }
    }
    let attrs = std::fs::read_to_string(root.join(".gitattributes")).unwrap_or_default();
    report.union_merge_missing = !attrs
        .lines()
        .any(|l| l.contains("merge=union") && l.contains("runs/"));
    Ok(report)
}
