//! `export --format parquet`: the runs `export` gives, as typed Parquet files in a
//! Hive-partitioned folder (`DIR/prompt=NAME/version=V/month=YYYY-MM/part-0.parquet`), for
//! DuckDB, Spark, ClickHouse or pandas to query without parsing JSON.
//!
//! Each file is written whole under a hidden temporary name beside its final one and renamed
//! only when every file of the export is complete, so a failed export leaves no partial file
//! that a `**/*.parquet` glob would read. The partition columns are not repeated inside the
//! files (the Hive convention): readers take them from the paths.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ::parquet::basic::Compression;
use ::parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use ::parquet::file::properties::WriterProperties;
use ::parquet::file::writer::SerializedFileWriter;
use ::parquet::schema::types::Type;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{ExportError, ExportQuery, export_rows};
use crate::project::{Project, check_name};
use crate::runlog::{FIELDS, RunFacts};

/// A key that splits a Parquet export into folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PartitionKey {
    /// `prompt=NAME`.
    Prompt,
    /// `version=V`, the version as the run log writes it.
    Version,
    /// `month=YYYY-MM`, the UTC month of the run's `ts`.
    Month,
}

impl PartitionKey {
    /// The key's name, as in the folder names and `--partition`.
    pub fn name(self) -> &'static str {
        match self {
            PartitionKey::Prompt => "prompt",
            PartitionKey::Version => "version",
            PartitionKey::Month => "month",
        }
    }

    /// The default partitioning: `prompt`, `version`, `month`.
    pub fn default_keys() -> Vec<PartitionKey> {
        vec![
            PartitionKey::Prompt,
            PartitionKey::Version,
            PartitionKey::Month,
        ]
    }
}

/// Why a `--partition` list is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartitionError {
    /// A key that is not `prompt`, `version` or `month`.
    #[error("unknown partition key `{0}`: expected prompt, version or month")]
    Unknown(String),
    /// A key given twice.
    #[error("partition key `{0}` is given twice")]
    Repeated(String),
}

/// Parse a comma-separated list of partition keys, in folder order; `""` or `none` is no
/// partitioning (one file).
///
/// ```
/// use ptrack::query::export::parquet::{PartitionKey, parse_partition};
/// assert_eq!(parse_partition("month,prompt").unwrap(), [PartitionKey::Month, PartitionKey::Prompt]);
/// assert!(parse_partition("none").unwrap().is_empty());
/// assert!(parse_partition("day").is_err());
/// ```
pub fn parse_partition(text: &str) -> Result<Vec<PartitionKey>, PartitionError> {
    let text = text.trim();
    if text.is_empty() || text == "none" {
        return Ok(Vec::new());
    }
    let mut keys = Vec::new();
    for word in text.split(',').map(str::trim) {
        let key = match word {
            "prompt" => PartitionKey::Prompt,
            "version" => PartitionKey::Version,
            "month" => PartitionKey::Month,
            other => return Err(PartitionError::Unknown(other.to_string())),
        };
        if keys.contains(&key) {
            return Err(PartitionError::Repeated(word.to_string()));
        }
        keys.push(key);
    }
    Ok(keys)
}

/// How a Parquet export is laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParquetOptions {
    /// Folder levels, outermost first; empty for one file `DIR/part-0.parquet`.
    pub partition: Vec<PartitionKey>,
    /// Replace an earlier export in the folder (only `*.parquet` files in `key=value`
    /// folders may be there); without it the folder must be empty or absent.
    pub replace: bool,
}

impl Default for ParquetOptions {
    fn default() -> Self {
        ParquetOptions {
            partition: PartitionKey::default_keys(),
            replace: false,
        }
    }
}

/// One file of a Parquet export.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ParquetFile {
    /// Path under the export folder, `/`-separated (`prompt=p/version=1.0/month=2026-11/part-0.parquet`).
    pub path: String,
    /// Runs in the file.
    pub rows: usize,
}

/// What a Parquet export wrote (the `export --format parquet --json` model).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ParquetExport {
    /// The partition keys, outermost first (empty: one file).
    pub partition: Vec<String>,
    /// Runs written, over every file.
    pub runs: usize,
    /// The files written, in path order.
    pub files: Vec<ParquetFile>,
    /// Files of an earlier export that were removed (`--force`), in path order.
    pub removed: Vec<String>,
    /// Problems in the run logs (bad lines are not exported).
    #[serde(skip)]
    pub diagnostics: Vec<crate::diagnostic::Diagnostic>,
}

