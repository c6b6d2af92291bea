//! Finding the run logs of a project and reading them, on several threads when they are large.
//!
//! [`fan_out`] is the one place that splits files between threads (contiguous shares of about
//! equal bytes, so results keep file order); every reader (the event scan, the compact
//! aggregation, the cache) goes through it. [`RunFilter`] says which runs a reader wants and
//! which files can hold them.

use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::parse::{BOM, line_diagnostic, parse_event, utf8_diagnostic};
use super::schema::{Event, RunFacts};
use crate::diagnostic::Diagnostic;
use crate::prompt::is_valid_name;

/// Threads for reading run logs: the machine's cores, at most 8.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
}

/// Every `*.jsonl` file under `runs_dir`, recursively, in sorted order.
///
/// Symbolic links are listed too but never followed (a cloned project's `runs/<prompt>` may
/// link to any folder on the machine): a link named `*.jsonl`, a link to a folder, a `runs/`
/// that is a link, and a `*.jsonl` that is not a regular file (a FIFO) are listed so that
/// reading them gives a diagnostic ([`LogFile::open`]) instead of silently missing runs.
pub fn log_files(runs_dir: &Path) -> Vec<PathBuf> {
    if std::fs::symlink_metadata(runs_dir).is_ok_and(|m| m.file_type().is_symlink()) {
        return vec![runs_dir.to_path_buf()];
    }
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(runs_dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| {
            let jsonl = e.path().extension().is_some_and(|x| x == "jsonl");
            let ft = e.file_type();
            if ft.is_dir() {
                false
            } else if ft.is_symlink() {
                jsonl || e.path().is_dir()
            } else {
                jsonl
            }
        })
        .map(|e| e.into_path())
        .collect();
    files.sort();
    files
}

/// What to read from the run logs.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Only this prompt.
    pub prompt: Option<String>,
    /// Only this version.
    pub version: Option<String>,
    /// Only runs at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only runs before this time.
    pub until: Option<DateTime<Utc>>,
}

impl RunFilter {
    /// Whether `run` passes the filter.
    pub fn matches(&self, run: &RunFacts) -> bool {
        self.prompt.as_ref().is_none_or(|p| *p == run.prompt)
            && self.version_matches(&run.version)
            && self.since.is_none_or(|s| run.ts >= s)
            && self.until.is_none_or(|u| run.ts < u)
    }

    /// Whether a run of version `version` passes the version filter: versions compare by
    /// number, so `--version 1.0` finds the runs of `1.00.md`.
    pub fn version_matches(&self, version: &str) -> bool {
        self.version
            .as_ref()
            .is_none_or(|v| crate::version::same_version(v, version))
    }

    /// Whether a file at `rel` (relative to `runs/`) can hold runs that pass.
    /// Files follow `runs/<prompt>/…`; anything else may hold any prompt.
    pub fn may_hold(&self, rel: &Path) -> bool {
        let Some(prompt) = &self.prompt else {
            return true;
        };
        let mut comps = rel.components();
        match (comps.next(), comps.next()) {
            (Some(first), Some(_)) => {
                let dir = first.as_os_str().to_string_lossy();
                // A folder named after another valid prompt holds that prompt's runs only.
                !is_valid_name(&dir) || dir == prompt.as_str()
            }
            _ => true,
        }
    }
}

/// One run log to read: where it is and how diagnostics name it.
#[derive(Debug, Clone)]
pub struct LogFile {
    /// The file.
    pub path: PathBuf,
    /// Its path relative to `runs/`, with `/` separators.
    pub rel: String,
    /// Its path as diagnostics show it (`runs/<prompt>/<month>.jsonl`).
    pub shown: PathBuf,
    /// Its size when listed.
    pub len: u64,
}

/// The logs under `runs_dir` that can hold runs passing `filter`, in sorted order.
pub fn logs(runs_dir: &Path, display_root: &Path, filter: &RunFilter) -> Vec<LogFile> {
    log_files(runs_dir)
        .into_iter()
        .filter_map(|path| {
            let rel = path.strip_prefix(runs_dir).ok()?.to_path_buf();
            filter.may_hold(&rel).then(|| LogFile {
                len: std::fs::symlink_metadata(&path).map_or(0, |m| m.len()),
                rel: rel.to_string_lossy().replace('\\', "/"),
                shown: display_root.join(&rel),
                path,
            })
        })
        .collect()
}

