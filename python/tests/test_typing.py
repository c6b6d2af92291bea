"""The package is typed: mypy --strict accepts it and a program that uses it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ptrack

USE = textwrap.dedent(
    """
    import ptrack
    from ptrack.compat import PerformanceMetrics, performance_tracker, prompt_registry

    p = ptrack.Project(".")
    v: ptrack.PromptVersion = p.get("coaching_system", label="production")
    text: str = v.render(user_message="hi")
    body: dict[str, object] = v.openai_request(user_message="hi")
    run_id: str = p.record("coaching_system", execution_time_ms=1.0, success=True)
    with p.track("coaching_system", user_message="x") as t:
        t.output = "y"
    perf = p.performance("coaching_system", days=3)
    config = prompt_registry.get_latest_prompt("coaching_system")
    summary = performance_tracker.get_performance_summary("coaching_system", days=30)
    performance_tracker.log_execution("coaching_system", "1.1", "out", PerformanceMetrics(execution_time_ms=3))
    try:
        p.get("nope")
    except ptrack.PromptNotFound as e:
        print(e)
    """
)


def test_mypy_strict_accepts_the_package_and_its_use(tmp_path: Path) -> None:
    try:
        import mypy  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("mypy is not installed; CI installs it with the package")
        pytest.skip("mypy is not installed")
    use = tmp_path / "use.py"
    use.write_text(USE, encoding="utf-8")
    package = Path(ptrack.__file__).parent
    p = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "-p", "ptrack", "-m", "use"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert (package / "py.typed").is_file()
    assert (package / "_native.pyi").is_file()
