//! `ptrack._native`: the ptrack library as a Python module. Every figure, check and message
//! comes from the library the CLI is built on; this crate only converts values between Python
//! and Rust, maps the library's errors to the exceptions in `ptrack/_errors.py`, and releases
//! the GIL while the library reads and writes files or git.
//!
//! The `--json` models reach Python through the JSON the CLI prints (`ptrack::json`), read by
//! Python's `json.loads`: the values are the CLI's, number for number.

use std::path::PathBuf;
use std::sync::Arc;

use ptrack::deps::{DateTime, Utc};
use ptrack::project::{LookupError, NamedVersionError, ProjectError};
use ptrack::record::{RateError, RecordObjectError, RejectedRun};
use ptrack::render::{RenderError, RenderFormat, RenderOutput};
use ptrack::{Registry, Version};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use serde_json::{Map, Value};

/// A failure on the Rust side, before it becomes a Python exception (it crosses the
/// GIL-free sections, so it holds only text).
#[derive(Debug)]
enum Failure {
    /// `ptrack.ProjectNotFound`.
    ProjectNotFound(String),
    /// `ptrack.PromptNotFound`.
    PromptNotFound(String),
    /// `ptrack.InvalidRun`.
    InvalidRun(String),
    /// `ptrack.RunNotFound`.
    RunNotFound(String),
    /// `ptrack.RenderError`.
    Render(String),
    /// `ptrack.Error`.
    Other(String),
    /// `ValueError`: an argument the caller must fix.
    Value(String),
}

impl From<Failure> for PyErr {
    fn from(f: Failure) -> PyErr {
        let (class, message) = match f {
            Failure::ProjectNotFound(m) => ("ProjectNotFound", m),
            Failure::PromptNotFound(m) => ("PromptNotFound", m),
            Failure::InvalidRun(m) => ("InvalidRun", m),
            Failure::RunNotFound(m) => ("RunNotFound", m),
            Failure::Render(m) => ("RenderError", m),
            Failure::Other(m) => ("Error", m),
            Failure::Value(m) => return PyValueError::new_err(m),
        };
        Python::attach(|py| {
            let class = py
                .import("ptrack._errors")
                .and_then(|m| m.getattr(class))
                .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
            match class {
                Ok(class) => PyErr::from_type(class, message),
                Err(e) => e,
            }
        })
    }
}

type Result<T, E = Failure> = std::result::Result<T, E>;

fn lookup(e: LookupError) -> Failure {
    match e {
        LookupError::InvalidLabels { .. } => Failure::Other(e.to_string()),
        e => Failure::PromptNotFound(e.to_string()),
    }
}

fn named(e: NamedVersionError) -> Failure {
    match e {
        NamedVersionError::Lookup(l) => lookup(l),
        e => Failure::Value(e.to_string()),
    }
}

fn project_error(e: ProjectError) -> Failure {
    match e {
        ProjectError::NotFound { .. } | ProjectError::Io { .. } => {
            Failure::ProjectNotFound(e.to_string())
        }
        ProjectError::Config(_) => Failure::Other(e.to_string()),
    }
}

fn render_error(e: RenderError) -> Failure {
    Failure::Render(e.to_string())
}

fn parse_version(s: &str) -> Result<Version> {
    s.parse::<Version>()
        .map_err(|e| Failure::Value(e.to_string()))
}

/// "Now": `PTRACK_NOW` (RFC 3339) pins it, as for the CLI, so both give the same figures.
fn now() -> Result<DateTime<Utc>> {
    match std::env::var("PTRACK_NOW") {
        Ok(s) => DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| Failure::Other(format!("PTRACK_NOW={s:?} is not an RFC 3339 time: {e}"))),
        Err(_) => Ok(Utc::now()),
    }
}

