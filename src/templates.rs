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

/// Where `init` and `ptrack schema --write` put the JSON Schemas of the front matter, a run
/// line and `ptrack.toml`, for editors (the version files and ptrack.toml point at them).
pub const SCHEMA_DIR: &str = ".ptrack/schemas";

/// The path from a version file (`prompts/NAME/VERSION.md`) to the front matter schema, when
/// the project at `root` has one.
pub fn front_matter_schema_hint(root: &Path) -> Option<String> {
    let rel = format!("{SCHEMA_DIR}/front-matter.schema.json");
    root.join(&rel).is_file().then(|| format!("../../{rel}"))
}

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
/// `.gitattributes`, `.ptrack/.gitignore` and (feature `schema`) the editor schemas in
/// [`SCHEMA_DIR`]. Nothing that exists is overwritten.
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
    #[allow(unused_mut)]
    let mut ptrack_toml = PTRACK_TOML.text.to_string();
    #[allow(unused_mut)]
    let mut files: Vec<(String, String)> = Vec::new();
    #[cfg(feature = "schema")]
    {
        // Taplo (Even Better TOML) reads `#:schema` on a file's first line.
        ptrack_toml = format!("#:schema ./{SCHEMA_DIR}/config.schema.json\n{ptrack_toml}");
        for (name, schema) in crate::schema::file_schemas() {
            files.push((
                format!("{SCHEMA_DIR}/{name}.schema.json"),
                crate::schema::to_file_text(&schema),
            ));
        }
    }
    let mut all: Vec<(String, String)> = vec![
        ("ptrack.toml".into(), ptrack_toml),
        (".gitattributes".into(), GITATTRIBUTES.text.into()),
        ("runs/.gitkeep".into(), String::new()),
        // The cache is local; the schemas are for everyone who clones the project.
        (".ptrack/.gitignore".into(), "/cache/\n".into()),
        ("templates/prompt.md".into(), PROMPT_MD.text.into()),
        ("templates/prompt.toml".into(), PROMPT_TOML.text.into()),
    ];
    all.extend(files);
    for (rel, text) in &all {
        let rel = rel.as_str();
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
