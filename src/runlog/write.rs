//! Appending to run logs: whole lines under an advisory lock, so concurrent writers never lose
//! or interleave bytes, and a torn last line left by a crash never swallows the next record.

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
    runs_dir.join(prompt).join(log_file_name(ts))
}

fn log_file_name(ts: &DateTime<Utc>) -> String {
    format!("{}.jsonl", ts.format("%Y-%m"))
}

/// The same log relative to the project root: `runs/<prompt>/<YYYY-MM>.jsonl`.
pub fn log_rel(prompt: &str, ts: &DateTime<Utc>) -> PathBuf {
    Path::new("runs").join(prompt).join(log_file_name(ts))
}

/// Append `value` as one line to `root/rel`, under an exclusive advisory lock, in one write.
/// When the file ends in a torn line (no final newline) the new line starts on a fresh line.
///
/// The project may come from someone else's repository: the folders on the way may be links
/// only when they stay inside `root`, the file itself is never a link and must be a regular
/// file (a FIFO or a device is an error, not a lost run). See [`crate::safe_fs`].
pub fn append_line<T: Serialize>(root: &Path, rel: &Path, value: &T) -> Result<(), WriteError> {
    let mut line = serde_json::to_vec(value)?;
    line.push(b'\n');
    append_raw(root, rel, &line)
}

/// Append several values, one line each, in one locked write (see [`append_line`]).
pub fn append_lines<T: Serialize>(root: &Path, rel: &Path, values: &[T]) -> Result<(), WriteError> {
    let mut buf = Vec::new();
    for v in values {
        serde_json::to_writer(&mut buf, v)?;
        buf.push(b'\n');
    }
    append_raw(root, rel, &buf)
}

fn append_raw(root: &Path, rel: &Path, data: &[u8]) -> Result<(), WriteError> {
    let io = |source| WriteError::Io {
        path: rel.to_path_buf(),
        source,
    };
    let mut file = crate::safe_fs::open_append_inside(root, rel).map_err(io)?;
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
        let rel = Path::new("runs/p/2026-11.jsonl");
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, "{\"id\":\"torn").expect("write");
        append_line(dir.path(), rel, &serde_json::json!({"a": 1})).expect("append");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, "{\"id\":\"torn\n{\"a\":1}\n");
    }

    #[test]
    fn log_path_and_log_rel_name_the_same_file() {
        let ts = DateTime::parse_from_rfc3339("2026-11-30T23:59:59Z")
            .expect("ts")
            .with_timezone(&Utc);
        let root = Path::new("/p");
        assert_eq!(
            log_path(&root.join("runs"), "a_b", &ts),
            root.join(log_rel("a_b", &ts))
        );
        assert_eq!(log_rel("a_b", &ts), Path::new("runs/a_b/2026-11.jsonl"));
    }

    #[cfg(unix)]
    #[test]
    fn never_writes_through_a_link_out_of_the_project_or_into_a_fifo() {
        use std::os::unix::fs::symlink;
        let outside = tempfile::tempdir().expect("tmp");
        let victim = outside.path().join("bashrc");
        std::fs::write(&victim, "keep\n").expect("write");
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(dir.path().join("runs/p")).expect("mkdir");
        // The log file is a link to a file outside.
        symlink(&victim, dir.path().join("runs/p/2026-11.jsonl")).expect("link");
        let v = serde_json::json!({"a": 1});
        let e = append_line(dir.path(), Path::new("runs/p/2026-11.jsonl"), &v)
            .expect_err("through a link");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        // The prompt's folder is a link to a folder outside.
        symlink(outside.path(), dir.path().join("runs/q")).expect("link");
        let e = append_line(dir.path(), Path::new("runs/q/bashrc"), &v).expect_err("outside");
        assert!(e.to_string().contains("outside the project"), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "keep\n");
        // A link to a file inside the project is refused too: ptrack never writes through one.
        std::fs::write(dir.path().join("runs/p/real.jsonl"), "").expect("write");
        symlink("real.jsonl", dir.path().join("runs/p/2026-12.jsonl")).expect("link");
        assert!(append_line(dir.path(), Path::new("runs/p/2026-12.jsonl"), &v).is_err());
        // A FIFO is an error, not a run written to nobody.
        let fifo = dir.path().join("runs/p/2027-01.jsonl");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).expect("cstring");
        // SAFETY: `c` is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
        let e = append_line(dir.path(), Path::new("runs/p/2027-01.jsonl"), &v).expect_err("fifo");
        assert!(e.to_string().contains("FIFO"), "{e}");
    }
}
