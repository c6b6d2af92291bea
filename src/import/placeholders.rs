//! Python `str.format` templates turned into Jinja: `{task_context}` becomes
//! `{{ task_context }}`, `{{`/`}}` (a literal brace in `str.format`) become a literal brace,
//! and a literal brace that Jinja would read as the start of a tag is escaped.

/// One change made to a template, for the import's notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversion {
    /// What was written, e.g. `{task_context}`.
    pub from: String,
    /// What it became, e.g. `{{ task_context }}`.
    pub to: String,
}

/// A converted template: the Jinja text, the variables it uses (in order of first use) and
/// each distinct change made.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Converted {
    /// The Jinja template.
    pub text: String,
    /// Variable names, in order of first use.
    pub variables: Vec<String>,
    /// Distinct changes, in order of first occurrence.
    pub conversions: Vec<Conversion>,
}

/// Convert a `str.format` template to Jinja.
///
/// A `{…}` that is not a field (`{"a": 1}` in a JSON example) is kept as literal text, as a
/// person would mean it. Positional fields (`{}`, `{0}`) become `arg0`, `arg1`, …; a
/// conversion or format spec (`{x!r}`, `{n:.2f}`) is dropped, and the note says so.
pub fn convert(src: &str) -> Converted {
    let mut out = Converted::default();
    // Literal text of the output so far is pushed with `literal`, which escapes what Jinja
    // would otherwise read as `{{`, `{%` or `{#`.
    let mut lit = String::new();
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut positional = 0usize;
    let note = |out: &mut Converted, from: String, to: String| {
        if !out.conversions.iter().any(|c| c.from == from) {
            out.conversions.push(Conversion { from, to });
        }
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '{' && chars.get(i + 1) == Some(&'{') {
            lit.push('{');
            note(&mut out, "{{".into(), "{ (a literal brace)".into());
            i += 2;
            continue;
        }
        if c == '}' && chars.get(i + 1) == Some(&'}') {
            lit.push('}');
            note(&mut out, "}}".into(), "} (a literal brace)".into());
            i += 2;
            continue;
        }
        if c == '{'
            && let Some(end) = chars[i + 1..].iter().position(|&c| c == '}' || c == '{')
            && chars[i + 1 + end] == '}'
        {
            let inner: String = chars[i + 1..i + 1 + end].iter().collect();
            if let Some((name, dropped)) = field(&inner, &mut positional) {
                flush(&mut out.text, &mut lit);
                let to = format!("{{{{ {name} }}}}");
                out.text.push_str(&to);
                let root = name.split(['.', '[']).next().unwrap_or(&name).to_string();
                if !out.variables.contains(&root) {
                    out.variables.push(root);
                }
                let to_note = if dropped.is_empty() {
                    to
                } else {
                    format!("{to} (`{dropped}` dropped: Jinja formats with filters)")
                };
                note(&mut out, format!("{{{inner}}}"), to_note);
                i += end + 2;
                continue;
            }
        }
        lit.push(c);
        i += 1;
    }
    flush(&mut out.text, &mut lit);
    out
}

/// The Jinja expression of a `str.format` field (`name`, `a.b`, `a[0]`, positional), and the
/// conversion or format spec dropped from it; None when the text is not a field.
fn field(inner: &str, positional: &mut usize) -> Option<(String, String)> {
    let cut = inner.find(['!', ':']).unwrap_or(inner.len());
    let (name, dropped) = (inner[..cut].trim(), &inner[cut..]);
    if name.is_empty() || name.bytes().all(|b| b.is_ascii_digit()) {
        // `{}` and `{0}`: only when the whole field is that (a `{ }` in prose is not one).
        if !inner[..cut].is_empty() && name.is_empty() {
            return None;
        }
        let n = if name.is_empty() {
            let n = *positional;
            *positional += 1;
            n
        } else {
            name.parse().ok()?
        };
        return Some((format!("arg{n}"), dropped.to_string()));
    }
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let rest_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'));
    (first_ok && rest_ok && name.matches('[').count() == name.matches(']').count())
        .then(|| (name.to_string(), dropped.to_string()))
}

/// Append literal text to a Jinja template, escaping each `{` that would open a tag.
fn flush(out: &mut String, lit: &mut String) {
    let chars: Vec<char> = lit.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        // The next character of the output: the literal's, or a field's `{` after it.
        let next = chars.get(i + 1).copied();
        if c == '{' && matches!(next, Some('{' | '%' | '#') | None) {
            out.push_str("{{ '{' }}");
        } else {
            out.push(c);
        }
    }
    lit.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(s: &str) -> (String, Vec<String>, Vec<String>) {
        let c = convert(s);
        (
            c.text,
            c.variables,
            c.conversions
                .into_iter()
                .map(|c| format!("{} → {}", c.from, c.to))
                .collect(),
        )
    }

    #[test]
    fn fields_become_jinja_variables() {
        assert_eq!(
            conv("Context: {task_context}\nUser {user.name} said {items[0]}; again {task_context}."),
            (
                "Context: {{ task_context }}\nUser {{ user.name }} said {{ items[0] }}; again {{ task_context }}.".to_string(),
                vec!["task_context".into(), "user".into(), "items".into()],
                vec![
                    "{task_context} → {{ task_context }}".into(),
                    "{user.name} → {{ user.name }}".into(),
                    "{items[0]} → {{ items[0] }}".into(),
                ]
            )
        );
    }

    #[test]
    fn literal_braces_stay_literal_and_are_escaped_where_jinja_needs_it() {
        let (text, vars, notes) = conv("Answer as JSON: {{\"a\": {n}}} or {{% x %}} {{{{y}}}}");
        assert_eq!(
            text,
            "Answer as JSON: {\"a\": {{ n }}} or {{ '{' }}% x %} {{ '{' }}{y}}"
        );
        assert_eq!(vars, ["n"]);
        assert_eq!(
            notes,
            [
                "{{ → { (a literal brace)",
                "{n} → {{ n }}",
                "}} → } (a literal brace)"
            ]
        );
        // A brace that is not a field is text, as written.
        assert_eq!(conv("use {\"k\": 1} and { }").0, "use {\"k\": 1} and { }");
        // A lone `{` at the end would be read as text by Jinja too, but escape it anyway.
        assert_eq!(conv("a {").0, "a {{ '{' }}");
    }

    #[test]
    fn positional_fields_and_specs() {
        let (text, vars, notes) = conv("{} and {} then {0} and {score:.2f} {x!r}");
        assert_eq!(
            text,
            "{{ arg0 }} and {{ arg1 }} then {{ arg0 }} and {{ score }} {{ x }}"
        );
        assert_eq!(vars, ["arg0", "arg1", "score", "x"]);
        assert_eq!(
            notes,
            [
                "{} → {{ arg0 }}",
                "{0} → {{ arg0 }}",
                "{score:.2f} → {{ score }} (`:.2f` dropped: Jinja formats with filters)",
                "{x!r} → {{ x }} (`!r` dropped: Jinja formats with filters)",
            ]
        );
    }

    #[test]
    fn the_converted_text_renders_as_intended() {
        let c = convert("JSON {{\"a\": \"{v}\"}} {{% raw %}} {{{{ }}}}");
        let env = minijinja::Environment::new();
        let out = env
            .render_str(&c.text, minijinja::context! { v => "x" })
            .expect("renders");
        assert_eq!(out, "JSON {\"a\": \"x\"} {% raw %} {{ }}");
    }
}
