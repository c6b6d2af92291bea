//! Write the JSON Schema of every command's `--json` output to `docs/json/<command>.schema.json`.
//!
//! Run from the repository root after changing a model: `cargo run --example json-schemas`.

use std::path::Path;

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json");
    std::fs::create_dir_all(&dir)?;
    for (name, schema) in ptrack::schema::command_schemas() {
        let path = dir.join(format!("{name}.schema.json"));
        std::fs::write(&path, ptrack::schema::to_file_text(&schema))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
