"""Opening a project, reading prompt versions, rendering them."""

from __future__ import annotations

import pathlib

import pytest

import ptrack


def test_project_is_found_from_a_subfolder_as_the_cli_finds_it(project_dir, monkeypatch):
    sub = project_dir / "prompts" / "coaching_system"
    assert ptrack.Project(sub).root == project_dir
    assert ptrack.Project(str(sub)).root == project_dir
    monkeypatch.chdir(sub)
    assert ptrack.Project().root == project_dir
    assert isinstance(ptrack.Project().root, pathlib.Path)


def test_no_project_is_project_not_found(tmp_path):
    with pytest.raises(ptrack.ProjectNotFound, match="no ptrack project found in") as e:
        ptrack.Project(tmp_path)
    assert isinstance(e.value, ptrack.Error)
    with pytest.raises(ptrack.ProjectNotFound, match="missing or any parent folder"):
        ptrack.Project(tmp_path / "missing")


def test_get_gives_the_latest_a_version_or_a_label(project):
    latest = project.get("coaching_system")
    assert (latest.name, latest.version) == ("coaching_system", "1.1")
    assert project.get("coaching_system", "1.0").version == "1.0"
    # labels.toml: production = "1.0"
    assert project.get("coaching_system", label="production").version == "1.0"
    assert project.get("coaching_system:production").version == "1.0"
    assert project.get("coaching_system:1.0").version == "1.0"
    assert project.get("coaching_system", label="latest").version == "1.1"


def test_a_version_has_the_attributes_of_its_file(project, project_dir):
    v = project.get("coaching_system", "1.1")
    assert v.goal and v.model == "llama3.1:8b"
    assert (v.temperature, v.token_limit, v.top_k, v.top_p) == (0.6, 400, 40, 0.9)
    assert isinstance(v.tags, list)
    assert set(v.variables) >= {"user_message", "user_name"}
    assert v.variables["user_name"]["default"] == "there"
    assert "{{ user_message }}" in v.text or "user_message" in v.text
    # The git blob id of the file, as `git hash-object` prints it.
    import hashlib

    data = (project_dir / v.path).read_bytes()
    blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    assert v.prompt_sha == blob == "130f8a9d3a3732ffd1602192d7cbfffede1c967e"
    assert v.path == pathlib.Path("prompts/coaching_system/1.1.md")
    assert v == project.get("coaching_system")
    assert v != project.get("coaching_system", "1.0")
    assert len({v, project.get("coaching_system")}) == 1
    assert v.to_dict()["blob_sha"] == v.prompt_sha
    assert repr(v) == 'PromptVersion("coaching_system", "1.1")'


def test_unknown_prompts_versions_and_labels_are_prompt_not_found(project):
    with pytest.raises(ptrack.PromptNotFound, match="no prompt named `coachin_system`"):
        project.get("coachin_system")
    with pytest.raises(ptrack.PromptNotFound, match="prompt `coaching_system` has no version 9.0"):
        project.get("coaching_system", "9.0")
    with pytest.raises(ptrack.PromptNotFound, match="has no label `canary`"):
        project.get("coaching_system", label="canary")
    with pytest.raises(LookupError):
        project.get("nope")
    with pytest.raises(ValueError, match="not both"):
        project.get("coaching_system", "1.0", label="production")
    with pytest.raises(ValueError):
        project.get("coaching_system", "not-a-version")


def test_prompts_lists_the_latest_version_of_each(project):
    got = [(v.name, v.version) for v in project.prompts()]
    assert got == [("coaching_system", "1.1"), ("release_notes", "1.1"), ("task_classification", "1.0")]
    assert [v.version for v in project.versions("coaching_system")] == ["1.0", "1.1"]
    with pytest.raises(ptrack.PromptNotFound):
        project.versions("nope")


def test_list_is_the_cli_list(project, project_dir, cli):
    assert project.list() == cli.json(project_dir, "list")


def test_render_fills_variables_and_defaults(project, project_dir, cli):
    v = project.get("coaching_system", "1.1")
    text = v.render(user_message="I keep procrastinating")
    assert "I keep procrastinating" in text
    assert text == cli.run(
        project_dir, "render", "coaching_system", "--version", "1.1", "--var", "user_message=I keep procrastinating"
    ).stdout
    with pytest.raises(ptrack.RenderError, match="missing variable `user_message`"):
        v.render()
    with pytest.raises(TypeError, match="user_message must be text"):
        v.render(user_message=object())


@pytest.mark.parametrize("fmt", ["ollama", "openai"])
def test_request_bodies_are_the_cli_render_formats(project, project_dir, cli, fmt):
    v = project.get("coaching_system", label="production")
    body = getattr(v, f"{fmt}_request")(user_message="Hi", user_name="Sam")
    want = cli.json(
        project_dir, "render", "coaching_system:production", "--var", "user_message=Hi", "--var", "user_name=Sam", "--format", fmt
    )
    assert body == want
    assert body["model"] == "llama3.1:8b"


def test_create_writes_a_new_version_with_the_text_given(project, project_dir):
    created = project.create(
        "summarize", goal="Summarize a text", model="llama3.1:8b", temperature=0.3, text="Summarize: {{ text }}"
    )
    assert created["path"] == "prompts/summarize/1.0.md"
    v = project.get("summarize")
    assert (v.version, v.goal, v.temperature) == ("1.0", "Summarize a text", 0.3)
    assert v.text == "Summarize: {{ text }}\n"
    assert v.render(text="x") == "Summarize: x\n"
    with pytest.raises(ptrack.Error, match="already exists; ptrack never overwrites a version"):
        project.create("summarize", version="1.0", goal="g", model="m")
