//! Git facts ptrack attaches to runs: which commit holds the exact version file that ran.

use std::path::Path;

/// The id of HEAD when the file at `path` (relative to the project `root`) is committed at
/// HEAD with blob id `blob_sha`, i.e. the committed file is exactly what ran; else None
/// (not in git, no commits, file uncommitted or edited since).
pub fn head_commit_if_unchanged(root: &Path, path: &Path, blob_sha: &str) -> Option<String> {
    let repo = git2::Repository::discover(root).ok()?;
    let workdir = repo.workdir()?;
    let abs_root = std::fs::canonicalize(root).ok()?;
    let abs_workdir = std::fs::canonicalize(workdir).ok()?;
    let in_repo = abs_root.strip_prefix(&abs_workdir).ok()?.join(path);
    let head = repo.head().ok()?.peel_to_commit().ok()?;
    let entry = head.tree().ok()?.get_path(&in_repo).ok()?;
    (entry.id().to_string() == blob_sha).then(|| head.id().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_only_when_the_committed_blob_matches() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = git2::Repository::init(dir.path()).expect("init");
        let rel = Path::new("prompts/p/1.0.md");
        std::fs::create_dir_all(dir.path().join("prompts/p")).expect("mkdir");
        std::fs::write(dir.path().join(rel), "v1\n").expect("write");
        let sha = crate::blob_sha(b"v1\n");
        assert_eq!(
            head_commit_if_unchanged(dir.path(), rel, &sha),
            None,
            "no commits yet"
        );
        let mut index = repo.index().expect("index");
        index.add_path(rel).expect("add");
        let tree = repo
            .find_tree(index.write_tree().expect("tree"))
            .expect("tree");
        let sig = git2::Signature::now("t", "t@example.com").expect("sig");
        let commit = repo
            .commit(Some("HEAD"), &sig, &sig, "add", &tree, &[])
            .expect("commit");
        assert_eq!(
            head_commit_if_unchanged(dir.path(), rel, &sha),
            Some(commit.to_string())
        );
        assert_eq!(
            head_commit_if_unchanged(dir.path(), rel, &crate::blob_sha(b"v2\n")),
            None,
            "edited since"
        );
    }
}
