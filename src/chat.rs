//! Chat prompts: a version's text split into role messages (system, user, assistant).
//!
//! The syntax is Prompty's: a line holding only a role and a colon (`system:`, `user:`,
//! `assistant:`; any case, an optional `#` in front so a Markdown heading works too) starts a
//! message that runs to the next such line. A text is a chat prompt only when its first
//! non-blank line is a role line; any other text is one plain prompt, so a `user:` line in the
//! middle of a plain prompt stays text (and `check` warns about it). Each message is rendered
//! on its own, so a variable's value can never open a new message.

use serde::Serialize;

use crate::diagnostic::Diagnostic;

/// Who a message is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions to the model.
    System,
    /// What the user says.
    User,
    /// What the model said (a few-shot example turn).
    Assistant,
}

impl Role {
    /// Every role, as written.
    pub const ALL: [Role; 3] = [Role::System, Role::User, Role::Assistant];

    /// The name used in files and request bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }

    /// The role named `s` (any case), if it is one.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One message of a chat prompt, before rendering.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MessageTemplate {
    /// Who it is from.
    pub role: Role,
    /// Its template text (blank lines around it trimmed).
    pub text: String,
    /// 1-based line in the file where the text starts.
    pub line: usize,
}

/// One rendered message, as request bodies carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Message {
    /// Who it is from.
    pub role: Role,
    /// The text.
    pub content: String,
}

/// Names other tools give roles; a line with one of these alone is probably a mistyped role.
const FOREIGN_ROLES: &[&str] = &[
    "developer",
    "tool",
    "function",
    "human",
    "ai",
    "model",
    "bot",
];

/// The word of a line shaped like a role line (`word:` alone, optional `#`), if it is one.
fn role_word(line: &str) -> Option<&str> {
    let t = line.trim();
    let t = t.strip_prefix('#').map_or(t, |r| r.trim_start_matches('#'));
    let word = t.strip_suffix(':')?.trim();
    (!word.is_empty() && word.bytes().all(|b| b.is_ascii_alphabetic())).then_some(word)
}

/// The role a line starts, when it is a role line.
pub fn role_line(line: &str) -> Option<Role> {
    role_word(line).and_then(Role::parse)
}

/// Split `text` (which starts on file line `first_line`) into messages. Returns `None` for a
/// plain text, and the diagnostics about role lines for `path` either way: an empty message is
/// an error; a role line in a plain text, or a line naming another tool's role, a warning.
pub fn split(
    path: &std::path::Path,
    text: &str,
    first_line: usize,
) -> (Option<Vec<MessageTemplate>>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let first_solid = text.lines().find(|l| !l.trim().is_empty());
    if first_solid.and_then(role_line).is_none() {
        for (i, line) in text.lines().enumerate() {
            if let Some(role) = role_line(line) {
                diags.push(
                    Diagnostic::warning(
                        path,
                        Some(first_line + i),
                        format!("`{}` looks like a role line, but the text does not start with one, so it is one plain prompt and this line is sent as text; start the text with a role line (`system:` or `user:`) to make it a chat prompt", line.trim()),
                    )
                    .with_field(format!("messages.{role}")),
                );
                break;
            }
        }
        return (None, diags);
    }
    // (role, file line of the role line, text lines)
    let mut parts: Vec<(Role, usize, Vec<&str>)> = Vec::new();
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let no = first_line + i;
        if let Some(role) = role_line(line) {
            parts.push((role, no, Vec::new()));
            continue;
        }
        if let Some(word) = role_word(line)
            && FOREIGN_ROLES.contains(&word.to_ascii_lowercase().as_str())
        {
            diags.push(
                Diagnostic::warning(
                    path,
                    Some(no),
                    format!("unknown role `{word}`: the roles are system, user and assistant; this line is sent as text of the message above"),
                )
                .with_field("messages"),
            );
        }
        if let Some(last) = parts.last_mut() {
            last.2.push(line);
        }
    }
    let mut out = Vec::new();
    for (n, (role, no, lines)) in parts.into_iter().enumerate() {
        let lead = lines.iter().take_while(|l| l.trim().is_empty()).count();
        let trail = lines[lead..]
            .iter()
            .rev()
            .take_while(|l| l.trim().is_empty())
            .count();
        let body: String = lines[lead..lines.len() - trail].concat();
        let body = body.trim_end_matches(['\n', '\r']).to_string();
        if body.trim().is_empty() {
            diags.push(
                Diagnostic::error(
                    path,
                    Some(no),
                    format!(
                        "message {} ({role}) is empty: write its text under the `{role}:` line or remove the line",
                        n + 1
                    ),
                )
                .with_field("messages"),
            );
        }
        out.push(MessageTemplate {
            role,
            text: body,
            line: no + 1 + lead,
        });
    }
    diags.sort_by_key(|d| d.line);
    (Some(out), diags)
}

