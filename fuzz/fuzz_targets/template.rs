//! A prompt's text as a template: its messages, the variables it uses, `check`'s template
//! warnings and a render (with fuel and an output limit). Any text gives a result or an error, never a panic.
#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use ptrack::prompt::{PromptMeta, PromptVersion, SourceFormat, Variable};
use ptrack::render::{render, template_warnings, used_variables};
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut meta = PromptMeta::default();
    meta.variables.insert(
        "name".to_string(),
        Variable {
            description: None,
            default: Some("there".to_string()),
        },
    );
    // A text that starts with a role line is a chat prompt: its messages render one by one.
    let path = PathBuf::from("prompts/p/1.0.md");
    let (messages, _) = ptrack::chat::split(&path, text, 3);
    let v = PromptVersion {
        name: "p".to_string(),
        version: ptrack::Version::first(),
        path,
        format: SourceFormat::MarkdownYaml,
        meta,
        text: text.to_string(),
        text_line: 3,
        blob_sha: String::new(),
        messages: messages.unwrap_or_default(),
        embedded_cases: Vec::new(),
    };
    let _ = used_variables(&v);
    let _ = template_warnings(&v);
    let mut vars = Map::new();
    vars.insert("text".to_string(), Value::String("a text".to_string()));
    vars.insert("items".to_string(), serde_json::json!([1, "two", {"k": 3}]));
    let _ = render(&v, &vars);
});
