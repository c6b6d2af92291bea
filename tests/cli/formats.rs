//! End-to-end tests of prompt files in other tools' formats, read in place and imported:
//! Microsoft Prompty (v1 and v2), Google Dotprompt and GitHub Models. The example files follow
//! each format's public documentation.

use serde_json::{Value, json};

use crate::common::{Run, TestEnv, assert_schema};

fn ok(r: &Run) {
    assert_eq!(r.code, 0, "{}", r.snapshot());
}

/// A Prompty v1 file, as the Prompty documentation's basic example writes one.
pub const PROMPTY_V1: &str = "---
name: ExamplePrompt
description: A prompt that uses context to ground an incoming question
authors:
  - Seth Juarez
model:
  api: chat
  configuration:
    type: azure_openai
    azure_endpoint: ${env:AZURE_OPENAI_ENDPOINT}
    azure_deployment: gpt-4o-mini
    api_version: 2024-07-01-preview
  parameters:
    max_tokens: 3000
    temperature: 0.2
    top_p: 0.95
    response_format:
      type: text
sample:
  firstName: Seth
  context: The Alpine Explorer Tent boasts a detachable divider for privacy.
  question: What can you tell me about your tents?
---

system:
You are an AI assistant who helps people find information. As the assistant,
you answer questions briefly, succinctly, and in a personable manner.

# Customer
You are helping {{firstName}} to find answers to their questions.

# Context
Use the following context to provide a more personalized response to {{firstName}}:
{{context}}

user:
{{question}}
";

/// A Prompty v2 file: `model: {id, provider, options}`, `inputs` as a list.
const PROMPTY_V2: &str = "---
name: basic
description: Answer a question in a given tone
model:
  id: gpt-4o-mini
  provider: openai
  connection:
    kind: key
    endpoint: ${env:OPENAI_BASE_URL}
  options:
    temperature: 0.5
    maxOutputTokens: 500
    topP: 0.9
inputs:
  - name: question
    kind: string
    description: The user's question
    default: What is Prompty?
  - name: tone
    kind: string
    default: friendly
outputs:
  - name: answer
    kind: string
---
system:
Answer in a {{tone}} tone.

user:
{{question}}
";