/// The file name inside each partition folder.
pub const FILE_NAME: &str = "part-0.parquet";

/// Rows buffered per partition before they are written as a row group.
const ROW_GROUP_ROWS: usize = 64 * 1024;

/// The columns of a file, in order: CSV's columns with `prompt_tokens` and
/// `completion_tokens` taken out of `extra` as numbers, less the partition keys.
fn columns(partition: &[PartitionKey]) -> Vec<(&'static str, Kind)> {
    let mut cols = Vec::new();
    for &name in FIELDS {
        if (name == "prompt" && partition.contains(&PartitionKey::Prompt))
            || (name == "version" && partition.contains(&PartitionKey::Version))
        {
            continue;
        }
        let kind = match name {
            "id" => Kind::Text { required: true },
            "ts" => Kind::Timestamp,
            "prompt" | "version" => Kind::Text { required: true },
            "execution_time_ms" => Kind::Double { required: true },
            "quality_score" => Kind::Double { required: false },
            "token_count" => Kind::Int { required: false },
            "output_length" => Kind::Int { required: true },
            "success" => Kind::Bool,
            _ => Kind::Text { required: false },
        };
        cols.push((name, kind));
        if name == "token_count" {
            cols.push(("prompt_tokens", Kind::Int { required: false }));
            cols.push(("completion_tokens", Kind::Int { required: false }));
        }
    }
    cols.push(("extra", Kind::Text { required: false }));
    cols
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Text { required: bool },
    Timestamp,
    Double { required: bool },
    Int { required: bool },
    Bool,
}

/// The Parquet schema of `columns`.
fn schema(cols: &[(&str, Kind)]) -> Result<Type, ::parquet::errors::ParquetError> {
    let mut text = String::from("message run {\n");
    for (name, kind) in cols {
        let line = match kind {
            Kind::Text { required } => format!("{} BYTE_ARRAY {name} (UTF8);", rep(*required)),
            Kind::Timestamp => format!("REQUIRED INT64 {name} (TIMESTAMP(MICROS,true));"),
            Kind::Double { required } => format!("{} DOUBLE {name};", rep(*required)),
            Kind::Int { required } => format!("{} INT64 {name};", rep(*required)),
            Kind::Bool => format!("REQUIRED BOOLEAN {name};"),
        };
        text.push_str(&line);
        text.push('\n');
    }
    text.push('}');
    ::parquet::schema::parser::parse_message_type(&text)
}

fn rep(required: bool) -> &'static str {
    if required { "REQUIRED" } else { "OPTIONAL" }
}

/// One value of a row.
enum Cell {
    Text(Option<String>),
    Int(Option<i64>),
    Double(Option<f64>),
    Bool(bool),
}

/// A column's buffered values and definition levels.
enum Buffer {
    Text(Vec<ByteArray>, Vec<i16>),
    Int(Vec<i64>, Vec<i16>),
    Double(Vec<f64>, Vec<i16>),
    Bool(Vec<bool>),
}

impl Buffer {
    fn of(kind: Kind) -> Buffer {
        match kind {
            Kind::Text { .. } => Buffer::Text(Vec::new(), Vec::new()),
            Kind::Timestamp | Kind::Int { .. } => Buffer::Int(Vec::new(), Vec::new()),
            Kind::Double { .. } => Buffer::Double(Vec::new(), Vec::new()),
            Kind::Bool => Buffer::Bool(Vec::new()),
        }
    }

    fn push(&mut self, cell: Cell) {
        fn put<T>(vals: &mut Vec<T>, defs: &mut Vec<i16>, v: Option<T>) {
            defs.push(i16::from(v.is_some()));
            vals.extend(v);
        }
        match (self, cell) {
            (Buffer::Text(v, d), Cell::Text(s)) => {
                put(v, d, s.map(|s| ByteArray::from(s.into_bytes())))
            }
            (Buffer::Int(v, d), Cell::Int(x)) => put(v, d, x),
            (Buffer::Double(v, d), Cell::Double(x)) => put(v, d, x),
            (Buffer::Bool(v), Cell::Bool(b)) => v.push(b),
            // `row_cells` gives each column a cell of its kind.
            _ => {}
        }
    }
}