impl LogFile {
    /// Open the log for reading: a symbolic link or anything but a regular file is refused
    /// (never followed, never blocked on), so the caller reports it.
    pub fn open(&self) -> std::io::Result<File> {
        crate::safe_fs::open_no_link(&self.path)
    }
}

/// Read `files` on up to `threads` threads: each thread gets a contiguous share of about equal
/// bytes and folds it into one `T` with `read`; the parts come back in file order, so a caller
/// that appends them in turn sees the runs in log order.
pub fn fan_out<T, F>(files: &[LogFile], threads: usize, read: F) -> Vec<T>
where
    T: Send,
    F: Fn(&[LogFile]) -> T + Sync,
{
    let sizes: Vec<u64> = files.iter().map(|f| f.len).collect();
    let shares = split_by_size(&sizes, threads);
    if shares.len() == 1 {
        return vec![read(files)];
    }
    let read = &read;
    std::thread::scope(|s| {
        let handles: Vec<_> = shares
            .into_iter()
            .map(|range| {
                let share = &files[range];
                s.spawn(move || read(share))
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    })
}

/// The diagnostic for a log that could not be opened or read.
pub(crate) fn unreadable(shown: &Path, e: &std::io::Error) -> Diagnostic {
    Diagnostic::error(shown, None, format!("cannot read run log: {e}"))
}

/// Read every run log under `runs_dir`, calling `visit` with each valid line and its
/// location; every invalid line becomes a diagnostic (torn last lines are warnings).
/// `display_root` is the prefix used for paths in diagnostics.
pub fn scan<F>(
    runs_dir: &Path,
    display_root: &Path,
    filter: &RunFilter,
    mut visit: F,
) -> Vec<Diagnostic>
where
    F: FnMut(&Path, usize, &str, Event),
{
    let mut diags = Vec::new();
    for log in logs(runs_dir, display_root, filter) {
        let shown = &log.shown;
        let read = log.open().and_then(|f| {
            scan_reader(
                std::io::BufReader::with_capacity(1 << 16, f),
                shown,
                &mut diags,
                |n, line, ev| {
                    let keep = match &ev {
                        Event::Run(r) => filter.matches(r),
                        Event::Rating(_) | Event::Eval(_) => true,
                    };
                    if keep {
                        visit(shown, n, line, ev);
                    }
                },
            )
        });
        if let Err(e) = read {
            diags.push(unreadable(shown, &e));
        }
    }
    diags
}

/// Like [`scan`] without the line texts, reading the files on up to `threads` threads; the
/// events come back in the order [`scan`] gives them.
pub fn scan_events(
    runs_dir: &Path,
    display_root: &Path,
    filter: &RunFilter,
    threads: usize,
) -> (Vec<Event>, Vec<Diagnostic>) {
    let files = logs(runs_dir, display_root, filter);
    let parts = fan_out(&files, threads, |share| {
        let mut events = Vec::new();
        let mut diags = Vec::new();
        for log in share {
            let read = log.open().and_then(|f| {
                scan_reader(
                    std::io::BufReader::with_capacity(1 << 16, f),
                    &log.shown,
                    &mut diags,
                    |_, _, ev| {
                        let keep = match &ev {
                            Event::Run(r) => filter.matches(r),
                            Event::Rating(_) | Event::Eval(_) => true,
                        };
                        if keep {
                            events.push(ev);
                        }
                    },
                )
            });
            if let Err(e) = read {
                diags.push(unreadable(&log.shown, &e));
            }
        }
        (events, diags)
    });
    let mut events = Vec::new();
    let mut diags = Vec::new();
    for (e, d) in parts {
        events.extend(e);
        diags.extend(d);
    }
    (events, diags)
}

/// Split files (by their sizes, in order) into up to `threads` contiguous ranges of about
/// equal bytes; logs under 1 MB stay on one thread (faster than starting another).
pub(crate) fn split_by_size(sizes: &[u64], threads: usize) -> Vec<std::ops::Range<usize>> {
    let total: u64 = sizes.iter().sum();
    let threads = if total < (1 << 20) {
        1
    } else {
        threads.clamp(1, sizes.len().max(1))
    };
    let mut ranges = Vec::new();
    let (mut start, mut acc) = (0, 0u64);
    for (i, s) in sizes.iter().enumerate() {
        acc += s;
        if ranges.len() + 1 < threads && acc * threads as u64 >= total * (ranges.len() as u64 + 1) {
            ranges.push(start..i + 1);
            start = i + 1;
        }
    }
    ranges.push(start..sizes.len());
    ranges
}

/// Parse the lines of one log file's bytes.
pub fn scan_bytes<F>(bytes: &[u8], shown: &Path, diags: &mut Vec<Diagnostic>, visit: F)
where
    F: FnMut(usize, &str, Event),
{
    // Reading from a slice cannot fail.
    let _ = scan_reader(bytes, shown, diags, visit);
}

/// Parse the lines of one log, streaming: memory holds one line at a time.
pub fn scan_reader<R, F>(
    reader: R,
    shown: &Path,
    diags: &mut Vec<Diagnostic>,
    visit: F,
) -> std::io::Result<()>
where
    R: std::io::BufRead,
    F: FnMut(usize, &str, Event),
{
    scan_reader_where(reader, shown, diags, |_| true, visit)
}

/// The valid lines of every log `filter` may hold that `keep` accepts by their raw bytes
/// (lines it refuses are neither parsed nor checked), with their events, in log order; read
/// on up to `threads` threads. For a reader that wants a few lines of many: `keep` must
/// accept every line that could be one of them.
pub fn scan_lines_where<K>(
    runs_dir: &Path,
    display_root: &Path,
    filter: &RunFilter,
    threads: usize,
    keep: K,
) -> Vec<(String, Event)>
where
    K: Fn(&[u8]) -> bool + Sync,
{
    let files = logs(runs_dir, display_root, filter);
    fan_out(&files, threads, |share| {
        let mut out = Vec::new();
        let mut diags = Vec::new();
        for log in share {
            let _ = log.open().and_then(|f| {
                scan_reader_where(
                    std::io::BufReader::with_capacity(1 << 16, f),
                    &log.shown,
                    &mut diags,
                    &keep,
                    |_, line, ev| {
                        let passes = match &ev {
                            Event::Run(r) => filter.matches(r),
                            Event::Rating(_) | Event::Eval(_) => true,
                        };
                        if passes {
                            out.push((line.to_string(), ev));
                        }
                    },
                )
            });
        }
        out
    })
    .into_iter()
    .flatten()
    .collect()
}

/// Call `visit` with each line of `log` that is not blank (see [`each_line`]).
pub(crate) fn for_each_line<F>(log: &LogFile, visit: F) -> std::io::Result<()>
where
    F: FnMut(usize, bool, &[u8]),
{
    each_line(
        std::io::BufReader::with_capacity(1 << 18, log.open()?),
        visit,
    )
}

/// Call `visit` with each line `reader` gives that is not blank: its number, whether it ended
/// with a line end, and its bytes without the line end (and without a byte order mark on
/// line 1). Streaming: memory holds one line at a time.
fn each_line<R, F>(mut reader: R, mut visit: F) -> std::io::Result<()>
where
    R: std::io::BufRead,
    F: FnMut(usize, bool, &[u8]),
{
    let mut buf = Vec::new();
    let mut line_no = 0;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            return Ok(());
        }
        line_no += 1;
        let complete = buf.last() == Some(&b'\n');
        let raw = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        // A byte order mark before the first line is not part of it.
        let raw = if line_no == 1 {
            raw.strip_prefix(BOM).unwrap_or(raw)
        } else {
            raw
        };
        if !raw.iter().all(u8::is_ascii_whitespace) {
            visit(line_no, complete, raw);
        }
    }
}

