"""The GIL is released while the library works: a thread that waits inside `record` for the
log's lock (held here) leaves the other threads running Python code. Were the GIL held, the
program below could never get past its first sleep, and its time limit fails the test."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import log_lines

PROGRAM = textwrap.dedent(
    """
    import fcntl, sys, threading, time
    import ptrack

    project = ptrack.Project(sys.argv[1])
    log = open(sys.argv[2], "a")
    fcntl.flock(log, fcntl.LOCK_EX)
    ids = []
    t = threading.Thread(
        target=lambda: ids.append(project.record("coaching_system", execution_time_ms=1, success=True)))
    t.start()

    def waiting_for_the_lock():
        task = f"/proc/self/task/{t.native_id}/"
        with open(task + "wchan") as f:
            wchan = f.read()
        with open(task + "stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return "lock" in wchan or (wchan in ("", "0") and state == "S")

    for _ in range(3000):
        time.sleep(0.01)
        if waiting_for_the_lock():
            break
    else:
        sys.exit("the recording thread never waited for the lock")
    # This thread runs Python while the other is inside the library.
    busy = sum(i * i for i in range(100_000))
    assert not ids, "the run cannot be written while the lock is held"
    fcntl.flock(log, fcntl.LOCK_UN)
    t.join()
    print(ids[0], busy > 0)
    """
)


def test_a_thread_waiting_in_record_does_not_hold_the_gil(project_dir):
    log = project_dir / "runs" / "coaching_system" / "2026-11.jsonl"
    p = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(project_dir), str(log)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    run_id, busy = p.stdout.split()
    assert busy == "True"
    assert [r for r in log_lines(project_dir) if r.get("id") == run_id]
