//! `GET /api/openapi.json`: an OpenAPI 3.1 document of every route of [`super::api::table`].
//!
//! The answers' schemas are the `--json` schemas of [`command_schemas`] (the ones committed
//! under `docs/json/`), moved under `components/schemas`: each command's schema as its name,
//! each of its definitions as `COMMAND.DEFINITION`, with every `$ref` pointed there. A route's
//! page of runs is built from `export`'s run record, never written out again by hand.

use serde_json::{Map, Value, json};

use super::api::{ApiRoute, table};
use crate::schema::command_schemas;

/// The document.
pub fn document() -> Value {
    let mut schemas = Map::new();
    for (name, schema) in command_schemas() {
        let Value::Object(mut root) = schema.to_value() else {
            continue;
        };
        if let Some(Value::Object(defs)) = root.remove("$defs") {
            for (def, s) in defs {
                schemas.insert(component(name, &def), rewrite(s, name));
            }
        }
        root.remove("$schema");
        schemas.insert(name.to_string(), rewrite(Value::Object(root), name));
    }
    // A run is an item of `export`; a page of runs holds them.
    let run = schemas
        .get("export")
        .and_then(|e| e.get("items"))
        .cloned()
        .unwrap_or_else(|| json!({}));
    schemas.insert("run".into(), run);
    schemas.insert(
        "runs-page".into(),
        json!({
            "type": "object",
            "description": "One page of runs, newest first",
            "properties": {
                "runs": {"$ref": "#/components/schemas/export"},
                "next_cursor": {
                    "type": ["string", "null"],
                    "description": "The cursor of the next page; null on the last"
                }
            },
            "required": ["runs", "next_cursor"]
        }),
    );
    schemas.insert(
        "error".into(),
        json!({
            "type": "object",
            "description": "What is wrong with the request, and the field or parameter at fault",
            "properties": {
                "error": {"type": "string"},
                "field": {"type": ["string", "null"]}
            },
            "required": ["error", "field"]
        }),
    );
    let mut paths = Map::new();
    for r in table() {
        let entry = paths
            .entry(r.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(ops) = entry {
            ops.insert(r.method.as_str().to_lowercase(), operation(&r));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "ptrack serve",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The JSON API of `ptrack serve`: the models `--json` prints, byte for byte. Writes need `Authorization: Bearer <token>` when the server has a token; reads too with --token-for-reads."
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}
        },
        "security": [{}, {"bearer": []}]
    })
}

/// A component name of the definition `def` of command `name` (OpenAPI allows letters,
/// digits, `.`, `-` and `_`).
fn component(name: &str, def: &str) -> String {
    let clean: String = def
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{name}.{clean}")
}

/// `value` with every `#/$defs/X` reference of command `name` pointed at its component.
fn rewrite(value: Value, name: &str) -> Value {
    match value {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => {
                        let target = match r.strip_prefix("#/$defs/") {
                            Some(def) => format!("#/components/schemas/{}", component(name, def)),
                            None => r,
                        };
                        (k, Value::String(target))
                    }
                    (_, v) => (k, rewrite(v, name)),
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(|v| rewrite(v, name)).collect()),
        other => other,
    }
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// `get_api_prompts_name_performance` for `GET /api/prompts/{name}/performance`.
fn operation_id(r: &ApiRoute) -> String {
    let mut id = r.method.as_str().to_lowercase();
    for word in r
        .path
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        id.push('_');
        id.push_str(word);
    }
    id
}

fn operation(r: &ApiRoute) -> Value {
    let mut params: Vec<Value> = r
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|p| {
            let description = match p {
                "name" => "Prompt name, or NAME:LABEL (a label of labels.toml) or NAME:VERSION",
                "id" => "Run id",
                _ => "",
            };
            json!({"name": p, "in": "path", "required": true, "description": description, "schema": {"type": "string"}})
        })
        .collect();
    params.extend(r.query.iter().map(|q| {
        json!({"name": q.name, "in": "query", "required": false, "description": q.description, "schema": {"type": q.kind}})
    }));
    let ok = match r.model {
        "metrics" => json!({
            "description": "Prometheus text exposition format 0.0.4",
            "content": {super::metrics::CONTENT_TYPE: {"schema": {"type": "string"}}}
        }),
        "openapi" => json!({
            "description": "An OpenAPI 3.1 document",
            "content": {"application/json": {"schema": {"type": "object"}}}
        }),
        "record" => json!({
            "description": "The runs were recorded: `record --json` for one, `record --stdin --json` for an array",
            "content": {"application/json": {"schema": {"oneOf": [schema_ref("record"), schema_ref("record-batch")]}}}
        }),
        "render" => json!({
            "description": "`render --json`; with format=ollama or openai, the request body for that API",
            "content": {"application/json": {"schema": {"oneOf": [schema_ref("render"), {"type": "object"}]}}}
        }),
        model => json!({
            "description": r.summary,
            "content": {"application/json": {"schema": schema_ref(model)}}
        }),
    };
    let status = if r.method == axum::http::Method::POST && r.model != "render" {
        "201"
    } else {
        "200"
    };
    let error = json!({
        "description": "400 bad input, 401 no or a wrong token, 404 no such prompt, version or run, 408 too slow, 413 body too large, 422 the project's files are in error",
        "content": {"application/json": {"schema": schema_ref("error")}}
    });
    let mut op = json!({
        "summary": r.summary,
        "operationId": operation_id(r),
        "parameters": params,
        "responses": {status: ok, "4XX": error}
    });
    if let (Some(body), Value::Object(m)) = (r.body, &mut op) {
        m.insert(
            "requestBody".into(),
            json!({"required": true, "description": body, "content": {"application/json": {"schema": {}}}}),
        );
    }
    op
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` in `v`.
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("$ref", Value::String(r)) => out.push(r),
                        _ => refs(x, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }

    #[test]
    fn every_route_is_documented_and_every_reference_resolves() {
        let doc = document();
        for r in table() {
            let op = &doc["paths"][r.path][r.method.as_str().to_lowercase()];
            assert!(op.is_object(), "{r:?} is not in the document");
            assert_eq!(op["summary"], r.summary);
        }
        let mut ids: Vec<String> = table().iter().map(operation_id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), table().len(), "operation ids are unique");
        let documented: usize = doc["paths"]
            .as_object()
            .expect("paths")
            .values()
            .map(|ops| ops.as_object().expect("ops").len())
            .sum();
        assert_eq!(documented, table().len());
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(all.len() > 20, "{all:?}");
        for r in all {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("{r} points outside components"));
            assert!(
                doc["components"]["schemas"].get(name).is_some(),
                "{r} points at nothing"
            );
        }
    }
}
