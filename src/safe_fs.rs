//! Reading and writing inside a project folder that may come from someone else's repository.
//!
//! A cloned project is untrusted input. Its files may be symbolic links to anywhere (a shell
//! rc file, `/dev/zero`), FIFOs that block a reader forever, or huge. The functions here:
//!
//! - only read regular files, never block on opening (a FIFO is opened non-blocking and then
//!   refused), and stop at a size limit;
//! - follow a symbolic link only when its target stays inside the project root;
//! - never write through a symbolic link as the last component, and create folders one by one,
//!   checking each one that already exists.
//!
//! Errors are [`std::io::Error`]s whose message says what is wrong with the path, so callers
//! keep reporting them as "cannot read PATH: MESSAGE".

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

/// The default size limit for a prompt file or `ptrack.toml`: 1 MiB.
pub const DEFAULT_FILE_LIMIT: u64 = 1 << 20;

/// Why a path was refused, as the inner error of an [`io::Error`] (see [`refusal`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A symbolic link on the path leads outside the project.
    #[error("`{}` is a symbolic link to {}, outside the project", link.display(), target.display())]
    LinkOutside {
        /// The link, relative to the project root.
        link: PathBuf,
        /// Where it leads (resolved), or the raw target when it cannot be resolved.
        target: PathBuf,
    },
    /// The last component is a symbolic link and is written to.
    #[error("`{}` is a symbolic link; ptrack does not write through links", link.display())]
    WriteThroughLink {
        /// The link, relative to the project root.
        link: PathBuf,
    },
    /// A symbolic link where ptrack follows none (the cache folder, which it deletes files in).
    #[error("`{}` is a symbolic link, which ptrack does not follow here", link.display())]
    Link {
        /// The link, relative to the project root.
        link: PathBuf,
    },
    /// The path names something that is not a regular file (a FIFO, a device, a socket, a folder).
    #[error("not a regular file (it is {kind})")]
    NotRegular {
        /// What it is instead: `a FIFO`, `a device`, `a folder`, …
        kind: &'static str,
    },
    /// A symbolic link where ptrack reads only regular files (a run log or its folder).
    #[error("it is a symbolic link to {}, which ptrack does not follow here", target.display())]
    LinkNotFollowed {
        /// Where the link points, as written in it.
        target: PathBuf,
    },
    /// The file is larger than the limit.
    #[error("the file is larger than {limit} bytes (the limit for {what})")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
        /// What the limit is for, e.g. "prompt files: `max_file_bytes` in ptrack.toml".
        what: &'static str,
    },
    /// The path is absolute or climbs out with `..`.
    #[error("`{}` is not a path inside the project", path.display())]
    NotRelative {
        /// The path.
        path: PathBuf,
    },
}

impl From<Refusal> for io::Error {
    fn from(r: Refusal) -> io::Error {
        let kind = match r {
            Refusal::TooLarge { .. } => io::ErrorKind::FileTooLarge,
            Refusal::NotRegular { .. } | Refusal::NotRelative { .. } => io::ErrorKind::InvalidInput,
            Refusal::LinkOutside { .. }
            | Refusal::WriteThroughLink { .. }
            | Refusal::Link { .. }
            | Refusal::LinkNotFollowed { .. } => io::ErrorKind::PermissionDenied,
        };
        io::Error::new(kind, r)
    }
}

/// The [`Refusal`] inside `e`, when `e` came from this module's checks.
pub fn refusal(e: &io::Error) -> Option<&Refusal> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Refusal>())
}

fn file_kind(ft: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO";
        }
        if ft.is_char_device() || ft.is_block_device() {
            return "a device";
        }
        if ft.is_socket() {
            return "a socket";
        }
    }
    if ft.is_dir() {
        "a folder"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else {
        "not a file"
    }
}

fn relative_parts(rel: &Path) -> io::Result<Vec<&std::ffi::OsStr>> {
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(p) => parts.push(p),
            Component::CurDir => {}
            _ => {
                return Err(Refusal::NotRelative {
                    path: rel.to_path_buf(),
                }
                .into());
            }
        }
    }
    Ok(parts)
}

