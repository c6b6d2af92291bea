//! What changed between two prompt versions: parameters as a table of changes, the text as a
//! unified diff (made with `similar`).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::prompt::PromptVersion;

/// One front matter key that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ParamChange {
    /// The key, e.g. `temperature`.
    pub key: String,
    /// Its value before, as written in JSON (None when added).
    pub old: Option<Value>,
    /// Its value after (None when removed).
    pub new: Option<Value>,
}

impl ParamChange {
    /// `temperature 0.7 → 0.5`, `top_k (added) 40`, `tags [..] → (removed)`.
    pub fn describe(&self) -> String {
        format!(
            "{} {} → {}",
            self.key,
            show(self.old.as_ref()),
            show(self.new.as_ref())
        )
    }
}

/// A value as a reader sees it: strings without quotes, `(none)` when absent.
pub fn show(v: Option<&Value>) -> String {
    match v {
        None => "(none)".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The difference between two versions (or two revisions of one version).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct VersionDiff {
    /// What the old side is, e.g. `coaching_system 1.0` or `coaching_system 1.1@HEAD~2`.
    pub from: String,
    /// What the new side is.
    pub to: String,
    /// Changed, added and removed front matter keys, by key.
    pub params: Vec<ParamChange>,
    /// Lines added to the text.
    pub lines_added: usize,
    /// Lines removed from the text.
    pub lines_removed: usize,
    /// The text diff in unified format (empty when the text is the same).
    pub unified: String,
    /// Which messages changed, when either side is a chat prompt (a plain text counts as one
    /// user message); messages are matched by position.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<MessageChange>,
}

/// How one message of a chat prompt changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MessageChange {
    /// 1-based position of the message.
    pub index: usize,
    /// Its role before (None when added).
    pub old_role: Option<crate::chat::Role>,
    /// Its role after (None when removed).
    pub new_role: Option<crate::chat::Role>,
    /// Lines added to its text.
    pub lines_added: usize,
    /// Lines removed from its text.
    pub lines_removed: usize,
}

impl MessageChange {
    /// `message 2 (user): +1 −1 lines`, `message 3 (assistant): added`.
    pub fn describe(&self) -> String {
        let role = match (self.old_role, self.new_role) {
            (Some(a), Some(b)) if a != b => format!("{a} → {b}"),
            (_, Some(r)) | (Some(r), None) => r.to_string(),
            (None, None) => String::new(),
        };
        let what = match (self.old_role, self.new_role) {
            (None, _) => "added".to_string(),
            (_, None) => "removed".to_string(),
            _ => format!("+{} −{} lines", self.lines_added, self.lines_removed),
        };
        format!("message {} ({role}): {what}", self.index)
    }
}

/// The messages of a version as (role, text): a plain text is one user message.
fn message_texts(v: &PromptVersion) -> Vec<(crate::chat::Role, &str)> {
    if v.messages.is_empty() {
        return vec![(crate::chat::Role::User, v.text.as_str())];
    }
    v.messages
        .iter()
        .map(|m| (m.role, m.text.as_str()))
        .collect()
}

/// The messages that differ between `a` and `b`, by position; empty when neither is a chat.
pub fn message_changes(a: &PromptVersion, b: &PromptVersion) -> Vec<MessageChange> {
    if !a.is_chat() && !b.is_chat() {
        return Vec::new();
    }
    let (old, new) = (message_texts(a), message_texts(b));
    let mut out = Vec::new();
    for i in 0..old.len().max(new.len()) {
        let (o, n) = (old.get(i), new.get(i));
        if o == n {
            continue;
        }
        let (mut added, mut removed) = (0, 0);
        let (ot, nt) = (o.map_or("", |o| o.1), n.map_or("", |n| n.1));
        for change in line_diff(ot, nt).iter_all_changes() {
            match change.tag() {
                similar::ChangeTag::Insert => added += 1,
                similar::ChangeTag::Delete => removed += 1,
                similar::ChangeTag::Equal => {}
            }
        }
        out.push(MessageChange {
            index: i + 1,
            old_role: o.map(|o| o.0),
            new_role: n.map(|n| n.0),
            lines_added: added,
            lines_removed: removed,
        });
    }
    out
}

/// The `diff --json` model: the prompt and what changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DiffModel {
    /// The prompt.
    pub prompt: String,
    /// What changed.
    #[serde(flatten)]
    pub diff: VersionDiff,
}

/// The front matter of a version as a flat key → value map, parameters inlined.
pub fn attributes(v: &PromptVersion) -> BTreeMap<String, Value> {
    let mut map = BTreeMap::new();
    let m = &v.meta;
    let mut put = |k: &str, val: Option<Value>| {
        if let Some(val) = val {
            map.insert(k.to_string(), val);
        }
    };
    put("goal", m.goal.clone().map(Value::String));
    put("model", m.model.clone().map(Value::String));
    put(
        "provider",
        m.provider.map(|p| Value::String(p.as_str().to_string())),
    );
    put("temperature", m.params.temperature.map(Value::from));
    put("token_limit", m.params.token_limit.map(Value::from));
    put("top_k", m.params.top_k.map(Value::from));
    put("top_p", m.params.top_p.map(Value::from));
    put(
        "created_at",
        m.created_at
            .map(|t| Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))),
    );
    put("description", m.description.clone().map(Value::String));
    if !m.tags.is_empty() {
        put("tags", Some(Value::from(m.tags.clone())));
    }
    if !m.variables.is_empty() {
        put("variables", serde_json::to_value(&m.variables).ok());
    }
    for (k, v) in &m.extra {
        put(k, Some(v.clone()));
    }
    map
}