/// One partition's file: its writer on the temporary name and the rows not yet written.
struct PartFile {
    rel: String,
    temp: PathBuf,
    writer: SerializedFileWriter<BufWriter<File>>,
    buffers: Vec<Buffer>,
    buffered: usize,
    rows: usize,
}

impl PartFile {
    /// Write the buffered rows as one row group.
    fn flush(&mut self, cols: &[(&str, Kind)]) -> Result<(), ::parquet::errors::ParquetError> {
        if self.buffered == 0 {
            return Ok(());
        }
        let mut group = self.writer.next_row_group()?;
        for (buffer, (_, kind)) in self.buffers.iter_mut().zip(cols) {
            let Some(mut col) = group.next_column()? else {
                break;
            };
            let required = matches!(
                kind,
                Kind::Timestamp
                    | Kind::Bool
                    | Kind::Text { required: true }
                    | Kind::Int { required: true }
                    | Kind::Double { required: true }
            );
            match buffer {
                Buffer::Text(v, d) => {
                    col.typed::<ByteArrayType>().write_batch(
                        v,
                        (!required).then_some(d.as_slice()),
                        None,
                    )?;
                    v.clear();
                    d.clear();
                }
                Buffer::Int(v, d) => {
                    col.typed::<Int64Type>().write_batch(
                        v,
                        (!required).then_some(d.as_slice()),
                        None,
                    )?;
                    v.clear();
                    d.clear();
                }
                Buffer::Double(v, d) => {
                    col.typed::<DoubleType>().write_batch(
                        v,
                        (!required).then_some(d.as_slice()),
                        None,
                    )?;
                    v.clear();
                    d.clear();
                }
                Buffer::Bool(v) => {
                    col.typed::<BoolType>().write_batch(v, None, None)?;
                    v.clear();
                }
            }
            col.close()?;
        }
        group.close()?;
        self.buffered = 0;
        Ok(())
    }
}

/// A JSON value as a text cell, the way CSV writes it: strings as they are, other values as
/// JSON text, absent and null as null.
fn text(v: Option<Value>) -> Option<String> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
    }
}

/// A count as a signed 64-bit integer (Parquet has no unsigned 64-bit logical type that every
/// reader takes); a count over 2^63 − 1 names its run.
fn int(id: &str, field: &'static str, v: Option<u64>) -> Result<Option<i64>, ExportError> {
    v.map(|x| {
        i64::try_from(x).map_err(|_| ExportError::Value {
            id: id.to_string(),
            field,
            message: format!("{x} is over the largest 64-bit signed integer"),
        })
    })
    .transpose()
}

/// The cells of one run, in the order of `cols`.
fn row_cells(
    cols: &[(&str, Kind)],
    run: &RunFacts,
    mut obj: Map<String, Value>,
) -> Result<Vec<Cell>, ExportError> {
    let mut cells = Vec::with_capacity(cols.len());
    obj.remove("prompt_tokens");
    obj.remove("completion_tokens");
    for (name, _) in cols {
        let cell = match *name {
            "id" => Cell::Text(Some(run.id.clone())),
            "ts" => Cell::Int(Some(run.ts.timestamp_micros())),
            "prompt" => Cell::Text(Some(run.prompt.clone())),
            "version" => Cell::Text(Some(run.version.clone())),
            "execution_time_ms" => Cell::Double(Some(run.execution_time_ms)),
            "token_count" => Cell::Int(int(&run.id, "token_count", run.token_count)?),
            "prompt_tokens" => Cell::Int(int(&run.id, "prompt_tokens", run.prompt_tokens)?),
            "completion_tokens" => {
                Cell::Int(int(&run.id, "completion_tokens", run.completion_tokens)?)
            }
            "output_length" => {
                let given = obj.get("output_length").and_then(Value::as_u64);
                Cell::Int(int(
                    &run.id,
                    "output_length",
                    Some(given.unwrap_or(run.output_length)),
                )?)
            }
            "success" => Cell::Bool(run.success),
            // export_row applied the latest rating to the line's score.
            "quality_score" => Cell::Double(obj.get("quality_score").and_then(Value::as_f64)),
            "extra" => {
                for f in FIELDS {
                    obj.remove(*f);
                }
                Cell::Text(
                    (!obj.is_empty()).then(|| Value::Object(std::mem::take(&mut obj)).to_string()),
                )
            }
            other => Cell::Text(text(obj.remove(other))),
        };
        cells.push(cell);
    }
    Ok(cells)
}

