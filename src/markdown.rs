//! Markdown pieces shared by every Markdown rendering (`report`, `diff --format markdown`):
//! code fences that no text can break, table cells, and a version diff.

use std::fmt::Write as _;

use crate::diff::{VersionDiff, show};

/// A fence longer than any run of backticks in `text` (at least three), so a code block can
/// hold any text, including a prompt with its own ```json blocks.
pub fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

/// `text` in a fenced code block with language `lang`, ending with a line end.
pub fn code_block(lang: &str, text: &str) -> String {
    let fence = fence_for(text);
    let nl = if text.ends_with('\n') || text.is_empty() {
        ""
    } else {
        "\n"
    };
    format!("{fence}{lang}\n{text}{nl}{fence}\n")
}

/// Text for one table cell: pipes escaped, line ends as spaces.
pub fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// A version diff: a heading, the parameter table, and the text diff in a code block
/// (inside a collapsed `<details>` when `collapsed`, as the report shows it).
pub fn version_diff(d: &VersionDiff, collapsed: bool) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "#### {} → {}\n", d.from, d.to);
    if !d.params.is_empty() {
        o.push_str("| parameter | before | after |\n|---|---|---|\n");
        for p in &d.params {
            let _ = writeln!(
                o,
                "| `{}` | {} | {} |",
                p.key,
                cell(&show(p.old.as_ref())),
                cell(&show(p.new.as_ref()))
            );
        }
        o.push('\n');
    }
    if !d.messages.is_empty() {
        o.push_str("Messages changed:\n\n");
        for m in &d.messages {
            let _ = writeln!(o, "- {}", m.describe());
        }
        o.push('\n');
    }
    if d.unified.is_empty() {
        o.push_str("Prompt text unchanged.\n");
        if collapsed {
            o.push('\n');
        }
    } else if collapsed {
        let _ = writeln!(
            o,
            "<details><summary>Prompt text: +{} −{} lines</summary>\n",
            d.lines_added, d.lines_removed
        );
        o.push_str(&code_block("diff", &d.unified));
        o.push_str("\n</details>\n\n");
    } else {
        o.push_str(&code_block("diff", &d.unified));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_outgrow_backticks_in_text() {
        assert_eq!(fence_for("a ``` b"), "````");
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(
            code_block("diff", "+```json\n+{}\n+```\n"),
            "````diff\n+```json\n+{}\n+```\n````\n"
        );
    }
}
