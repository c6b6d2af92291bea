//! A `.md` prompt version: front matter (YAML between `---` lines, TOML between `+++` lines)
//! and the text. Any bytes give a version or diagnostics, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use ptrack::prompt::parse_prompt_file;

const PATH: &str = "prompts/p/1.0.md";

fuzz_target!(|data: &[u8]| {
    let out = parse_prompt_file(Path::new(PATH), "p", &ptrack::Version::first(), data);
    // A usable version comes with no error; every diagnostic names the file and a line in it
    // (or the line just past its end, where a missing text would start).
    let lines = data.split(|&b| b == b'\n').count() + 1;
    if out.version.is_some() {
        assert!(!out.diagnostics.iter().any(ptrack::Diagnostic::is_error));
    }
    for d in &out.diagnostics {
        assert_eq!(d.path, Path::new(PATH));
        if let Some(line) = d.line {
            assert!((1..=lines).contains(&line), "line {line} of {lines}: {d:?}");
        }
    }
});