/// Messages written back as a chat text, the form [`split`] reads.
pub fn to_text(messages: &[Message]) -> String {
    let mut out = String::new();
    for (i, m) in messages.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(m.role.as_str());
        out.push_str(":\n");
        out.push_str(&m.content);
        if !m.content.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    type Parts = Vec<(Role, String, usize)>;

    fn parts(text: &str) -> (Option<Parts>, Vec<String>) {
        let (m, d) = split(Path::new("p.md"), text, 5);
        (
            m.map(|m| m.into_iter().map(|m| (m.role, m.text, m.line)).collect()),
            d.iter().map(ToString::to_string).collect(),
        )
    }

    #[test]
    fn role_lines_split_a_chat_text() {
        let (m, d) = parts(
            "\nsystem:\nYou are terse.\n\n# User:\nHi {{ who }}\n\nassistant:\nHello.\nuser:\nAgain\n",
        );
        assert_eq!(d, Vec::<String>::new());
        assert_eq!(
            m.expect("chat"),
            [
                (Role::System, "You are terse.".to_string(), 7),
                (Role::User, "Hi {{ who }}".to_string(), 10),
                (Role::Assistant, "Hello.".to_string(), 13),
                (Role::User, "Again".to_string(), 15),
            ]
        );
    }

    #[test]
    fn a_plain_text_stays_whole_and_a_late_role_line_is_a_warning() {
        let (m, d) = parts("Summarize this.\nuser:\nkeep\n");
        assert!(m.is_none());
        assert_eq!(d.len(), 1);
        assert!(
            d[0].starts_with("p.md:6: warning: `user:` looks like a role line"),
            "{d:?}"
        );
        // Words with colons inside text are not role lines.
        let (m, d) = parts("Rules: be kind.\nUser: Ada\nNote:\n");
        assert!(m.is_none());
        assert_eq!(d, Vec::<String>::new());
    }

    #[test]
    fn empty_messages_are_errors_and_foreign_roles_warnings() {
        let (m, d) = parts("system:\n\nuser:\nHi\ntool:\nx\n");
        assert_eq!(m.map(|m| m.len()), Some(2));
        assert_eq!(
            d,
            [
                "p.md:5: message 1 (system) is empty: write its text under the `system:` line or remove the line",
                "p.md:9: warning: unknown role `tool`: the roles are system, user and assistant; this line is sent as text of the message above",
            ]
        );
    }

    #[test]
    fn to_text_is_read_back_by_split() {
        let msgs = vec![
            Message {
                role: Role::System,
                content: "Be brief.".into(),
            },
            Message {
                role: Role::User,
                content: "Hi\nthere\n".into(),
            },
        ];
        let text = to_text(&msgs);
        assert_eq!(text, "system:\nBe brief.\n\nuser:\nHi\nthere\n");
        let (m, _) = split(Path::new("p.md"), &text, 1);
        let back: Vec<(Role, String)> = m
            .expect("chat")
            .into_iter()
            .map(|m| (m.role, m.text))
            .collect();
        assert_eq!(
            back,
            [
                (Role::System, "Be brief.".to_string()),
                (Role::User, "Hi\nthere".to_string())
            ]
        );
    }
}