/// Check every existing component of `root/rel`: a symbolic link must resolve inside `root`.
/// Components that do not exist yet are fine. Returns the joined path.
pub fn check_inside(root: &Path, rel: &Path) -> io::Result<PathBuf> {
    let parts = relative_parts(rel)?;
    let mut canon_root: Option<PathBuf> = None;
    let mut cur = root.to_path_buf();
    let mut shown = PathBuf::new();
    for part in parts {
        cur.push(part);
        shown.push(part);
        let meta = match std::fs::symlink_metadata(&cur) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(root.join(rel)),
            Err(e) => return Err(e),
        };
        if meta.file_type().is_symlink() {
            let canon_root = match &canon_root {
                Some(c) => c.clone(),
                None => {
                    let c = root.canonicalize()?;
                    canon_root = Some(c.clone());
                    c
                }
            };
            match cur.canonicalize() {
                Ok(target) if target.starts_with(&canon_root) => {}
                Ok(target) => {
                    return Err(Refusal::LinkOutside {
                        link: shown,
                        target,
                    }
                    .into());
                }
                Err(_) => {
                    // A dangling link: say where it points, and refuse it unless that stays inside.
                    let raw = std::fs::read_link(&cur).unwrap_or_default();
                    let inside = raw.is_relative()
                        && !raw.components().any(|c| matches!(c, Component::ParentDir));
                    if !inside {
                        return Err(Refusal::LinkOutside {
                            link: shown,
                            target: raw,
                        }
                        .into());
                    }
                }
            }
        }
    }
    Ok(root.join(rel))
}

/// Open a file for reading without blocking on a FIFO, and refuse anything but a regular file.
pub fn open_regular(path: &Path) -> io::Result<File> {
    open_read(path, false)
}

/// Like [`open_regular`], but the file must not be a symbolic link itself: a link is refused
/// with [`Refusal::LinkNotFollowed`], naming its target (run logs are read this way).
pub fn open_no_link(path: &Path) -> io::Result<File> {
    open_read(path, true)
}

fn open_read(path: &Path, no_link: bool) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let nofollow = if no_link { libc::O_NOFOLLOW } else { 0 };
        opts.custom_flags(libc::O_NONBLOCK | nofollow);
    }
    let link_refused = || Refusal::LinkNotFollowed {
        target: std::fs::read_link(path).unwrap_or_default(),
    };
    if no_link && std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(link_refused().into());
    }
    let file = match opts.open(path) {
        Ok(f) => f,
        #[cfg(unix)]
        Err(e) if no_link && e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(link_refused().into());
        }
        Err(e) => return Err(e),
    };
    let ft = file.metadata()?.file_type();
    if !ft.is_file() {
        return Err(Refusal::NotRegular {
            kind: file_kind(&ft),
        }
        .into());
    }
    clear_nonblock(&file);
    Ok(file)
}

/// Regular files ignore `O_NONBLOCK`, but clear it so the descriptor behaves as usual.
fn clear_nonblock(file: &File) {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let fd = file.as_raw_fd();
        // SAFETY: `fd` is a valid open descriptor owned by `file` for the duration of the calls.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
            }
        }
    }
    #[cfg(not(unix))]
    let _ = file;
}

/// Read at most `limit` bytes of the regular file at `path`; a larger file is refused.
pub fn read_limited(path: &Path, limit: u64, what: &'static str) -> io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    let mut buf = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(Refusal::TooLarge { limit, what }.into());
    }
    Ok(buf)
}

/// Read the regular file `root/rel`, following links only inside `root`, up to `limit` bytes.
pub fn read_inside(root: &Path, rel: &Path, limit: u64, what: &'static str) -> io::Result<Vec<u8>> {
    let path = check_inside(root, rel)?;
    read_limited(&path, limit, what)
}