/// Compare `a` (old) with `b` (new).
pub fn diff_versions(a: &PromptVersion, from: &str, b: &PromptVersion, to: &str) -> VersionDiff {
    let (old, new) = (attributes(a), attributes(b));
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    let params = keys
        .into_iter()
        .filter(|k| old.get(*k) != new.get(*k))
        .map(|k| ParamChange {
            key: k.clone(),
            old: old.get(k).cloned(),
            new: new.get(k).cloned(),
        })
        .collect();
    let text = line_diff(&a.text, &b.text);
    let (mut lines_added, mut lines_removed) = (0, 0);
    for change in text.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Insert => lines_added += 1,
            similar::ChangeTag::Delete => lines_removed += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    let unified = if lines_added + lines_removed == 0 {
        String::new()
    } else {
        text.unified_diff()
            .context_radius(3)
            .header(from, to)
            .to_string()
    };
    VersionDiff {
        from: from.to_string(),
        to: to.to_string(),
        params,
        lines_added,
        lines_removed,
        unified,
        messages: message_changes(a, b),
    }
}

/// The line diff of two texts, where only `\n` ends a line: a `\r`, U+2028 or any other line
/// break stays inside its line, so it can neither split a line nor be taken for a line end
/// that a terminal then rewrites.
pub fn line_diff<'a>(old: &'a str, new: &'a str) -> similar::TextDiff<'a, 'a, str> {
    let old: Vec<&str> = old.split_inclusive('\n').collect();
    let new: Vec<&str> = new.split_inclusive('\n').collect();
    similar::TextDiff::configure()
        .newline_terminated(true)
        .diff_slices(&old, &new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(text: &str) -> PromptVersion {
        crate::prompt::test_version("p", "1.0", text)
    }

    #[test]
    fn params_and_text_changes() {
        let a = version("---\ngoal: g\ntemperature: 0.7\ntop_k: 40\n---\nline one\nline two\n");
        let b = version("---\ngoal: g\ntemperature: 0.5\ntop_p: 0.9\n---\nline one\nline 2\n");
        let d = diff_versions(&a, "p 1.0", &b, "p 1.1");
        let described: Vec<String> = d.params.iter().map(ParamChange::describe).collect();
        assert_eq!(
            described,
            [
                "temperature 0.7 → 0.5",
                "top_k 40 → (none)",
                "top_p (none) → 0.9"
            ]
        );
        assert_eq!((d.lines_added, d.lines_removed), (1, 1));
        assert_eq!(
            d.unified,
            "--- p 1.0\n+++ p 1.1\n@@ -1,2 +1,2 @@\n line one\n-line two\n+line 2\n"
        );
    }

    #[test]
    fn only_a_newline_ends_a_line() {
        let a = version("---\ngoal: g\n---\nsame\nfake\rreal\u{2028}x\r\nend");
        let b = version("---\ngoal: g\n---\nsame\nfake\rREAL\u{2028}x\r\nend");
        let d = diff_versions(&a, "a", &b, "b");
        assert_eq!((d.lines_added, d.lines_removed), (1, 1));
        assert_eq!(
            d.unified,
            "--- a\n+++ b\n@@ -1,3 +1,3 @@\n same\n-fake\rreal\u{2028}x\r\n+fake\rREAL\u{2028}x\r\n end\n\\ No newline at end of file\n"
        );
    }

    #[test]
    fn a_chat_diff_names_the_messages_that_changed() {
        let a = version("---\ngoal: g\n---\nsystem:\nBe brief.\nuser:\nHi {{ who }}\n");
        let b = version(
            "---\ngoal: g\n---\nsystem:\nBe brief.\nuser:\nHello {{ who }}\nassistant:\nHi.\n",
        );
        let d = diff_versions(&a, "a", &b, "b");
        let described: Vec<String> = d.messages.iter().map(MessageChange::describe).collect();
        assert_eq!(
            described,
            [
                "message 2 (user): +1 −1 lines",
                "message 3 (assistant): added"
            ]
        );
        // A plain text against a chat: the plain text is one user message.
        let plain = version("---\ngoal: g\n---\nHi {{ who }}\n");
        let d = diff_versions(&plain, "a", &a, "b");
        let described: Vec<String> = d.messages.iter().map(MessageChange::describe).collect();
        assert_eq!(
            described,
            [
                "message 1 (user → system): +1 −1 lines",
                "message 2 (user): added"
            ]
        );
        assert!(diff_versions(&plain, "a", &plain, "b").messages.is_empty());
    }

    #[test]
    fn identical_versions_have_no_changes() {
        let a = version("---\ngoal: g\n---\ntext\n");
        let d = diff_versions(&a, "a", &a, "b");
        assert!(d.params.is_empty());
        assert!(d.unified.is_empty());
    }
}
