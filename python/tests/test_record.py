"""Recording runs and ratings: the same checks, messages and lines as `ptrack record --stdin`."""

from __future__ import annotations

import json
import math
import subprocess

import pytest

import ptrack
from conftest import NOW, last_line, log_lines, run_with_id


def test_record_appends_one_complete_run(project, project_dir):
    run_id = project.record(
        "coaching_system",
        execution_time_ms=840,
        success=True,
        output="Try one small step",
        token_count=212,
        quality_score=8,
        feedback="clear",
        input={"user_message": "Hi"},
        tags=["mobile"],
    )
    log = project_dir / "runs" / "coaching_system" / "2026-11.jsonl"
    last = json.loads(log.read_text(encoding="utf-8").splitlines()[-1])
    assert last["id"] == run_id
    assert last["ts"] == "2026-11-24T12:00:00.000Z"
    assert (last["prompt"], last["version"]) == ("coaching_system", "1.1")
    assert last["prompt_sha"] == project.get("coaching_system").prompt_sha
    assert last["output_length"] == len("Try one small step")
    assert (last["execution_time_ms"], last["token_count"], last["quality_score"]) == (840, 212, 8)
    assert last["input"] == {"user_message": "Hi"}
    assert last["tags"] == ["mobile"]
    assert last["success"] is True and last["error"] is None


def test_record_by_version_and_by_label_keeps_the_label(project, project_dir):
    a = project.record("coaching_system", version="1.0", execution_time_ms=1, success=True)
    b = project.record("coaching_system", label="production", execution_time_ms=2, success=False, error="timeout")
    a, b = run_with_id(project_dir, a), run_with_id(project_dir, b)
    assert a["version"] == "1.0" and "label" not in a
    assert (b["version"], b["label"], b["success"], b["error"]) == ("1.0", "production", False, "timeout")


def test_record_writes_the_line_the_cli_writes(project, project_dir, cli):
    fields = {"execution_time_ms": 912.5, "success": True, "output": "héllo", "token_count": 3}
    mine = project.record("coaching_system", id="py-1", **fields)
    cli.run(project_dir, "record", "--stdin", stdin=json.dumps({"prompt": "coaching_system", "id": "cli-1", **fields}))
    lines = {r["id"]: r for r in log_lines(project_dir) if r.get("id") in ("py-1", "cli-1")}
    assert mine == "py-1"
    py, cl = dict(lines["py-1"]), dict(lines["cli-1"])
    for r in (py, cl):
        del r["id"]
    assert py == cl


# Each bad run, as keyword arguments; the CLI gets the same object as a stdin line.
BAD = [
    {"execution_time_ms": 1, "success": True, "quality_score": 11},
    {"execution_time_ms": -1, "success": True},
    {"execution_time_ms": "fast", "success": True},
    {"execution_time_ms": 1, "success": True, "token_count": 1.5},
    {"execution_time_ms": 1, "success": "yes"},
    {"execution_time_ms": 1, "success": True, "error": "boom"},
    {"execution_time_ms": 1, "success": True, "ts": "yesterday"},
    {"execution_time_ms": 1, "success": True, "input": "not an object"},
    {"execution_time_ms": 1, "success": True, "unit": "u-1"},
    {"execution_time_ms": 1, "success": True, "experiment": "nope"},
]


@pytest.mark.parametrize("bad", BAD, ids=lambda b: ",".join(f"{k}={v}" for k, v in b.items()))
def test_invalid_runs_are_rejected_with_the_cli_message(project, project_dir, cli, bad):
    before = log_lines(project_dir)
    with pytest.raises(ptrack.InvalidRun) as e:
        project.record("coaching_system", **bad)
    assert log_lines(project_dir) == before, "nothing is written"
    p = cli.run(project_dir, "record", "--stdin", stdin=json.dumps({"prompt": "coaching_system", **bad}), check=False)
    assert p.returncode == 1
    assert f"stdin:1: {e.value}; line rejected" in p.stderr
    assert isinstance(e.value, ValueError) and isinstance(e.value, ptrack.Error)


