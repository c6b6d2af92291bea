"""`project.track`: one run per block, timed, from plain code, threads and asyncio."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import ptrack
from conftest import log_lines, run_with_id


def test_a_block_that_ends_is_a_success_with_its_output(project, project_dir):
    with project.track("coaching_system", user_message="Hi", user_name="Sam") as t:
        assert (t.prompt.name, t.prompt.version) == ("coaching_system", "1.1")
        assert t.text == t.prompt.render(user_message="Hi", user_name="Sam")
        time.sleep(0.05)
        t.output = "Hello Sam"
        t.token_count = 12
        t.extra["request_id"] = "abc"
    run = run_with_id(project_dir, t.run_id)
    assert (run["success"], run["error"], run["output"], run["token_count"]) == (True, None, "Hello Sam", 12)
    assert run["input"] == {"user_message": "Hi", "user_name": "Sam"}
    assert run["request_id"] == "abc"
    assert 50 <= run["execution_time_ms"] < 5000


def test_a_block_that_raises_is_a_failure_and_the_exception_propagates(project, project_dir):
    with pytest.raises(TimeoutError, match="timeout after 30s"):
        with project.track("coaching_system", version="1.0", user_message="Hi") as t:
            raise TimeoutError("timeout after 30s")
    run = run_with_id(project_dir, t.run_id)
    assert (run["version"], run["success"], run["error"]) == ("1.0", False, "timeout after 30s")
    with pytest.raises(KeyError):
        with project.track("coaching_system", user_message="Hi") as t:
            raise KeyError("k")
    assert run_with_id(project_dir, t.run_id)["error"] == "'k'"


def test_a_label_and_a_unit_serve_and_record_the_experiment_variant(project, project_dir):
    want = project.resolve("coaching_system", "production", "user-1")
    with project.track("coaching_system", label="production", unit="user-1", user_message="Hi") as t:
        t.output = "ok"
    assert t.prompt.version == want["version"]
    run = run_with_id(project_dir, t.run_id)
    assert (run["label"], run["experiment"], run["unit"], run["variant"]) == (
        "production", "brief_answers", "user-1", want["variant"])
    with project.track("coaching_system:staging", user_message="Hi") as t:
        pass
    run = run_with_id(project_dir, t.run_id)
    assert (run["version"], run["label"]) == ("1.1", "staging")


def test_a_missing_variable_fails_on_entry_and_records_nothing(project, project_dir):
    before = len(log_lines(project_dir))
    with pytest.raises(ptrack.RenderError, match="missing variable `user_message`"):
        with project.track("coaching_system"):
            pytest.fail("the block does not run")
    assert len(log_lines(project_dir)) == before


def test_async_with_records_from_asyncio_tasks(project, project_dir):
    async def one(i: int) -> str:
        async with project.track("task_classification", task=f"task {i}") as t:
            await asyncio.sleep(0.01)
            if i % 3 == 0:
                raise ValueError(f"bad {i}")
            t.output = f"[{i}]"
        return t.run_id

    async def main():
        return await asyncio.gather(*(one(i) for i in range(12)), return_exceptions=True)

    results = asyncio.run(main())
    errors = [r for r in results if isinstance(r, ValueError)]
    assert len(errors) == 4
    runs = [r for r in log_lines(project_dir) if r.get("prompt") == "task_classification" and r.get("input", {}).get("task", "").startswith("task ")]
    assert len(runs) == 12
    assert sorted(r["success"] for r in runs) == [False] * 4 + [True] * 8
    assert all(r["execution_time_ms"] >= 10 for r in runs)


def test_track_from_threads(project, project_dir):
    ids = []
    lock = threading.Lock()

    def work(i: int) -> None:
        with project.track("task_classification", task=f"thread {i}") as t:
            t.output = str(i)
        with lock:
            ids.append(t.run_id)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    logged = [r["id"] for r in log_lines(project_dir) if r.get("input", {}).get("task", "").startswith("thread ")]
    assert sorted(logged) == sorted(ids) and len(set(ids)) == 16
