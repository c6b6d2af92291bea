"""ptrack from Python: load and render prompt versions kept in git, record their runs, and read
the same metrics as the ``ptrack`` command line, computed by the same Rust library.

>>> import ptrack
>>> project = ptrack.Project()                      # found as the CLI finds it
>>> v = project.get("coaching_system", label="production")
>>> text = v.render(user_name="Sam", user_message="I keep procrastinating")
>>> with project.track("coaching_system", user_name="Sam", user_message="Hi") as t:
...     t.output = call_the_model(t.text)
>>> project.performance("coaching_system")["prompts"][0]["all"]["success_rate"]
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Dict, Optional

from . import _native
from ._errors import (
    Error,
    InvalidRun,
    ProjectNotFound,
    PromptNotFound,
    RenderError,
    RunLogWarning,
    RunNotFound,
)
from ._native import PromptVersion

__all__ = [
    "Error",
    "InvalidRun",
    "Project",
    "ProjectNotFound",
    "PromptNotFound",
    "PromptVersion",
    "RenderError",
    "RunLogWarning",
    "RunNotFound",
    "Track",
]

__version__ = "0.1.0"


class Project(_native.Project):
    """A ptrack project: ``Project(path=".")`` opens the one that holds ``path``."""

    def track(
        self,
        name: str,
        /,
        *,
        version: Optional[str] = None,
        label: Optional[str] = None,
        unit: Optional[str] = None,
        **variables: Any,
    ) -> "Track":
        """Time one execution of prompt ``name`` and record it as a run when the block ends.

        The version is ``version``, else the one ``label`` names (with ``unit``, the unit's
        variant when an experiment runs on the label), else the latest; it is rendered with
        ``variables`` on entering. Use ``with`` or ``async with``.
        """
        return Track(self, name, version, label, unit, variables)


class Track:
    """One execution being timed (``project.track(...)``): ``prompt`` and ``text`` on entry;
    set ``output`` (and ``token_count``, ``quality_score``, ``feedback``, ``extra``) in the
    block. On exit one run is recorded: a success, or a failure with the exception's text when
    the block raised (the exception still propagates). ``run_id`` is the run's id after exit.
    """

    prompt: PromptVersion
    text: str

    def __init__(
        self,
        project: Project,
        name: str,
        version: Optional[str],
        label: Optional[str],
        unit: Optional[str],
        variables: Dict[str, Any],
    ) -> None:
        self._project = project
        self._name = name
        self._version = version
        self._label = label
        self._unit = unit
        self._variables = variables
        self._fields: Dict[str, Any] = {}
        self._start: Optional[float] = None
        self.output: Optional[str] = None
        self.token_count: Optional[int] = None
        self.quality_score: Optional[float] = None
        self.feedback: Optional[str] = None
        self.extra: Dict[str, Any] = {}
        self.run_id: Optional[str] = None

    def _begin(self) -> None:
        prompt, fields = self._project._serve(self._name, self._version, self._label, self._unit)
        self.text = prompt.render(**self._variables)
        self.prompt = prompt
        self._fields = fields

    def _finish(self, error: Optional[BaseException], elapsed_ms: float) -> None:
        run: Dict[str, Any] = {
            "prompt": self.prompt.name,
            "version": self.prompt.version,
            **self._fields,
            "execution_time_ms": elapsed_ms,
            "success": error is None,
        }
        for key in ("output", "token_count", "quality_score", "feedback"):
            value = getattr(self, key)
            if value is not None:
                run[key] = value
        if self._variables:
            run["input"] = self._variables
        if error is not None:
            run["error"] = str(error) or type(error).__name__
        run.update(self.extra)
        self.run_id = self._project.record_object(run)

    def _elapsed_ms(self) -> float:
        assert self._start is not None, "the block was entered"
        return (time.perf_counter() - self._start) * 1000.0

    def __enter__(self) -> "Track":
        self._begin()
        self._start = time.perf_counter()
        return self

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> None:
        self._finish(exc, self._elapsed_ms())

    async def __aenter__(self) -> "Track":
        await asyncio.to_thread(self._begin)
        self._start = time.perf_counter()
        return self

    async def __aexit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> None:
        elapsed = self._elapsed_ms()
        await asyncio.to_thread(self._finish, exc, elapsed)
