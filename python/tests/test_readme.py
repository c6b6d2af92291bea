"""The README's example ("Using ptrack from Python") runs as written, in the bundled project."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import REPO, log_lines


def readme_example() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Using ptrack from Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "one Python example"
    return blocks[0]


def test_the_readme_example_runs_as_written(project_dir):
    before = len(log_lines(project_dir))
    p = subprocess.run([sys.executable, "-c", readme_example()], cwd=project_dir, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    out = p.stdout.splitlines()
    assert out[0] == "1.0 llama3.1:8b 0.8"
    assert any(line.startswith("recorded ") for line in out)
    assert "1.1 vs 1.0" in p.stdout
    assert out[-1] == "7 days"
    # Two runs and a rating.
    assert len(log_lines(project_dir)) == before + 3
