"""Concurrent `record` calls, from threads and from processes, lose and repeat nothing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

from conftest import log_lines

THREADS, PER_THREAD = 8, 100
PROCESSES, PER_PROCESS = 4, 100


def count_log_lines(root) -> int:
    return sum(len(f.read_text(encoding="utf-8").splitlines()) for f in (root / "runs").rglob("*.jsonl"))


def test_threads_appending_at_once_lose_nothing(project, project_dir):
    before = count_log_lines(project_dir)

    def work(t: int):
        return [
            project.record("coaching_system", execution_time_ms=i, success=True, output="x" * 2000, worker=f"t{t}")
            for i in range(PER_THREAD)
        ]

    with ThreadPoolExecutor(THREADS) as pool:
        ids = [i for batch in pool.map(work, range(THREADS)) for i in batch]
    assert count_log_lines(project_dir) == before + THREADS * PER_THREAD
    assert len(set(ids)) == THREADS * PER_THREAD
    logged = [r["id"] for r in log_lines(project_dir) if str(r.get("worker", "")).startswith("t")]
    assert sorted(logged) == sorted(ids), "each id exactly once, every line whole"


def test_processes_appending_at_once_lose_nothing(project_dir):
    before = count_log_lines(project_dir)
    script = textwrap.dedent(
        f"""
        import sys, ptrack
        p = ptrack.Project(sys.argv[1])
        for i in range({PER_PROCESS}):
            print(p.record("coaching_system", execution_time_ms=i, success=True,
                           output="y" * 3000, worker="p" + sys.argv[2]))
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(project_dir), str(n)], stdout=subprocess.PIPE, text=True)
        for n in range(PROCESSES)
    ]
    ids = []
    for p in procs:
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0
        ids.extend(out.split())
    assert count_log_lines(project_dir) == before + PROCESSES * PER_PROCESS
    assert len(ids) == len(set(ids)) == PROCESSES * PER_PROCESS
    logged = [r["id"] for r in log_lines(project_dir) if str(r.get("worker", "")).startswith("p")]
    assert sorted(logged) == sorted(ids)