/// A Python value as JSON, or why it cannot be one (naming the value by its `path`).
fn to_value(obj: &Bound<'_, PyAny>, path: &str) -> std::result::Result<Value, String> {
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(format!(
            "{path} is an integer too large for JSON, got {obj}"
        ));
    }
    if obj.is_instance_of::<PyFloat>() {
        let x: f64 = obj.extract().map_err(|e: PyErr| e.to_string())?;
        return serde_json::Number::from_f64(x)
            .map(Value::Number)
            .ok_or_else(|| format!("{path} must be a finite number, got {x}"));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(
            s.to_cow().map_err(|e| e.to_string())?.into_owned(),
        ));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        return dict_to_map(d, path).map(Value::Object);
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut out = Vec::new();
        for (i, item) in obj.try_iter().map_err(|e| e.to_string())?.enumerate() {
            let item = item.map_err(|e| e.to_string())?;
            out.push(to_value(&item, &format!("{path}[{i}]"))?);
        }
        return Ok(Value::Array(out));
    }
    let kind = obj
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".to_string());
    Err(format!(
        "{path} must be text, a number, true/false, None, a list or a dict, got a {kind}"
    ))
}

fn dict_to_map(
    d: &Bound<'_, PyDict>,
    path: &str,
) -> std::result::Result<Map<String, Value>, String> {
    let mut map = Map::new();
    for (k, v) in d.iter() {
        let Ok(key) = k.cast::<PyString>() else {
            return Err(format!("{path} must have text keys, got {k}"));
        };
        let key = key.to_cow().map_err(|e| e.to_string())?.into_owned();
        let child = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        map.insert(key, to_value(&v, &child)?);
    }
    Ok(map)
}

/// Template variables from `**vars`.
fn variables(vars: Option<&Bound<'_, PyDict>>) -> PyResult<Map<String, Value>> {
    match vars {
        Some(d) => dict_to_map(d, "").map_err(PyTypeError::new_err),
        None => Ok(Map::new()),
    }
}