/// Create the folder `root/rel` and its parents, refusing links that lead outside `root`.
/// With `no_links`, any symbolic link on the way is refused (for folders ptrack deletes in).
pub fn create_dirs_inside(root: &Path, rel: &Path, no_links: bool) -> io::Result<PathBuf> {
    let parts = relative_parts(rel)?;
    let mut cur = root.to_path_buf();
    let mut shown = PathBuf::new();
    for part in parts {
        cur.push(part);
        shown.push(part);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                if no_links {
                    return Err(Refusal::Link { link: shown }.into());
                }
                check_inside(root, &shown)?;
                if !cur.is_dir() {
                    return Err(io::Error::new(
                        io::ErrorKind::NotADirectory,
                        format!("`{}` is not a folder", shown.display()),
                    ));
                }
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!("`{}` is not a folder", shown.display()),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => match std::fs::create_dir(&cur) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && cur.is_dir() => {
                    // Another writer made it first; check it like an existing one.
                    if std::fs::symlink_metadata(&cur)?.file_type().is_symlink() {
                        check_inside(root, &shown)?;
                    }
                }
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        }
    }
    Ok(cur)
}

/// Open `root/rel` with `opts` after checking its folders, never following a link as the last
/// component, and refusing anything but a regular file. The folders are created when missing.
pub fn open_inside(root: &Path, rel: &Path, opts: &mut OpenOptions) -> io::Result<File> {
    let parent = rel.parent().unwrap_or(Path::new(""));
    create_dirs_inside(root, parent, false)?;
    let path = root.join(rel);
    if let Ok(m) = std::fs::symlink_metadata(&path)
        && m.file_type().is_symlink()
    {
        return Err(Refusal::WriteThroughLink {
            link: rel.to_path_buf(),
        }
        .into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = match opts.open(&path) {
        Ok(f) => f,
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(Refusal::WriteThroughLink {
                link: rel.to_path_buf(),
            }
            .into());
        }
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
            // A FIFO with no reader, opened for writing without blocking.
            return Err(Refusal::NotRegular { kind: "a FIFO" }.into());
        }
        Err(e) => return Err(e),
    };
    let ft = file.metadata()?.file_type();
    if !ft.is_file() {
        return Err(Refusal::NotRegular {
            kind: file_kind(&ft),
        }
        .into());
    }
    clear_nonblock(&file);
    Ok(file)
}

/// Open `root/rel` for appending (created when missing), as [`open_inside`] does.
pub fn open_append_inside(root: &Path, rel: &Path) -> io::Result<File> {
    open_inside(
        root,
        rel,
        OpenOptions::new().create(true).append(true).read(true),
    )
}

/// Create the new file `root/rel` (an error when it exists), as [`open_inside`] does.
pub fn create_new_inside(root: &Path, rel: &Path) -> io::Result<File> {
    open_inside(root, rel, OpenOptions::new().write(true).create_new(true))
}