/// [`scan_reader`] for the lines `keep` accepts by their raw bytes.
fn scan_reader_where<R, K, F>(
    reader: R,
    shown: &Path,
    diags: &mut Vec<Diagnostic>,
    keep: K,
    mut visit: F,
) -> std::io::Result<()>
where
    R: std::io::BufRead,
    K: Fn(&[u8]) -> bool,
    F: FnMut(usize, &str, Event),
{
    each_line(reader, |line_no, complete, raw| {
        if !keep(raw) {
            return;
        }
        // simdutf8 checks valid lines fast; std says where an invalid one goes wrong.
        let text = match simdutf8::basic::from_utf8(raw).or_else(|_| std::str::from_utf8(raw)) {
            Ok(t) => t,
            Err(e) => {
                diags.push(utf8_diagnostic(shown, line_no, complete, e));
                return;
            }
        };
        match parse_event(text) {
            Ok(ev) => visit(line_no, text, ev),
            Err(e) => diags.push(line_diagnostic(shown, line_no, complete, e)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_last_line_is_a_warning_and_crlf_is_accepted() {
        let ok = r#"{"id":"a","ts":"2026-11-02T10:15:30Z","prompt":"p","version":"1.0","success":true,"execution_time_ms":1}"#;
        let data = format!("{ok}\r\n\n{{\"id\":\"b\",\"ts\"");
        let mut diags = Vec::new();
        let mut seen = Vec::new();
        scan_bytes(
            data.as_bytes(),
            Path::new("runs/p/x.jsonl"),
            &mut diags,
            |n, _, ev| seen.push((n, ev)),
        );
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].0, 1);
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].severity, crate::Severity::Warning);
        assert_eq!(diags[0].line, Some(3));
        assert!(
            diags[0].message.starts_with("incomplete last line"),
            "{}",
            diags[0]
        );
    }

    #[test]
    fn a_torn_line_stays_a_warning_after_later_appends() {
        let ok = r#"{"id":"a","ts":"2026-11-02T10:15:30Z","prompt":"p","version":"1.0","success":true,"execution_time_ms":1}"#;
        let data = format!("{{\"id\":\"b\",\"ts\"\n{ok}\n{{\"id\": 1 2}}\n");
        let mut diags = Vec::new();
        let mut seen = 0;
        scan_bytes(
            data.as_bytes(),
            Path::new("runs/p/x.jsonl"),
            &mut diags,
            |_, _, _| seen += 1,
        );
        assert_eq!(seen, 1);
        let kinds: Vec<(Option<usize>, crate::Severity)> =
            diags.iter().map(|d| (d.line, d.severity)).collect();
        assert_eq!(
            kinds,
            [
                (Some(1), crate::Severity::Warning),
                (Some(3), crate::Severity::Error)
            ]
        );
        assert!(
            diags[0].message.starts_with("incomplete line, skipped"),
            "{}",
            diags[0]
        );
    }

    #[test]
    fn a_byte_order_mark_before_the_first_line_is_skipped() {
        let ok = r#"{"id":"a","ts":"2026-11-02T10:15:30Z","prompt":"p","version":"1.0","success":true,"execution_time_ms":1}"#;
        let data = format!("\u{feff}{ok}\n\u{feff}{}\n", ok.replace("\"a\"", "\"b\""));
        let mut diags = Vec::new();
        let mut seen = Vec::new();
        scan_bytes(
            data.as_bytes(),
            Path::new("runs/p/x.jsonl"),
            &mut diags,
            |n, _, _| seen.push(n),
        );
        // Only at the start of the file: one later in it is a bad line.
        assert_eq!(seen, [1]);
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].line, Some(2));
        assert_eq!(diags[0].severity, crate::Severity::Error);
    }

    #[test]
    fn a_line_cut_inside_a_character_is_incomplete_not_an_error() {
        let line = "{\"id\":\"a\",\"output\":\"caf\u{e9}";
        let cut = &line.as_bytes()[..line.len() - 1];
        let mut data = cut.to_vec();
        let mut diags = Vec::new();
        scan_bytes(&data, Path::new("runs/p/x.jsonl"), &mut diags, |_, _, _| {});
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].severity, crate::Severity::Warning, "{}", diags[0]);
        assert!(
            diags[0]
                .message
                .starts_with("incomplete last line (it may still be being written)"),
            "{}",
            diags[0]
        );
        // Followed by a later append, it is still incomplete, not an error.
        data.extend_from_slice(b"\n{}\n");
        diags.clear();
        scan_bytes(&data, Path::new("runs/p/x.jsonl"), &mut diags, |_, _, _| {});
        assert_eq!(diags[0].severity, crate::Severity::Warning, "{}", diags[0]);
        assert!(diags[0].message.starts_with("incomplete line, skipped"));
        // A bad byte inside a line stays an error.
        diags.clear();
        scan_bytes(
            b"{\"id\":\"\xff\"}\n",
            Path::new("runs/p/x.jsonl"),
            &mut diags,
            |_, _, _| {},
        );
        assert_eq!(diags[0].severity, crate::Severity::Error);
    }
}