/// A Dotprompt file, as the Dotprompt documentation writes them: Picoschema input and output,
/// roles, `#if` and `#each`.
const DOTPROMPT: &str = "---
model: ollama/llama3.1
config:
  temperature: 0.9
  topK: 32
  topP: 0.95
  maxOutputTokens: 400
  stopSequences: [\"<end>\"]
input:
  schema:
    location: string, the city to plan for
    style?: string, a writing style
    interests(array): string
  default:
    style: a pirate
output:
  format: json
  schema:
    title: string, the trip title
    days(array):
      day: integer
      plan: string
---
{{role \"system\"}}
You are a travel agent who talks like {{style}}.
{{role \"user\"}}
Plan a day in {{location}}.
{{#if interests}}
I like:
{{#each interests}}- {{@index}}: {{this}}
{{/each}}
{{else}}
Surprise me.
{{/if}}
";

/// A GitHub Models prompt file, as the GitHub Models documentation writes them.
pub const GITHUB: &str = "name: Text Summarizer
description: Summarizes input text concisely
model: openai/gpt-4o-mini
modelParameters:
  temperature: 0.5
  maxTokens: 200
messages:
  - role: system
    content: You are a text summarizer. Your only job is to summarize text given to you.
  - role: user
    content: |
      Summarize the given text, beginning with \"Summary -\":
      <text>
      {{input}}
      </text>
testData:
  - input: |
      The quick brown fox jumped over the lazy dog.
      The dog was too tired to react.
    expected: Summary - A fox jumped over a lazy, unresponsive dog.
  - input: The museum opened a new dinosaur exhibit this weekend.
    expected: Summary - The museum unveiled a new dinosaur exhibit.
evaluators:
  - name: Output should start with 'Summary -'
    string:
      startsWith: 'Summary -'
  - name: Mentions the text
    string:
      contains: 'Summary'
  - name: Similarity
    uses: github/similarity
";

fn formats_project() -> TestEnv {
    let env = TestEnv::init();
    env.write("prompts/qa/1.0.prompty", PROMPTY_V1);
    env.write("prompts/qa/2.0.prompty", PROMPTY_V2);
    env.write("prompts/trip/1.0.prompt", DOTPROMPT);
    env.write("prompts/summarize/1.0.prompt.yml", GITHUB);
    env
}

#[test]
fn prompty_v1_and_v2_are_read_in_place() {
    let env = formats_project();
    let r = env.run(&["show", "qa", "--version", "1.0", "--json"]);
    ok(&r);
    let v = r.json();
    assert_schema("show", &v);
    assert_eq!(
        (
            &v["format"],
            &v["meta"]["model"],
            &v["meta"]["provider"],
            &v["meta"]["goal"]
        ),
        (
            &json!("prompty"),
            &json!("gpt-4o-mini"),
            &json!("openai"),
            &json!("A prompt that uses context to ground an incoming question")
        )
    );
    assert_eq!(
        v["meta"]["params"],
        json!({"temperature": 0.2, "token_limit": 3000, "top_p": 0.95})
    );
    assert_eq!(v["meta"]["variables"]["firstName"]["default"], "Seth");
    let roles: Vec<&Value> = v["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| &m["role"])
        .collect();
    assert_eq!(roles, [&json!("system"), &json!("user")]);

    // The sample stands in for inputs; the body renders as Jinja, split by role.
    let r = env.run(&["render", "qa", "--version", "1.0", "--format", "openai"]);
    ok(&r);
    let body = r.json();
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(body["max_tokens"], 3000);
    assert_eq!(
        body["messages"][1],
        json!({"role": "user", "content": "What can you tell me about your tents?"})
    );
    assert!(
        body["messages"][0]["content"]
            .as_str()
            .is_some_and(|s| s.contains("You are helping Seth to find answers")
                && s.contains("Alpine Explorer")),
        "{body:#}"
    );

    let r = env.run(&["show", "qa", "--json"]);
    ok(&r);
    let v = r.json();
    assert_eq!(
        (&v["version"], &v["meta"]["model"]),
        (&json!("2.0"), &json!("gpt-4o-mini"))
    );
    assert_eq!(
        v["meta"]["params"],
        json!({"temperature": 0.5, "token_limit": 500, "top_p": 0.9})
    );
    assert_eq!(
        v["meta"]["variables"]["question"]["description"],
        "The user's question"
    );
    let r = env.run(&["render", "qa", "--var", "question=Why?"]);
    ok(&r);
    assert_eq!(
        r.stdout,
        "system:\nAnswer in a friendly tone.\n\nuser:\nWhy?\n"
    );
    // diff works across the two versions, message by message.
    let r = env.run(&["diff", "qa", "1.0", "2.0"]);
    ok(&r);
    assert!(r.stdout.contains("temperature 0.2 → 0.5"), "{}", r.stdout);
    assert!(r.stdout.contains("message 1 (system): "), "{}", r.stdout);
}

#[test]
fn dotprompt_handlebars_renders_with_roles_defaults_and_schemas() {
    let env = formats_project();
    let r = env.run(&["show", "trip", "--json"]);
    ok(&r);
    let v = r.json();
    assert_eq!(
        (&v["format"], &v["meta"]["model"], &v["meta"]["provider"]),
        (&json!("dotprompt"), &json!("llama3.1"), &json!("ollama"))
    );
    assert_eq!(
        v["meta"]["params"],
        json!({"temperature": 0.9, "token_limit": 400, "top_k": 32, "top_p": 0.95})
    );
    assert_eq!(
        v["meta"]["variables"]["style"],
        json!({"description": "a writing style", "default": "a pirate"})
    );
    assert_eq!(
        v["meta"]["extra"]["output_schema"]["title"],
        "string, the trip title"
    );
    let r = env.run(&[
        "render",
        "trip",
        "--vars-file",
        "vars.json",
        "--format",
        "ollama",
    ]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    env.write(
        "vars.json",
        "{\"location\": \"Lisbon\", \"interests\": [\"tiles\", \"tarts\"]}",
    );
    let r = env.run(&[
        "render",
        "trip",
        "--vars-file",
        "vars.json",
        "--format",
        "ollama",
    ]);
    ok(&r);
    let body = r.json();
    assert_eq!(
        body["messages"],
        json!([
            {"role": "system", "content": "You are a travel agent who talks like a pirate."},
            {"role": "user", "content": "Plan a day in Lisbon.\nI like:\n- 0: tiles\n- 1: tarts\n"},
        ])
    );
    assert_eq!(
        body["options"],
        json!({"temperature": 0.9, "top_k": 32, "top_p": 0.95, "num_predict": 400})
    );
    let r = env.run(&["render", "trip", "--var", "location=Porto"]);
    ok(&r);
    assert!(r.stdout.contains("Surprise me."), "{}", r.stdout);
}

#[test]
fn github_models_messages_and_test_data_run_as_cases() {
    let env = formats_project();
    let r = env.run(&["show", "summarize", "--json"]);
    ok(&r);
    let v = r.json();
    assert_eq!(
        (&v["format"], &v["meta"]["model"], &v["meta"]["provider"]),
        (
            &json!("github_models"),
            &json!("openai/gpt-4o-mini"),
            &json!("openai")
        )
    );
    assert_eq!(
        v["meta"]["params"],
        json!({"temperature": 0.5, "token_limit": 200})
    );
    let r = env.run(&[
        "render",
        "summarize",
        "--var",
        "input=Cats sleep.",
        "--format",
        "openai",
    ]);
    ok(&r);
    assert_eq!(
        r.json()["messages"],
        json!([
            {"role": "system", "content": "You are a text summarizer. Your only job is to summarize text given to you."},
            {"role": "user", "content": "Summarize the given text, beginning with \"Summary -\":\n<text>\nCats sleep.\n</text>"},
        ])
    );
    // check: the evaluator ptrack cannot run is named; nothing else is wrong.
    let r = env.run(&["check"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert!(
        r.stdout.contains("prompts/summarize/1.0.prompt.yml:")
            && r.stdout
                .contains("evaluator `Similarity` uses github/similarity"),
        "{}",
        r.snapshot()
    );
}

#[test]
fn bad_foreign_files_get_path_line_field_diagnostics() {
    let env = TestEnv::init();
    env.write(
        "prompts/a/1.0.prompty",
        "---\nname: a\nmodel:\n  api: chat\n  parameters:\n    temperature: 7\n---\nuser:\nHi\n",
    );
    env.write(
        "prompts/b/1.0.prompt",
        "---\nmodel: googleai/gemini-1.5-flash\n---\nLook at this:\n{{media url=photoUrl}}\n{{#each items}}{{json this}}{{/each}}\n",
    );
    env.write(
        "prompts/c/1.0.prompt.yml",
        "name: c\nmodel: openai/gpt-4o\nmodelParameters:\n  topP: 3\nmessages:\n  - role: tool\n    content: x\n  - role: user\n    content: ''\n",
    );
    env.write("prompts/d/1.0.prompt.yml", "name: d\nmessages: [unclosed\n");
    let r = env.run(&["check", "--json"]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    let mut found: Vec<String> = r.json()["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter(|d| d["severity"] == "error")
        .map(|d| {
            format!(
                "{}:{} [{}] {}",
                d["path"].as_str().unwrap_or_default(),
                d["line"],
                d["field"].as_str().unwrap_or_default(),
                d["message"].as_str().unwrap_or_default()
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            "prompts/a/1.0.prompty:6 [model.parameters.temperature] model.parameters.temperature must be between 0 and 2, got 7",
            "prompts/b/1.0.prompt:5 [template] unsupported Handlebars helper `media`: ptrack renders variables, #if, #unless, #each and role",
            "prompts/b/1.0.prompt:6 [template] unsupported Handlebars helper `json`: ptrack renders variables, #if, #unless, #each and role",
            "prompts/c/1.0.prompt.yml:4 [modelParameters.topP] modelParameters.topP must be greater than 0 and at most 1, got 3",
            "prompts/c/1.0.prompt.yml:7 [messages] message 1 has role \"tool\"; the roles are system, user and assistant",
            "prompts/c/1.0.prompt.yml:9 [messages] message 2 (user) is empty",
            "prompts/d/1.0.prompt.yml:3 [] invalid YAML front matter: did not find expected ',' or ']'",
        ]
    );
    // A version with errors stops the commands that use it, naming the problem.
    let r = env.run(&["render", "b"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(
        r.stderr.contains("unsupported Handlebars helper `media`"),
        "{}",
        r.stderr
    );
}

#[test]
fn import_converts_each_format_to_ptrack_files() {
    let env = TestEnv::init();
    env.write("in/qa.prompty", PROMPTY_V1);
    env.write("in/trip.prompt", DOTPROMPT);
    env.write("in/summarize.prompt.yml", GITHUB);
    let r = env.run(&["import", "prompty", "in/qa.prompty"]);
    ok(&r);
    let r = env.run(&["import", "dotprompt", "in/trip.prompt"]);
    ok(&r);
    let r = env.run(&["import", "github", "in/summarize.prompt.yml", "--json"]);
    ok(&r);
    assert_schema("import", &r.json());
    for (name, file) in [
        ("qa", "prompts/qa/1.0.md"),
        ("trip", "prompts/trip/1.0.md"),
        ("summarize", "prompts/summarize/1.0.md"),
    ] {
        assert!(env.path(file).is_file(), "{name}: {}", r.snapshot());
    }
    // The imported versions render as the originals do.
    env.write("in2/qa/1.0.prompty", PROMPTY_V1);
    let a = env.run(&["render", "qa", "--format", "openai"]);
    ok(&a);
    let dir = TestEnv::init();
    dir.write("prompts/qa/1.0.prompty", PROMPTY_V1);
    let b = dir.run(&["render", "qa", "--format", "openai"]);
    ok(&b);
    assert_eq!(a.json(), b.json());
    let r = env.run(&["check"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    // GitHub testData became the prompt's cases.
    let cases = env.read("prompts/summarize/cases.jsonl");
    let first: Value = serde_json::from_str(cases.lines().next().expect("a case")).expect("JSON");
    assert_eq!(
        first["expect"],
        json!([{"starts_with": "Summary -"}, {"contains": "Summary"}])
    );
    // Imported again, the file becomes the next version; an existing version is refused.
    let r = env.run(&["import", "prompty", "in/qa.prompty"]);
    ok(&r);
    assert_eq!(
        r.stdout,
        "wrote prompts/qa/1.1.md (qa 1.1, from in/qa.prompty)\n"
    );
    let before = env.read("prompts/qa/1.0.md");
    let r = env.run(&["import", "prompty", "in/qa.prompty", "--version", "1.0"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(
        r.stderr.contains("prompts/qa/1.0.md exists"),
        "{}",
        r.stderr
    );
    assert_eq!(env.read("prompts/qa/1.0.md"), before);
    // A file of another format is refused by name.
    let r = env.run(&["import", "prompty", "in/trip.prompt"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(
        r.stderr.contains("in/trip.prompt: not a Prompty file"),
        "{}",
        r.stderr
    );
    let r = env.run(&["import", "dotprompt", "in/missing.prompt"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
}

#[test]
fn create_from_a_foreign_version_writes_ptrack_format() {
    let env = formats_project();
    let r = env.run(&["create", "qa", "--from", "2.0", "--temperature", "0.3"]);
    ok(&r);
    let text = env.read("prompts/qa/2.1.md");
    assert!(
        text.starts_with("---\ngoal: Answer a question in a given tone\n"),
        "{text}"
    );
    assert!(text.contains("temperature: 0.3"), "{text}");
    let a = env.run(&["render", "qa", "--version", "2.0", "--format", "openai"]);
    let b = env.run(&["render", "qa", "--version", "2.1", "--format", "openai"]);
    ok(&a);
    ok(&b);
    assert_eq!(a.json()["messages"], b.json()["messages"]);
    assert_eq!(b.json()["temperature"], 0.3);
    // The foreign file is untouched.
    assert_eq!(env.read("prompts/qa/2.0.prompty"), PROMPTY_V2);
}