/// `value` as a Python object, through the JSON `--json` prints.
fn to_python<T: serde::Serialize>(py: Python<'_>, value: &T) -> PyResult<Py<PyAny>> {
    let bytes = ptrack::json::to_pretty_vec(value)
        .map_err(|e| Failure::Other(format!("cannot convert to JSON: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| Failure::Other(format!("cannot convert to JSON: {e}")))?;
    Ok(py.import("json")?.call_method1("loads", (text,))?.unbind())
}

/// Each problem found in the run logs as a `ptrack.RunLogWarning`, with the text the CLI prints
/// after `warning: ` (or `error: `) on stderr.
fn warn_run_diagnostics(py: Python<'_>, diagnostics: &[ptrack::Diagnostic]) -> PyResult<()> {
    if diagnostics.is_empty() {
        return Ok(());
    }
    let category = py.import("ptrack._errors")?.getattr("RunLogWarning")?;
    let warnings = py.import("warnings")?;
    for d in diagnostics {
        let text = d.to_string().replacen(": warning: ", ": ", 1);
        warnings.call_method1("warn", (text, &category, 2))?;
    }
    Ok(())
}

/// A time given as text (`2026-11-01`, RFC 3339) or as a `datetime`/`date`.
fn when(obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<DateTime<Utc>>> {
    let Some(obj) = obj else { return Ok(None) };
    if obj.is_none() {
        return Ok(None);
    }
    let text: String = if let Ok(s) = obj.cast::<PyString>() {
        s.to_cow()?.into_owned()
    } else if obj.hasattr("isoformat")? {
        obj.call_method0("isoformat")?.extract()?
    } else {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a date, a datetime with a time zone, or text such as 2026-11-01"
        )));
    };
    ptrack::query::parse_when(&text)
        .map(Some)
        .map_err(|e| PyValueError::new_err(format!("{what}: {e}")))
}

/// A project: its root, prompts, runs and metrics.
#[pyclass(frozen, subclass, module = "ptrack")]
struct Project {
    inner: Arc<ptrack::Project>,
}

/// One version of a prompt.
#[pyclass(frozen, module = "ptrack")]
struct PromptVersion {
    project: Arc<ptrack::Project>,
    v: ptrack::PromptVersion,
}

impl Project {
    /// The prompt and version `name` (`NAME`, `NAME:LABEL`, `NAME:VERSION`), `version` and
    /// `label` name, as the CLI's `--version`/`--label` take them.
    fn named(
        &self,
        registry: &Registry,
        name: &str,
        version: Option<&str>,
        label: Option<&str>,
    ) -> Result<(String, Option<Version>)> {
        if version.is_some() && label.is_some() {
            return Err(Failure::Value(
                "give version or label, not both".to_string(),
            ));
        }
        let version = version.map(parse_version).transpose()?;
        self.inner
            .named_version(registry, name, version.as_ref(), label)
            .map_err(named)
    }
}

#[pymethods]
impl Project {
    /// Open the project that holds `path` (default: the current folder), found as the CLI finds
    /// it: the first folder upwards with `ptrack.toml` or `prompts/`.
    #[new]
    #[pyo3(signature = (path = None))]
    fn new(py: Python<'_>, path: Option<PathBuf>) -> PyResult<Project> {
        let start = path.unwrap_or_else(|| PathBuf::from("."));
        let project = py
            .detach(|| ptrack::Project::discover(&start))
            .map_err(project_error)?;
        Ok(Project {
            inner: Arc::new(project),
        })
    }

    /// The project's root folder.
    #[getter]
    fn root(&self) -> PathBuf {
        self.inner.root().to_path_buf()
    }

    fn __repr__(&self) -> String {
        format!("Project({:?})", self.inner.root().display().to_string())
    }

    /// A version of prompt `name`: `version`, the one `label` names, or the latest.
    #[pyo3(signature = (name, version = None, label = None))]
    fn get(
        &self,
        py: Python<'_>,
        name: &str,
        version: Option<&str>,
        label: Option<&str>,
    ) -> PyResult<PromptVersion> {
        let v = py.detach(|| -> Result<ptrack::PromptVersion> {
            let registry = self.inner.load_prompts();
            let (name, version) = self.named(&registry, name, version, label)?;
            registry
                .resolve(&name, version.as_ref())
                .cloned()
                .map_err(lookup)
        })?;
        Ok(PromptVersion {
            project: Arc::clone(&self.inner),
            v,
        })
    }

    /// The latest version of each prompt, by name (prompts whose latest version file has
    /// errors are left out; `list()` shows them).
    fn prompts(&self, py: Python<'_>) -> Vec<PromptVersion> {
        let versions = py.detach(|| {
            let registry = self.inner.load_prompts();
            registry
                .prompts
                .values()
                .filter_map(|p| p.resolve(None).ok().cloned())
                .collect::<Vec<_>>()
        });
        versions
            .into_iter()
            .map(|v| PromptVersion {
                project: Arc::clone(&self.inner),
                v,
            })
            .collect()
    }

    /// Every prompt with its latest version and run figures: what `ptrack list --json` prints.
    fn list(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let listing = py.detach(|| self.inner.list());
        to_python(py, &listing.rows)
    }

    /// Record one run object exactly as `ptrack record --stdin` records a line; returns its id.
    fn record_object(&self, py: Python<'_>, run: &Bound<'_, PyDict>) -> PyResult<String> {
        let obj = dict_to_map(run, "").map_err(Failure::InvalidRun)?;
        Ok(self.record_map(py, obj)?)
    }

    /// Record one run of prompt `name`; returns its id. The run is checked as
    /// `ptrack record --stdin` checks a line.
    #[pyo3(signature = (
        name, /, *, execution_time_ms, success, version = None, label = None, output = None,
        token_count = None, quality_score = None, feedback = None, input = None, error = None,
        **extra
    ))]
    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        py: Python<'_>,
        name: &str,
        execution_time_ms: &Bound<'_, PyAny>,
        success: &Bound<'_, PyAny>,
        version: Option<&str>,
        label: Option<&str>,
        output: Option<&Bound<'_, PyAny>>,
        token_count: Option<&Bound<'_, PyAny>>,
        quality_score: Option<&Bound<'_, PyAny>>,
        feedback: Option<&Bound<'_, PyAny>>,
        input: Option<&Bound<'_, PyAny>>,
        error: Option<&Bound<'_, PyAny>>,
        extra: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<String> {
        let mut obj = Map::new();
        let (prompt, version) = py.detach(|| {
            let registry = self.inner.load_prompts();
            self.named(&registry, name, version, label)
        })?;
        obj.insert("prompt".into(), Value::String(prompt));
        if let Some(v) = version {
            obj.insert("version".into(), Value::String(v.to_string()));
        }
        if let Some(l) = ptrack::labels::asked_label(Some(name), label) {
            obj.insert("label".into(), Value::String(l));
        }
        let fields: [(&str, Option<&Bound<'_, PyAny>>); 8] = [
            ("execution_time_ms", Some(execution_time_ms)),
            ("success", Some(success)),
            ("output", output),
            ("token_count", token_count),
            ("quality_score", quality_score),
            ("feedback", feedback),
            ("input", input),
            ("error", error),
        ];
        for (key, value) in fields {
            if let Some(v) = value.filter(|v| !v.is_none()) {
                obj.insert(key.into(), to_value(v, key).map_err(Failure::InvalidRun)?);
            }
        }
        if let Some(extra) = extra {
            for (k, v) in dict_to_map(extra, "").map_err(Failure::InvalidRun)? {
                // `version` is a parameter, so only `prompt` can come this way.
                if k == "prompt" {
                    return Err(PyValueError::new_err(
                        "`prompt` is chosen by NAME; it cannot be an extra field",
                    ));
                }
                obj.insert(k, v);
            }
        }
        Ok(self.record_map(py, obj)?)
    }

    /// Rate run `run_id` (its id or a unique prefix of 4 characters or more) with `quality`
    /// (1 to 10); returns the rating event, as `ptrack rate --json` prints it.
    #[pyo3(signature = (run_id, quality, feedback = None))]
    fn rate(
        &self,
        py: Python<'_>,
        run_id: &str,
        quality: f64,
        feedback: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let event = py.detach(|| -> Result<_> {
            self.inner
                .rate(run_id, quality, feedback, now()?)
                .map_err(|e| match e {
                    RateError::NoRun(_) | RateError::Ambiguous { .. } => {
                        Failure::RunNotFound(e.to_string())
                    }
                    RateError::Invalid(m) => Failure::InvalidRun(m),
                    RateError::Write(_) => Failure::Other(e.to_string()),
                })
        })?;
        to_python(py, &event)
    }

    /// Metrics per version: what `ptrack performance --json` prints.
    #[pyo3(signature = (name = None, *, version = None, label = None, days = None, since = None, until = None))]
    #[allow(clippy::too_many_arguments)]
    fn performance(
        &self,
        py: Python<'_>,
        name: Option<&str>,
        version: Option<&str>,
        label: Option<&str>,
        days: Option<u32>,
        since: Option<&Bound<'_, PyAny>>,
        until: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let (since, until) = (when(since, "since")?, when(until, "until")?);
        let model = py.detach(|| -> Result<_> {
            let window = ptrack::query::Window { days, since, until };
            let (since, until) = window.resolve(now()?);
            let (prompt, version) = match name {
                Some(n) if n.contains(':') || label.is_some() => {
                    let registry = self.inner.load_prompts();
                    let (n, v) = self.named(&registry, n, version, label)?;
                    (Some(n), v)
                }
                None if label.is_some() => {
                    return Err(Failure::Value("label needs a prompt name".to_string()));
                }
                n => (
                    n.map(str::to_string),
                    version.map(parse_version).transpose()?,
                ),
            };
            self.inner
                .performance(&ptrack::query::PerformanceQuery {
                    prompt,
                    version,
                    since,
                    until,
                    use_cache: true,
                })
                .map_err(lookup)
        })?;
        warn_run_diagnostics(py, &model.diagnostics)?;
        to_python(py, &model)
    }

    /// Versions side by side, or `b` against `a` (versions or labels) with significance tests:
    /// what `ptrack compare --json` prints.
    #[pyo3(signature = (name, a = None, b = None, *, days = None, since = None, until = None))]
    #[allow(clippy::too_many_arguments)]
    fn compare(
        &self,
        py: Python<'_>,
        name: &str,
        a: Option<&str>,
        b: Option<&str>,
        days: Option<u32>,
        since: Option<&Bound<'_, PyAny>>,
        until: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let (since, until) = (when(since, "since")?, when(until, "until")?);
        let model = py.detach(|| -> Result<_> {
            let window = ptrack::query::Window { days, since, until };
            let (since, until) = window.resolve(now()?);
            let versions = match (a, b) {
                (Some(a), Some(b)) => {
                    let registry = self.inner.load_prompts();
                    let one = |s: &str| -> Result<Version> {
                        let spec: ptrack::labels::VersionSpec =
                            s.parse().map_err(|e: ptrack::labels::VersionSpecError| {
                                Failure::Value(e.to_string())
                            })?;
                        self.inner
                            .version_of_spec(&registry, name, &spec)
                            .map_err(lookup)
                    };
                    Some((one(a)?, one(b)?))
                }
                (None, None) => None,
                _ => {
                    return Err(Failure::Value(
                        "compare takes both a and b, or neither".to_string(),
                    ));
                }
            };
            self.inner
                .compare(&ptrack::query::CompareQuery {
                    prompt: name.to_string(),
                    versions,
                    since,
                    until,
                })
                .map_err(lookup)
        })?;
        warn_run_diagnostics(py, &model.diagnostics)?;
        to_python(py, &model)
    }

    /// Metrics per day or week over the last `days` days: what `ptrack trends --json` prints.
    #[pyo3(signature = (name, *, days = 30, bucket = "day", version = None))]
    fn trends(
        &self,
        py: Python<'_>,
        name: &str,
        days: u32,
        bucket: &str,
        version: Option<&str>,
    ) -> PyResult<Py<PyAny>> {
        let bucket = match bucket {
            "day" => ptrack::metrics::Bucket::Day,
            "week" => ptrack::metrics::Bucket::Week,
            other => {
                return Err(PyValueError::new_err(format!(
                    "bucket must be \"day\" or \"week\", got {other:?}"
                )));
            }
        };
        let version = version.map(parse_version).transpose()?;
        let model = py.detach(|| -> Result<_> {
            self.inner
                .trends(&ptrack::query::TrendsQuery {
                    prompt: name.to_string(),
                    version,
                    days,
                    bucket,
                    now: now()?,
                })
                .map_err(lookup)
        })?;
        warn_run_diagnostics(py, &model.diagnostics)?;
        to_python(py, &model)
    }

    /// The version to serve for `label` (default `latest`; `name` may be `NAME:LABEL`), and
    /// the variant of `unit` when an experiment runs on the label: what `ptrack resolve --json`
    /// prints.
    #[pyo3(signature = (name, label = None, unit = None))]
    fn resolve(
        &self,
        py: Python<'_>,
        name: &str,
        label: Option<&str>,
        unit: Option<&str>,
    ) -> PyResult<Py<PyAny>> {
        let resolved = py.detach(|| self.resolved(name, label, unit))?;
        to_python(py, &resolved)
    }

    /// For `track`: the version to serve (as `resolve`), and the fields its run records carry
    /// (`label`, and `experiment` and `unit` when an experiment assigned the unit a variant).
    #[pyo3(signature = (name, version = None, label = None, unit = None))]
    fn _serve(
        &self,
        py: Python<'_>,
        name: &str,
        version: Option<&str>,
        label: Option<&str>,
        unit: Option<&str>,
    ) -> PyResult<(PromptVersion, Py<PyAny>)> {
        let (v, fields) = py.detach(|| -> Result<_> {
            let registry = self.inner.load_prompts();
            let mut fields = Map::new();
            let (prompt, version) = match unit {
                Some(u) if version.is_none() => {
                    let r = self.resolved(name, label, Some(u))?;
                    if let (Some(e), Some(_)) = (&r.experiment, &r.variant) {
                        fields.insert("experiment".into(), Value::String(e.clone()));
                        fields.insert("unit".into(), Value::String(u.to_string()));
                    }
                    (r.prompt, Some(r.version))
                }
                _ => self.named(&registry, name, version, label)?,
            };
            if let Some(l) = ptrack::labels::asked_label(Some(name), label) {
                fields.insert("label".into(), Value::String(l));
            }
            let v = registry
                .resolve(&prompt, version.as_ref())
                .cloned()
                .map_err(lookup)?;
            Ok((v, fields))
        })?;
        let fields = to_python(py, &fields)?;
        Ok((
            PromptVersion {
                project: Arc::clone(&self.inner),
                v,
            },
            fields,
        ))
    }

    /// Write a new version file from the template (or as a copy of `from_version`), as
    /// `ptrack create` does; `text` replaces the prompt text. Returns the new file, relative to
    /// the project root.
    #[pyo3(signature = (
        name, /, *, version = None, from_version = None, goal = None, model = None,
        temperature = None, token_limit = None, top_k = None, top_p = None, tags = None, text = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn create(
        &self,
        py: Python<'_>,
        name: String,
        version: Option<&str>,
        from_version: Option<&str>,
        goal: Option<String>,
        model: Option<String>,
        temperature: Option<f64>,
        token_limit: Option<u64>,
        top_k: Option<u64>,
        top_p: Option<f64>,
        tags: Option<Vec<String>>,
        text: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let new = ptrack::create::NewVersion {
            name,
            version: version.map(parse_version).transpose()?,
            from: from_version.map(parse_version).transpose()?,
            // A given text is Markdown's: a `.toml` file holds it as a string.
            format: if text.is_some() && from_version.is_none() {
                Some(ptrack::create::FileFormat::Md)
            } else {
                None
            },
            goal,
            model,
            provider: None,
            temperature,
            token_limit,
            top_k,
            top_p,
            tags,
            text,
            front: Vec::new(),
        };
        let created = py.detach(|| -> Result<_> {
            self.inner.create(&new, now()?).map_err(|e| match e {
                ptrack::create::CreateError::Lookup(l) => lookup(l),
                e => Failure::Other(e.to_string()),
            })
        })?;
        to_python(py, &created)
    }

    /// Every valid version of prompt `name`, oldest first.
    fn versions(&self, py: Python<'_>, name: &str) -> PyResult<Vec<PromptVersion>> {
        let versions = py.detach(|| -> Result<_> {
            let registry = self.inner.load_prompts();
            Ok(registry.find(name).map_err(lookup)?.versions.clone())
        })?;
        Ok(versions
            .into_iter()
            .map(|v| PromptVersion {
                project: Arc::clone(&self.inner),
                v,
            })
            .collect())
    }
}