def test_the_message_names_the_field_and_the_value(project):
    with pytest.raises(ptrack.InvalidRun, match=r"^quality_score must be a number from 1 to 10, got 11$"):
        project.record("coaching_system", execution_time_ms=5, success=True, quality_score=11)
    with pytest.raises(ptrack.InvalidRun, match=r"^execution_time_ms must be a finite number, got NaN$"):
        project.record("coaching_system", execution_time_ms=math.nan, success=True)
    with pytest.raises(ptrack.InvalidRun, match="missing `execution_time_ms`"):
        project.record("coaching_system", execution_time_ms=None, success=True)
    with pytest.raises(ptrack.InvalidRun, match=r"input\.when must be text, a number"):
        project.record("coaching_system", execution_time_ms=5, success=True, input={"when": object()})


def test_unknown_prompts_and_versions_are_prompt_not_found(project):
    with pytest.raises(ptrack.PromptNotFound, match="no prompt named `nope`"):
        project.record("nope", execution_time_ms=1, success=True)
    with pytest.raises(ptrack.PromptNotFound, match="has no version 7.0"):
        project.record("coaching_system", version="7.0", execution_time_ms=1, success=True)


def test_a_repeated_id_is_rejected(project):
    project.record("coaching_system", id="r-1", execution_time_ms=1, success=True)
    with pytest.raises(ptrack.InvalidRun, match=r'id "r-1" is already the id of the run at runs/coaching_system/2026-11.jsonl:\d+'):
        project.record("coaching_system", id="r-1", execution_time_ms=1, success=True)


def test_an_experiment_run_is_tagged_as_the_cli_tags_it(project, project_dir):
    run_id = project.record("coaching_system", execution_time_ms=1, success=True, experiment="brief_answers", unit="user-1", version="1.1")
    last = run_with_id(project_dir, run_id)
    assert (last["experiment"], last["variant"], last["label"], last["unit"]) == ("brief_answers", "1.1", "production", "user-1")


def test_record_object_takes_a_stdin_line(project, project_dir):
    run_id = project.record_object({"prompt": "task_classification", "execution_time_ms": 3, "success": True})
    assert run_with_id(project_dir, run_id)["prompt"] == "task_classification"
    with pytest.raises(ptrack.InvalidRun, match="missing `prompt`"):
        project.record_object({"execution_time_ms": 3})


def test_a_run_of_a_committed_version_names_its_commit(project_dir):
    env = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com", "PATH": "/usr/bin:/bin"}
    git = lambda *a: subprocess.run(["git", *a], cwd=project_dir, env=env, check=True, capture_output=True, text=True)
    git("init", "-q")
    git("add", "prompts")
    git("commit", "-qm", "prompts")
    head = git("rev-parse", "HEAD").stdout.strip()
    p = ptrack.Project(project_dir)
    run_id = p.record("coaching_system", execution_time_ms=1, success=True)
    assert run_with_id(project_dir, run_id)["commit"] == head
    # An edited file is not the committed one: no commit.
    f = project_dir / "prompts" / "coaching_system" / "1.1.md"
    f.write_text(f.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8")
    run_id = p.record("coaching_system", execution_time_ms=1, success=True)
    assert run_with_id(project_dir, run_id)["commit"] is None


def test_rate_appends_a_rating_that_performance_counts(project, project_dir, cli):
    run_id = project.record("release_notes", execution_time_ms=10, success=True)
    event = project.rate(run_id[:13], 9, "good")
    assert event == last_line(project_dir, "release_notes")
    assert (event["type"], event["run_id"], event["quality_score"], event["feedback"]) == ("rating", run_id, 9, "good")
    with pytest.raises(ptrack.InvalidRun, match="from 1 to 10, got 0"):
        project.rate(run_id, 0)
    with pytest.raises(ptrack.RunNotFound, match="no run with id zzzz"):
        project.rate("zzzz", 5)
    assert NOW.startswith(event["ts"][:10])


def test_an_extra_field_cannot_name_another_prompt(project, project_dir):
    before = log_lines(project_dir)
    with pytest.raises(ValueError, match="`prompt` is chosen by NAME"):
        project.record("coaching_system", execution_time_ms=1, success=True, prompt="task_classification")
    assert log_lines(project_dir) == before