/// Replace `root/rel` with `data` through a new file beside it and a rename, never writing
/// through a link (a linked file is refused).
pub fn replace_inside(root: &Path, rel: &Path, data: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let path = check_inside(root, rel)?;
    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(Refusal::WriteThroughLink {
            link: rel.to_path_buf(),
        }
        .into());
    }
    let tmp_rel = PathBuf::from(format!("{}.tmp{}", rel.display(), std::process::id()));
    let _ = std::fs::remove_file(root.join(&tmp_rel));
    let mut f = create_new_inside(root, &tmp_rel)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(root.join(&tmp_rel), &path).inspect_err(|_| {
        let _ = std::fs::remove_file(root.join(&tmp_rel));
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::symlink;

    fn mkfifo(p: &Path) {
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).expect("cstring");
        // SAFETY: `c` is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
    }

    #[test]
    fn reads_regular_files_and_links_that_stay_inside() {
        let d = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(d.path().join("a")).expect("mkdir");
        std::fs::write(d.path().join("a/f"), "hi").expect("write");
        symlink("a", d.path().join("b")).expect("link");
        symlink("f", d.path().join("a/g")).expect("link");
        let got = read_inside(d.path(), Path::new("b/g"), 10, "t").expect("read");
        assert_eq!(got, b"hi");
    }

    #[test]
    fn refuses_links_out_of_the_root_fifos_devices_and_big_files() {
        let outside = tempfile::tempdir().expect("tmp");
        std::fs::write(outside.path().join("secret"), "s").expect("write");
        let d = tempfile::tempdir().expect("tmp");
        symlink(outside.path().join("secret"), d.path().join("f")).expect("link");
        symlink(outside.path(), d.path().join("dir")).expect("link");
        symlink("/dev/zero", d.path().join("zero")).expect("link");
        let e = read_inside(d.path(), Path::new("f"), 10, "t").expect_err("outside");
        assert!(
            matches!(refusal(&e), Some(Refusal::LinkOutside { .. })),
            "{e}"
        );
        let e = read_inside(d.path(), Path::new("dir/secret"), 10, "t").expect_err("outside");
        assert!(
            matches!(refusal(&e), Some(Refusal::LinkOutside { link, .. }) if link == Path::new("dir")),
            "{e}"
        );
        let e = read_limited(&d.path().join("zero"), 10, "t").expect_err("device");
        assert_eq!(refusal(&e), Some(&Refusal::NotRegular { kind: "a device" }));
        mkfifo(&d.path().join("fifo"));
        let e = read_limited(&d.path().join("fifo"), 10, "t").expect_err("fifo");
        assert_eq!(refusal(&e), Some(&Refusal::NotRegular { kind: "a FIFO" }));
        std::fs::write(d.path().join("big"), "0123456789A").expect("write");
        let e = read_limited(&d.path().join("big"), 10, "t").expect_err("big");
        assert!(matches!(
            refusal(&e),
            Some(Refusal::TooLarge { limit: 10, .. })
        ));
        assert_eq!(
            read_limited(&d.path().join("big"), 11, "t")
                .expect("fits")
                .len(),
            11
        );
        let e = read_inside(d.path(), Path::new("../x"), 10, "t").expect_err("climbs");
        assert!(matches!(refusal(&e), Some(Refusal::NotRelative { .. })));
    }

    #[test]
    fn writes_never_go_through_links_or_into_fifos() {
        let outside = tempfile::tempdir().expect("tmp");
        std::fs::write(outside.path().join("rc"), "keep\n").expect("write");
        let d = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(d.path().join("runs/p")).expect("mkdir");
        symlink(
            outside.path().join("rc"),
            d.path().join("runs/p/2026-11.jsonl"),
        )
        .expect("link");
        let e = open_append_inside(d.path(), Path::new("runs/p/2026-11.jsonl")).expect_err("link");
        assert!(
            matches!(refusal(&e), Some(Refusal::WriteThroughLink { .. })),
            "{e}"
        );
        symlink(outside.path(), d.path().join("runs/q")).expect("link");
        let e = open_append_inside(d.path(), Path::new("runs/q/2026-11.jsonl")).expect_err("dir");
        assert!(
            matches!(refusal(&e), Some(Refusal::LinkOutside { .. })),
            "{e}"
        );
        mkfifo(&d.path().join("runs/p/fifo.jsonl"));
        let e = open_append_inside(d.path(), Path::new("runs/p/fifo.jsonl")).expect_err("fifo");
        assert_eq!(refusal(&e), Some(&Refusal::NotRegular { kind: "a FIFO" }));
        assert_eq!(
            std::fs::read_to_string(outside.path().join("rc")).expect("read"),
            "keep\n"
        );
        let mut f = open_append_inside(d.path(), Path::new("runs/new/2026-11.jsonl")).expect("new");
        f.write_all(b"x\n").expect("write");
        let e =
            create_dirs_inside(d.path(), Path::new("runs/q/cache"), true).expect_err("no links");
        assert!(matches!(refusal(&e), Some(Refusal::Link { .. })), "{e}");
        // A link inside the project is fine for folders unless links are ruled out.
        symlink("p", d.path().join("runs/alias")).expect("link");
        create_dirs_inside(d.path(), Path::new("runs/alias/sub"), false).expect("inside");
        assert!(d.path().join("runs/p/sub").is_dir());
        assert!(create_dirs_inside(d.path(), Path::new("runs/alias/sub2"), true).is_err());
    }
}