/// A partition value as a path segment: Hive's `%XX` escape for every byte but ASCII letters,
/// digits, `.`, `_` and `-` (prompt names, versions and months never need one).
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    // `.` and `..` would not be folders of their own; a leading `.` hides a folder from Spark.
    if out.starts_with('.') {
        out.replace_range(0..1, "%2E");
    }
    out
}

/// The folder of `run` under the export folder, `/`-separated; empty without partitions.
fn partition_path(keys: &[PartitionKey], run: &RunFacts) -> String {
    let mut path = String::new();
    for key in keys {
        let value = match key {
            PartitionKey::Prompt => escape_value(&run.prompt),
            PartitionKey::Version => escape_value(&run.version),
            PartitionKey::Month => run.ts.format("%Y-%m").to_string(),
        };
        path.push_str(key.name());
        path.push('=');
        path.push_str(&value);
        path.push('/');
    }
    path
}

/// The files of an earlier export under `dir` (relative, `/`-separated), or the first entry
/// that is not part of one.
fn earlier_export(dir: &Path) -> Result<(Vec<String>, Vec<PathBuf>), ExportError> {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for entry in walkdir::WalkDir::new(dir).min_depth(1).contents_first(true) {
        let entry = entry.map_err(|e| ExportError::Output {
            path: dir.to_path_buf(),
            message: e.to_string(),
        })?;
        let name = entry.file_name().to_string_lossy();
        let rel = entry
            .path()
            .strip_prefix(dir)
            .unwrap_or(entry.path())
            .to_path_buf();
        let ours = if entry.file_type().is_dir() {
            name.split_once('=')
                .is_some_and(|(k, _)| ["prompt", "version", "month"].contains(&k))
        } else {
            entry.file_type().is_file()
                && (name.ends_with(".parquet")
                    || (name.starts_with(".part-") && name.ends_with(".tmp")))
        };
        if !ours {
            return Err(ExportError::ForeignFile {
                dir: dir.to_path_buf(),
                path: rel,
            });
        }
        if entry.file_type().is_dir() {
            dirs.push(entry.path().to_path_buf());
        } else {
            files.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    files.sort();
    Ok((files, dirs))
}

fn io_at(path: &Path) -> impl Fn(std::io::Error) -> ExportError + '_ {
    move |e| ExportError::Output {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

impl Project {
    /// Write the runs `query` selects as Parquet files under `dir` (see the module docs).
    ///
    /// `dir` is created when absent; it must be empty unless `options.replace`, and then it
    /// may hold only an earlier export, whose files that are not written again are removed.
    pub fn export_parquet(
        &self,
        query: &ExportQuery,
        dir: &Path,
        options: &ParquetOptions,
    ) -> Result<ParquetExport, ExportError> {
        if let Some(p) = &query.prompt {
            check_name(p)?;
            if self.load_prompts().get(p).is_none() && !self.runs_dir().join(p).is_dir() {
                return Err(ExportError::UnknownPrompt(p.clone()));
            }
        }
        let (old_files, old_dirs) = if dir.exists() {
            if !dir.is_dir() {
                return Err(ExportError::Output {
                    path: dir.to_path_buf(),
                    message: "exists and is not a folder".into(),
                });
            }
            let nonempty = std::fs::read_dir(dir).map_err(io_at(dir))?.next().is_some();
            if nonempty && !options.replace {
                return Err(ExportError::NotEmpty(dir.to_path_buf()));
            }
            earlier_export(dir)?
        } else {
            (Vec::new(), Vec::new())
        };
        std::fs::create_dir_all(dir).map_err(io_at(dir))?;

        let mut writer = Writer {
            dir,
            keys: &options.partition,
            cols: columns(&options.partition),
            files: BTreeMap::new(),
            schema: Arc::new(schema(&columns(&options.partition))?),
            props: Arc::new(
                WriterProperties::builder()
                    .set_compression(Compression::SNAPPY)
                    .set_created_by(format!("ptrack {}", env!("CARGO_PKG_VERSION")))
                    .build(),
            ),
        };
        let written = writer.write_all(self, query);
        let (files, diagnostics) = match written {
            Ok(x) => x,
            Err(e) => {
                writer.discard();
                return Err(e);
            }
        };
        // Every file is complete: put them in place, then drop what the earlier export had.
        let mut out = Vec::new();
        for (rel, temp, rows) in &files {
            let target = dir.join(rel);
            std::fs::rename(temp, &target).map_err(io_at(&target))?;
            out.push(ParquetFile {
                path: rel.clone(),
                rows: *rows,
            });
        }
        let kept: HashSet<&str> = out.iter().map(|f| f.path.as_str()).collect();
        let mut removed = Vec::new();
        for rel in old_files {
            if !kept.contains(rel.as_str()) {
                let path = dir.join(&rel);
                std::fs::remove_file(&path).map_err(io_at(&path))?;
                removed.push(rel);
            }
        }
        for d in old_dirs {
            // Folders that still hold a file stay; remove_dir refuses them.
            let _ = std::fs::remove_dir(d);
        }
        Ok(ParquetExport {
            partition: options
                .partition
                .iter()
                .map(|k| k.name().to_string())
                .collect(),
            runs: out.iter().map(|f| f.rows).sum(),
            files: out,
            removed,
            diagnostics,
        })
    }
}

/// The files of one export while it is written.
struct Writer<'a> {
    dir: &'a Path,
    keys: &'a [PartitionKey],
    cols: Vec<(&'static str, Kind)>,
    files: BTreeMap<String, PartFile>,
    schema: Arc<Type>,
    props: Arc<WriterProperties>,
}

type Written = (
    Vec<(String, PathBuf, usize)>,
    Vec<crate::diagnostic::Diagnostic>,
);

impl Writer<'_> {
    fn write_all(
        &mut self,
        project: &Project,
        query: &ExportQuery,
    ) -> Result<Written, ExportError> {
        let diagnostics = export_rows(project, query, |run, obj| self.row(run, obj))?;
        if self.keys.is_empty() && self.files.is_empty() {
            // One file even without runs, so a reader finds the columns.
            self.open(String::new())?;
        }
        let mut done = Vec::new();
        for (_, mut f) in std::mem::take(&mut self.files) {
            let closed = f
                .flush(&self.cols)
                .and_then(|()| f.writer.close().map(|_| ()));
            if let Err(e) = closed {
                let _ = std::fs::remove_file(&f.temp);
                for (_, temp, _) in &done {
                    let _ = std::fs::remove_file(temp);
                }
                return Err(e.into());
            }
            done.push((f.rel, f.temp, f.rows));
        }
        Ok((done, diagnostics))
    }

    fn row(&mut self, run: &RunFacts, obj: Map<String, Value>) -> Result<(), ExportError> {
        let folder = partition_path(self.keys, run);
        if !self.files.contains_key(&folder) {
            self.open(folder.clone())?;
        }
        let cells = row_cells(&self.cols, run, obj)?;
        let Some(f) = self.files.get_mut(&folder) else {
            return Ok(()); // opened above
        };
        for (buffer, cell) in f.buffers.iter_mut().zip(cells) {
            buffer.push(cell);
        }
        f.buffered += 1;
        f.rows += 1;
        if f.buffered >= ROW_GROUP_ROWS {
            f.flush(&self.cols)?;
        }
        Ok(())
    }

    /// Start the file of `folder` under a temporary name.
    fn open(&mut self, folder: String) -> Result<(), ExportError> {
        let parent = self.dir.join(&folder);
        std::fs::create_dir_all(&parent).map_err(io_at(&parent))?;
        let temp = parent.join(format!(".part-0.{}.tmp", std::process::id()));
        let file = File::create(&temp).map_err(io_at(&temp))?;
        let writer = SerializedFileWriter::new(
            BufWriter::new(file),
            self.schema.clone(),
            self.props.clone(),
        )?;
        let rel = format!("{folder}{FILE_NAME}");
        self.files.insert(
            folder,
            PartFile {
                rel,
                temp,
                writer,
                buffers: self.cols.iter().map(|(_, k)| Buffer::of(*k)).collect(),
                buffered: 0,
                rows: 0,
            },
        );
        Ok(())
    }

    /// Remove every temporary file and the folders the export made (when left empty).
    fn discard(&mut self) {
        for (folder, f) in std::mem::take(&mut self.files) {
            drop(f.writer);
            let _ = std::fs::remove_file(&f.temp);
            let mut path = PathBuf::from(folder.trim_end_matches('/'));
            while !path.as_os_str().is_empty() {
                let _ = std::fs::remove_dir(self.dir.join(&path));
                path.pop();
            }
        }
    }
}

impl From<::parquet::errors::ParquetError> for ExportError {
    fn from(e: ::parquet::errors::ParquetError) -> Self {
        match e {
            ::parquet::errors::ParquetError::External(inner) => {
                match inner.downcast::<std::io::Error>() {
                    Ok(io) => ExportError::Write(*io),
                    Err(other) => ExportError::Parquet(other.to_string()),
                }
            }
            other => ExportError::Parquet(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::testing::{project_with_runs, run_line};

    #[test]
    fn partition_lists_parse_and_refuse_unknown_or_repeated_keys() {
        assert_eq!(
            parse_partition("prompt,version,month").unwrap(),
            PartitionKey::default_keys()
        );
        assert_eq!(
            parse_partition(" version , prompt ").unwrap(),
            [PartitionKey::Version, PartitionKey::Prompt]
        );
        assert_eq!(parse_partition("").unwrap(), []);
        assert_eq!(parse_partition("none").unwrap(), []);
        assert_eq!(
            parse_partition("prompt,day"),
            Err(PartitionError::Unknown("day".into()))
        );
        assert_eq!(
            parse_partition("month,month"),
            Err(PartitionError::Repeated("month".into()))
        );
    }

    #[test]
    fn values_are_escaped_for_paths() {
        assert_eq!(escape_value("1.10"), "1.10");
        assert_eq!(escape_value("a b/c=d"), "a%20b%2Fc%3Dd");
        assert_eq!(escape_value(".."), "%2E.");
        assert_eq!(escape_value("é"), "%C3%A9");
    }

    #[test]
    fn files_follow_partitions_and_a_failed_start_leaves_nothing() {
        let lines = vec![
            run_line("a", "p", "1.0", "2026-10-31T23:59:59Z", 100.0, true, None),
            run_line(
                "b",
                "p",
                "1.0",
                "2026-11-01T00:00:00Z",
                50.0,
                false,
                Some(7.0),
            ),
            run_line("c", "p", "1.1", "2026-11-02T00:00:00Z", 70.0, true, None),
        ];
        let (dir, project) = project_with_runs(&["p"], &lines);
        let out = dir.path().join("pq");
        let s = project
            .export_parquet(&ExportQuery::default(), &out, &ParquetOptions::default())
            .expect("export");
        let paths: Vec<&str> = s.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "prompt=p/version=1.0/month=2026-10/part-0.parquet",
                "prompt=p/version=1.0/month=2026-11/part-0.parquet",
                "prompt=p/version=1.1/month=2026-11/part-0.parquet",
            ]
        );
        assert_eq!(s.runs, 3);
        for f in &s.files {
            assert!(out.join(&f.path).is_file(), "{}", f.path);
        }
        // Not empty: refused, and nothing changed.
        let again =
            project.export_parquet(&ExportQuery::default(), &out, &ParquetOptions::default());
        assert!(matches!(again, Err(ExportError::NotEmpty(_))), "{again:?}");
        // Replaced with one file: the partition folders go.
        let one = ParquetOptions {
            partition: vec![],
            replace: true,
        };
        let s = project
            .export_parquet(&ExportQuery::default(), &out, &one)
            .expect("replace");
        assert_eq!(
            s.files,
            [ParquetFile {
                path: FILE_NAME.into(),
                rows: 3
            }]
        );
        assert_eq!(s.removed.len(), 3);
        let left: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, [std::ffi::OsString::from(FILE_NAME)]);
        // A file that is not an export's is never removed, even with replace.
        std::fs::write(out.join("notes.txt"), "mine").unwrap();
        let r = project.export_parquet(&ExportQuery::default(), &out, &one);
        assert!(matches!(r, Err(ExportError::ForeignFile { .. })), "{r:?}");
        assert!(out.join("notes.txt").is_file() && out.join(FILE_NAME).is_file());
    }

    #[test]
    fn columns_leave_out_the_partition_keys_and_type_every_field() {
        let cols = columns(&PartitionKey::default_keys());
        let names: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
        assert!(!names.contains(&"prompt") && !names.contains(&"version"));
        assert_eq!(names[..2], ["id", "ts"]);
        assert_eq!(names.last(), Some(&"extra"));
        let all = columns(&[]);
        assert_eq!(all.len(), FIELDS.len() + 3);
        schema(&all).expect("the schema text parses");
    }
}
