"""Fixtures: a copy of the repository's example project, and the `ptrack` binary to compare with.

The binary is `$PTRACK_BIN`, else `target/debug/ptrack` of this repository (`cargo build`). With
CI=true a missing binary fails the tests that need it; elsewhere they are skipped, loudly.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, List

import pytest

REPO = Path(__file__).resolve().parents[2]
NOW = "2026-11-24T12:00:00Z"


@pytest.fixture(autouse=True)
def pinned_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock of both the package and the CLI (`PTRACK_NOW`), so figures are comparable."""
    monkeypatch.setenv("PTRACK_NOW", NOW)


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """A copy of the bundled example project (its prompts, runs, labels and experiments)."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("prompts", "runs"):
        shutil.copytree(REPO / name, root / name)
    for name in ("ptrack.toml", "labels.toml", "experiments.toml"):
        shutil.copy(REPO / name, root / name)
    return root


@pytest.fixture
def project(project_dir: Path) -> Any:
    import ptrack

    return ptrack.Project(project_dir)


class Cli:
    def __init__(self, binary: Path) -> None:
        self.binary = binary

    def run(self, cwd: Path, *args: str, stdin: str = "", check: bool = True) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PTRACK_") or k == "PTRACK_NOW"}
        env["NO_COLOR"] = "1"
        p = subprocess.run(
            [str(self.binary), *args],
            cwd=cwd,
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
        )
        if check and p.returncode != 0:
            raise AssertionError(f"ptrack {' '.join(args)} exited {p.returncode}: {p.stderr}")
        return p

    def json(self, cwd: Path, *args: str) -> Any:
        return json.loads(self.run(cwd, *args, "--json").stdout)


@pytest.fixture
def cli() -> Cli:
    binary = Path(os.environ.get("PTRACK_BIN") or REPO / "target" / "debug" / "ptrack")
    if not binary.is_file():
        message = f"the ptrack binary {binary} is missing: run `cargo build` or set PTRACK_BIN"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return Cli(binary)


def log_lines(root: Path) -> List[dict]:
    """Every line of every run log under `root/runs`, parsed."""
    out = []
    for f in sorted((root / "runs").rglob("*.jsonl")):
        out.extend(json.loads(line) for line in f.read_text(encoding="utf-8").splitlines() if line)
    return out


def run_with_id(root: Path, run_id: str) -> dict:
    """The logged line with this id (the run's, not a rating's)."""
    found = [r for r in log_lines(root) if r.get("id") == run_id]
    assert len(found) == 1, f"{run_id} is logged {len(found)} times"
    return found[0]


def last_line(root: Path, prompt: str) -> dict:
    """The last line appended to `prompt`'s log of the pinned month."""
    text = (root / "runs" / prompt / "2026-11.jsonl").read_text(encoding="utf-8")
    return json.loads(text.splitlines()[-1])
