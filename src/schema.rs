//! JSON Schemas of the `--json` output, one per command (feature `schema`).
//!
//! Each command prints one [`Serialize`](serde::Serialize) model; its schema is derived from
//! the same type, field docs included, so it cannot drift from what is printed. The schemas
//! are committed under `docs/json/<command>.schema.json`
//! (`cargo run --example json-schemas` writes them; a test fails when they are stale).

mod input;
pub use input::file_schemas;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};

/// Every command with `--json` output and its schema (JSON Schema draft 2020-12), by name.
///
/// `record-batch` is `record --stdin`, `trust-list` is `trust --list`, `label-move` is `label NAME LABEL VERSION`, `experiment-list` is `experiment` without a name, `export-parquet` is `export --format parquet`. `render`'s schema covers its default text format; its
/// `ollama` and `openai` formats print the provider's request body.
pub fn command_schemas() -> Vec<(&'static str, Schema)> {
    let mut out = vec![
        ("alerts", schema::<crate::alerts::AlertsReport>()),
        ("check", schema::<crate::query::CheckReport>()),
        ("compare", schema::<crate::query::CompareModel>()),
        ("create", schema::<crate::create::Created>()),
        ("diff", schema::<crate::diff::DiffModel>()),
        ("eval", schema::<crate::eval::paired::EvalModel<'static>>()),
        (
            "experiment",
            schema::<crate::experiment::ExperimentReport>(),
        ),
        (
            "experiment-list",
            schema::<Vec<crate::experiment::Experiment>>(),
        ),
        ("export", schema::<Vec<crate::runlog::RunRecord>>()),
        #[cfg(feature = "parquet")]
        ("export-parquet", schema::<crate::query::ParquetExport>()),
        (
            "import",
            schema::<Vec<crate::import::foreign::ImportedFile>>(),
        ),
        (
            "import-legacy",
            schema::<crate::import::legacy::LegacyImport>(),
        ),
        ("init", schema::<crate::templates::InitReport>()),
        ("label", schema::<crate::labels::LabelList>()),
        ("label-move", schema::<crate::labels::LabelMove>()),
        ("list", schema::<Vec<crate::query::ListRow>>()),
        ("performance", schema::<crate::query::Performance>()),
        ("rate", schema::<crate::runlog::RatingEvent>()),
        ("record", schema::<crate::record::Recorded>()),
        ("record-batch", schema::<crate::record::BatchResult>()),
        ("render", schema::<crate::render::Rendered>()),
        ("resolve", schema::<crate::experiment::Resolved>()),
        ("report", schema::<crate::report::Report>()),
        ("run", schema::<crate::eval::Summary>()),
        ("show", schema::<crate::query::ShowModel>()),
        ("suggest", schema::<crate::suggest::SuggestModel>()),
        ("suggest-rewrite", schema::<crate::suggest::RewriteModel>()),
        ("trends", schema::<crate::query::TrendsModel>()),
        ("trust", schema::<crate::trust::TrustStatus>()),
        ("trust-list", schema::<Vec<crate::trust::TrustedProject>>()),
    ];
    #[cfg(feature = "git")]
    out.push(("history", schema::<Vec<crate::query::HistoryRow>>()));
    #[cfg(all(feature = "git", feature = "providers"))]
    out.push(("bisect", schema::<crate::eval::bisect::BisectResult>()));
    out.sort_by_key(|(name, _)| *name);
    for (name, schema) in &mut out {
        let command = match *name {
            "record-batch" => "record --stdin",
            "trust-list" => "trust --list",
            "label-move" => "label NAME LABEL VERSION",
            "experiment-list" => "experiment",
            "import-legacy" => "import legacy",
            "import" => "import prompty|dotprompt|github",
            "suggest-rewrite" => "suggest --rewrite",
            "export-parquet" => "export --format parquet",
            other => other,
        };
        schema.insert("title".into(), format!("ptrack {command} --json").into());
    }
    out
}

/// The schema of `T` as serialized (fields skipped when empty are optional).
fn schema<T: JsonSchema>() -> Schema {
    SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>()
}

/// A schema as the committed files hold it: pretty JSON and a final newline.
pub fn to_file_text(schema: &Schema) -> String {
    // A `Schema` is a JSON value; writing one to a string cannot fail.
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}