impl Project {
    fn record_map(&self, py: Python<'_>, obj: Map<String, Value>) -> Result<String> {
        py.detach(|| {
            let recorded = self.inner.record_object(obj, now()?).map_err(|e| match e {
                RecordObjectError::Rejected(RejectedRun::Lookup(l)) => lookup(l),
                RecordObjectError::Rejected(r) => Failure::InvalidRun(r.to_string()),
                RecordObjectError::Write(w) => Failure::Other(w.to_string()),
            })?;
            Ok(recorded.id)
        })
    }

    fn resolved(
        &self,
        name: &str,
        label: Option<&str>,
        unit: Option<&str>,
    ) -> Result<ptrack::experiment::Resolved> {
        let (name, label) = match (name.split_once(':'), label) {
            (Some(_), Some(_)) => {
                return Err(Failure::Value(format!(
                    "`{name}` already names the label; drop label"
                )));
            }
            (Some((n, l)), None) => (n, Some(l)),
            (None, l) => (name, l),
        };
        if let Some(l) = label {
            match ptrack::labels::check_label_name(l) {
                Ok(()) | Err(ptrack::labels::LabelNameError::Latest) => {}
                Err(e) => return Err(Failure::Value(e.to_string())),
            }
        }
        if unit == Some("") {
            return Err(Failure::Value("unit must not be empty".to_string()));
        }
        self.inner
            .resolve_for(name, label, unit, now()?)
            .map_err(lookup)
    }
}

