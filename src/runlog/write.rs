//! Appending to run logs: whole lines under an advisory lock, so concurrent writers never lose
//! or interleave bytes, and a torn last line left by a crash never swallows the next record.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Why a run could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The log file could not be opened, locked or written.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The log file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The record could not be serialized.
    #[error("cannot serialize run: {0}")]
    Json(#[from] serde_json::Error),
}

/// The log file a record for `prompt` at `ts` goes to: `runs/<prompt>/<YYYY-MM>.jsonl`.
pub fn log_path(runs_dir: &Path, prompt: &str, ts: &DateTime<Utc>) -> PathBuf {
    runs_dir
        .join(prompt)
        .join(format!("{}.jsonl", ts.format("%Y-%m")))
}

/// Append `value` as one line to `path`, under an exclusive advisory lock, in one write.
/// When the file ends in a torn line (no final newline) the new line starts on a fresh line.
pub fn append_line<T: Serialize>(path: &Path, value: &T) -> Result<(), WriteError> {
    let mut line = serde_json::to_vec(value)?;
    line.push(b'\n');
    append_raw(path, &line)
}

/// Append several values, one line each, in one locked write.
pub fn append_lines<T: Serialize>(path: &Path, values: &[T]) -> Result<(), WriteError> {
    let mut buf = Vec::new();
    for v in values {
        serde_json::to_writer(&mut buf, v)?;
        buf.push(b'\n');
    }
    append_raw(path, &buf)
}

fn append_raw(path: &Path, data: &[u8]) -> Result<(), WriteError> {
    let io = |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
        .map_err(io)?;
    file.lock().map_err(io)?;
    let result = (|| {
        let len = file.metadata()?.len();
        let mut buf = Vec::with_capacity(data.len() + 1);
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                buf.push(b'\n');
            }
        }
        buf.extend_from_slice(data);
        file.write_all(&buf)?;
        file.flush()
    })();
    let unlocked = file.unlock();
    result.map_err(io)?;
    unlocked.map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_starts_a_fresh_line_after_a_torn_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p/2026-11.jsonl");
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, "{\"id\":\"torn").expect("write");
        append_line(&path, &serde_json::json!({"a": 1})).expect("append");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, "{\"id\":\"torn\n{\"a\":1}\n");
    }
}
