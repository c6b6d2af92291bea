//! Small projects for the query models' unit tests.

use crate::project::Project;

/// A run line of format version 1.
pub fn run_line(
    id: &str,
    prompt: &str,
    version: &str,
    ts: &str,
    ms: f64,
    success: bool,
    quality: Option<f64>,
) -> String {
    let mut v = serde_json::json!({
        "id": id, "ts": ts, "prompt": prompt, "version": version,
        "execution_time_ms": ms, "token_count": 10, "output": "out", "success": success,
    });
    if let Some(q) = quality {
        v["quality_score"] = serde_json::json!(q);
    }
    v.to_string()
}

/// A project in a temporary folder: prompts `names`, each with versions 1.0 and 1.1, and
/// `lines` in each run's prompt folder (`runs/<prompt>/2026-11.jsonl`).
pub fn project_with_runs(names: &[&str], lines: &[String]) -> (tempfile::TempDir, Project) {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in names {
        for (v, goal) in [("1.0", "Say hi."), ("1.1", "Say hello.")] {
            let p = dir.path().join(format!("prompts/{name}/{v}.md"));
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(
                p,
                format!("---\ngoal: {goal}\nmodel: m\n---\n{goal} {{{{ who }}}}\n"),
            )
            .expect("write");
        }
    }
    for line in lines {
        // A line that is not JSON (a torn write, say) goes to the first prompt's log.
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        let prompt = v["prompt"].as_str().unwrap_or(names[0]);
        let p = dir.path().join(format!("runs/{prompt}/2026-11.jsonl"));
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        let mut text = std::fs::read_to_string(&p).unwrap_or_default();
        text.push_str(line);
        text.push('\n');
        std::fs::write(p, text).expect("write");
    }
    let project = Project::open(dir.path()).expect("open");
    (dir, project)
}