#[pymethods]
impl PromptVersion {
    /// The prompt's name.
    #[getter]
    fn name(&self) -> &str {
        &self.v.name
    }

    /// The version, e.g. `"1.1"`.
    #[getter]
    fn version(&self) -> &str {
        self.v.version.as_str()
    }

    /// The version file, relative to the project root.
    #[getter]
    fn path(&self) -> PathBuf {
        self.v.path.clone()
    }

    #[getter]
    fn goal(&self) -> Option<&str> {
        self.v.meta.goal.as_deref()
    }

    #[getter]
    fn model(&self) -> Option<&str> {
        self.v.meta.model.as_deref()
    }

    #[getter]
    fn provider(&self) -> Option<&'static str> {
        self.v.meta.provider.map(|p| p.as_str())
    }

    #[getter]
    fn temperature(&self) -> Option<f64> {
        self.v.meta.params.temperature
    }

    #[getter]
    fn token_limit(&self) -> Option<u64> {
        self.v.meta.params.token_limit
    }

    #[getter]
    fn top_k(&self) -> Option<u64> {
        self.v.meta.params.top_k
    }

    #[getter]
    fn top_p(&self) -> Option<f64> {
        self.v.meta.params.top_p
    }

    #[getter]
    fn tags(&self) -> Vec<String> {
        self.v.meta.tags.clone()
    }

    #[getter]
    fn description(&self) -> Option<&str> {
        self.v.meta.description.as_deref()
    }

    /// When the version was written (RFC 3339), if its file says.
    #[getter]
    fn created_at(&self) -> Option<String> {
        self.v.meta.created_at.map(|t| t.to_rfc3339())
    }

    /// Input variables by name, each `{"description": …, "default": …}` (keys it has).
    #[getter]
    fn variables(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_python(py, &self.v.meta.variables)
    }

    /// The prompt text, before rendering.
    #[getter]
    fn text(&self) -> &str {
        &self.v.text
    }

    /// Git blob id of the version file (what runs store as `prompt_sha`).
    #[getter]
    fn prompt_sha(&self) -> &str {
        &self.v.blob_sha
    }

    /// Everything about the version, as a dict (the library's `PromptVersion`).
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_python(py, &self.v)
    }

    fn __repr__(&self) -> String {
        format!(
            "PromptVersion({:?}, {:?})",
            self.v.name,
            self.v.version.as_str()
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PromptVersion>()
            .is_ok_and(|o| o.get().v == self.v && o.get().project.root() == self.project.root())
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.project.root().hash(&mut h);
        self.v.name.hash(&mut h);
        self.v.blob_sha.hash(&mut h);
        h.finish()
    }

    /// The text with `vars` filled in (each unset variable takes its default).
    #[pyo3(signature = (**vars))]
    fn render(&self, py: Python<'_>, vars: Option<&Bound<'_, PyDict>>) -> PyResult<String> {
        let vars = variables(vars)?;
        Ok(py
            .detach(|| ptrack::render::render(&self.v, &vars))
            .map_err(render_error)?)
    }

    /// The JSON body for Ollama's /api/generate, as `ptrack render --format ollama` prints it.
    #[pyo3(signature = (**vars))]
    fn ollama_request(
        &self,
        py: Python<'_>,
        vars: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        self.request(py, vars, RenderFormat::Ollama)
    }

    /// The JSON body for an OpenAI-compatible /v1/chat/completions, as
    /// `ptrack render --format openai` prints it.
    #[pyo3(signature = (**vars))]
    fn openai_request(
        &self,
        py: Python<'_>,
        vars: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        self.request(py, vars, RenderFormat::Openai)
    }
}

impl PromptVersion {
    fn request(
        &self,
        py: Python<'_>,
        vars: Option<&Bound<'_, PyDict>>,
        format: RenderFormat,
    ) -> PyResult<Py<PyAny>> {
        let vars = variables(vars)?;
        let out = py
            .detach(|| self.project.render_output(&self.v, &vars, format))
            .map_err(render_error)?;
        match out {
            RenderOutput::Request(body) => to_python(py, &body),
            RenderOutput::Text(r) => to_python(py, &r),
        }
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Project>()?;
    m.add_class::<PromptVersion>()?;
    Ok(())
}
