"""`ptrack.compat`: the older tool's API, on the project's files and runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import ptrack
from ptrack import compat
from conftest import log_lines

EXAMPLE = Path(__file__).with_name("old_style_example.py")


def test_an_old_program_runs_with_only_its_imports_changed(project_dir, cli):
    env = dict(os.environ)
    p = subprocess.run([sys.executable, str(EXAMPLE)], cwd=project_dir, capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    out = p.stdout.splitlines()
    assert out[:3] == [
        "coaching_system: 2 version(s), latest 1.1",
        "release_notes: 2 version(s), latest 1.1",
        "task_classification: 1 version(s), latest 1.0",
    ]
    assert "logged coaching_system v1.1 (llama3.1:8b, t=0.6)" in out
    assert "registered creative_writing_v1.0" in out
    assert "logged creative_writing v1.0 (llama3.1:8b, t=0.9)" in out
    # The runs are ptrack runs, and the new prompt a version file.
    runs = [r for r in log_lines(project_dir) if r.get("input", {}).get("input")]
    assert sorted((r["prompt"], r["version"], r["success"]) for r in runs) == [
        ("coaching_system", "1.1", True),
        ("coaching_system", "1.1", True),
        ("creative_writing", "1.0", True),
        ("task_classification", "1.0", False),
        ("task_classification", "1.0", True),
    ]
    assert [r["error"] for r in runs if not r["success"]] == ["model error"]
    assert (project_dir / "prompts" / "creative_writing" / "1.0.md").is_file()
    assert cli.run(project_dir, "check").returncode == 0
    # The summary the program printed holds the CLI's figures.
    perf = cli.json(project_dir, "performance", "coaching_system", "--days", "30")["prompts"][0]["all"]
    line = next(l for l in out if l.startswith("coaching_system: ") and "executions" in l)
    assert line == (
        f"coaching_system: {perf['runs']} executions, success {perf['success_rate']:.1%}, "
        f"mean {perf['time_ms']['mean']:.1f}ms, length {perf['output_length_mean']:.0f}"
    )


def test_summary_keys_and_figures(project_dir, cli, monkeypatch):
    tracker = compat.PromptPerformanceTracker(str(project_dir))
    s = tracker.get_performance_summary("coaching_system")
    m = cli.json(project_dir, "performance", "coaching_system")["prompts"][0]["all"]
    assert s == {
        "total_executions": m["runs"],
        "successful_executions": m["successes"],
        "success_rate": m["success_rate"],
        "average_execution_time_ms": m["time_ms"]["mean"],
        "average_output_length": m["output_length_mean"],
        "average_quality_score": m["quality_mean"],
        "latest_execution": m["last_run"],
        "first_execution": m["first_run"],
        "time_period_days": None,
    }
    monkeypatch.setenv("PTRACK_NOW", "2027-06-01T00:00:00Z")
    assert tracker.get_performance_summary("coaching_system", days=1) == {"total_executions": 0}
    comparison = tracker.get_version_comparison("coaching_system")
    assert sorted(comparison) == ["1.0", "1.1"]
    assert comparison["1.0"]["total_executions"] == 93


def test_registry_lookups(project_dir):
    registry = compat.PromptRegistry(str(project_dir))
    latest = registry.get_latest_prompt("coaching_system")
    assert isinstance(latest, compat.PromptConfig)
    assert (latest.version, latest.model, latest.temperature, latest.token_limit) == ("1.1", "llama3.1:8b", 0.6, 400)
    assert latest.prompt == ptrack.Project(project_dir).get("coaching_system").text
    assert registry.get_prompt("coaching_system", "1.0").version == "1.0"
    assert registry.get_latest_prompt("nope") is None
    assert registry.get_prompt_versions("nope") == []
    assert compat.PromptConfig.from_dict(latest.to_dict()) == latest


def test_log_execution_is_checked_as_a_run(project_dir):
    tracker = compat.PromptPerformanceTracker(str(project_dir))
    with pytest.raises(ptrack.InvalidRun, match="missing `execution_time_ms`"):
        tracker.log_execution("coaching_system", "1.1", "out", compat.PerformanceMetrics())
    with pytest.raises(ptrack.InvalidRun, match="quality_score must be a number from 1 to 10, got 11"):
        tracker.log_execution("coaching_system", "1.1", "out", compat.PerformanceMetrics(execution_time_ms=5, quality_score=11))
    with pytest.raises(ptrack.PromptNotFound):
        tracker.log_execution("coaching_system", "3.0", "out", compat.PerformanceMetrics(execution_time_ms=5))
