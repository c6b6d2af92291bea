//! Build script: the version `ptrack --version` prints, with the git commit it was built from
//! when the source is a git checkout (`0.1.0 (a1b2c3d4e)`) or a package made from one (cargo
//! writes the commit into `.cargo_vcs_info.json`), else the crate version alone.

use std::path::Path;
use std::process::Command;

fn main() {
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    // Only this folder's own repository counts: an unpacked package inside some other
    // checkout must not take that checkout's commit.
    let commit = if let Ok(info) = std::fs::read_to_string(".cargo_vcs_info.json") {
        packaged_commit(&info)
    } else if Path::new(".git").exists() {
        Command::new("git")
            .args(["rev-parse", "--short=9", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|c| !c.is_empty())
    } else {
        None
    };
    let long = match commit {
        Some(c) => format!("{version} ({c})"),
        None => version,
    };
    println!("cargo:rustc-env=PTRACK_VERSION_LONG={long}");
    // Build again when HEAD moves: a checkout, or a commit on the current branch.
    let git = Path::new(".git");
    if git.is_dir() {
        println!("cargo:rerun-if-changed=.git/HEAD");
        if let Ok(head) = std::fs::read_to_string(git.join("HEAD"))
            && let Some(r) = head.trim().strip_prefix("ref: ")
        {
            println!("cargo:rerun-if-changed=.git/{r}");
        }
        println!("cargo:rerun-if-changed=.git/packed-refs");
    }
    println!("cargo:rerun-if-changed=build.rs");
}

/// The commit in `.cargo_vcs_info.json` (`{"git": {"sha1": "…"}, …}`), shortened.
fn packaged_commit(info: &str) -> Option<String> {
    let rest = &info[info.find("\"sha1\"")? + 6..];
    let start = rest.find('"')? + 1;
    let sha: String = rest[start..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    (sha.len() >= 9).then(|| sha[..9].to_string())
}
