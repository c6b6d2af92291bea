"""The metrics are the CLI's: each call equals `ptrack … --json` on the bundled project."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import ptrack


@pytest.mark.parametrize(
    "kwargs, args",
    [
        ({}, []),
        ({"name": "coaching_system"}, ["coaching_system"]),
        ({"name": "coaching_system", "version": "1.0"}, ["coaching_system", "--version", "1.0"]),
        ({"name": "coaching_system", "label": "production"}, ["coaching_system", "--label", "production"]),
        ({"name": "coaching_system:staging"}, ["coaching_system:staging"]),
        ({"name": "task_classification", "days": 14}, ["task_classification", "--days", "14"]),
        ({"since": "2026-11-01", "until": "2026-11-15"}, ["--since", "2026-11-01", "--until", "2026-11-15"]),
        ({"since": dt.date(2026, 11, 1)}, ["--since", "2026-11-01"]),
        ({"since": dt.datetime(2026, 11, 1, 9, tzinfo=dt.timezone.utc)}, ["--since", "2026-11-01T09:00:00Z"]),
    ],
)
def test_performance_is_the_cli_performance(project, project_dir, cli, kwargs, args):
    got = project.performance(**kwargs)
    assert got == cli.json(project_dir, "performance", *args)
    assert got["prompts"], "the bundled runs are in the window"


def test_performance_reads_the_same_through_the_cache(project, project_dir, cli):
    first = project.performance()
    project.record("coaching_system", execution_time_ms=123, success=False, error="x")
    assert project.performance() == cli.json(project_dir, "performance") != first


@pytest.mark.parametrize(
    "args",
    [
        ("coaching_system",),
        ("coaching_system", "1.0", "1.1"),
        ("coaching_system", "production", "staging"),
        ("task_classification",),
        ("release_notes", "1.0", "1.1"),
    ],
)
def test_compare_is_the_cli_compare(project, project_dir, cli, args):
    got = project.compare(*args)
    assert got == cli.json(project_dir, "compare", *args)
    assert got["versions"]


def test_compare_with_a_window(project, project_dir, cli):
    got = project.compare("coaching_system", "1.0", "1.1", days=14)
    assert got == cli.json(project_dir, "compare", "coaching_system", "1.0", "1.1", "--days", "14")


@pytest.mark.parametrize(
    "kwargs, args",
    [
        ({}, []),
        ({"days": 60, "bucket": "week"}, ["--days", "60", "--bucket", "week"]),
        ({"days": 10, "version": "1.1"}, ["--days", "10", "--version", "1.1"]),
    ],
)
def test_trends_is_the_cli_trends(project, project_dir, cli, kwargs, args):
    got = project.trends("coaching_system", **kwargs)
    assert got == cli.json(project_dir, "trends", "coaching_system", *args)
    assert any(row["runs"] for row in got["overall"])


@pytest.mark.parametrize(
    "kwargs, args",
    [
        ({}, ["coaching_system"]),
        ({"label": "production"}, ["coaching_system:production"]),
        ({"label": "production", "unit": "user-1"}, ["coaching_system:production", "--unit", "user-1"]),
        ({"label": "production", "unit": "alice@example.com"}, ["coaching_system:production", "--unit", "alice@example.com"]),
        ({"label": "staging", "unit": "user-1"}, ["coaching_system:staging", "--unit", "user-1"]),
    ],
)
def test_resolve_is_the_cli_resolve(project, project_dir, cli, kwargs, args):
    assert project.resolve("coaching_system", **kwargs) == cli.json(project_dir, "resolve", *args)


def test_the_published_bucket_of_user_1(project):
    # README, "Labels and experiments": bucket("brief_answers", "user-1") = 2251.
    assert project.resolve("coaching_system:production", unit="user-1")["bucket"] == 2251


def test_bad_arguments_are_value_errors_and_unknown_names_prompt_not_found(project):
    with pytest.raises(ValueError, match="bucket must be"):
        project.trends("coaching_system", bucket="month")
    with pytest.raises(ValueError, match="both a and b"):
        project.compare("coaching_system", "1.0")
    with pytest.raises(ValueError, match="since: expected a date"):
        project.performance(since="last week")
    with pytest.raises(ValueError, match="unit must not be empty"):
        project.resolve("coaching_system", "production", "")
    with pytest.raises(ptrack.PromptNotFound, match="no prompt named `nope`"):
        project.performance("nope")
    with pytest.raises(ptrack.PromptNotFound):
        project.compare("coaching_system", "1.0", "canary")
    with pytest.raises(ptrack.PromptNotFound, match="no prompt named `nope`"):
        project.trends("nope")


def test_bad_log_lines_are_warnings_as_the_cli_prints_them(project, project_dir, cli):
    log = project_dir / "runs" / "coaching_system" / "2026-11.jsonl"
    with log.open("a", encoding="utf-8") as f:
        f.write('{"id": "torn", "ts": "2026-11-20T10:00:00Z", "prompt": "coach\n')
    n = len(log.read_text(encoding="utf-8").splitlines())
    with pytest.warns(ptrack.RunLogWarning) as record:
        got = project.performance("coaching_system", version="1.1")
    p = cli.run(project_dir, "performance", "coaching_system", "--version", "1.1", "--json")
    assert got == json.loads(p.stdout)
    messages = [str(w.message) for w in record]
    assert any(f"runs/coaching_system/2026-11.jsonl:{n}" in m for m in messages), messages
    # The CLI prints each one on stderr as `warning: <message>` or `error: <message>`.
    for m in messages:
        assert m in p.stderr
    with pytest.warns(ptrack.RunLogWarning):
        project.compare("coaching_system")
    with pytest.warns(ptrack.RunLogWarning):
        project.trends("coaching_system")
