"""Types of the native module (Rust, on the ptrack library)."""

import datetime
import os
import pathlib
from typing import Any, Dict, List, Optional, Tuple, Union

_When = Union[str, datetime.date, datetime.datetime, None]
_Json = Any

class PromptVersion:
    """One version of a prompt: its attributes and text, as its file gives them."""

    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def path(self) -> pathlib.Path:
        """The version file, relative to the project root."""
    @property
    def goal(self) -> Optional[str]: ...
    @property
    def model(self) -> Optional[str]: ...
    @property
    def provider(self) -> Optional[str]: ...
    @property
    def temperature(self) -> Optional[float]: ...
    @property
    def token_limit(self) -> Optional[int]: ...
    @property
    def top_k(self) -> Optional[int]: ...
    @property
    def top_p(self) -> Optional[float]: ...
    @property
    def tags(self) -> List[str]: ...
    @property
    def description(self) -> Optional[str]: ...
    @property
    def created_at(self) -> Optional[str]:
        """RFC 3339, when the file says."""
    @property
    def variables(self) -> Dict[str, Dict[str, str]]:
        """Input variables by name: ``{"description": ..., "default": ...}`` (the keys it has)."""
    @property
    def text(self) -> str:
        """The prompt text, before rendering."""
    @property
    def prompt_sha(self) -> str:
        """Git blob id of the version file, as runs store it."""
    def to_dict(self) -> Dict[str, _Json]: ...
    def render(self, **vars: _Json) -> str:
        """The text with ``vars`` filled in; raises ``RenderError`` for a missing variable."""
    def ollama_request(self, **vars: _Json) -> Dict[str, _Json]:
        """The body for Ollama's /api/generate (``ptrack render --format ollama``)."""
    def openai_request(self, **vars: _Json) -> Dict[str, _Json]:
        """The body for /v1/chat/completions (``ptrack render --format openai``)."""
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

class Project:
    """A ptrack project, found from ``path`` as the CLI finds it."""

    def __init__(self, path: Union[str, os.PathLike[str], None] = None) -> None: ...
    @property
    def root(self) -> pathlib.Path: ...
    def get(
        self, name: str, version: Optional[str] = None, label: Optional[str] = None
    ) -> PromptVersion:
        """``version``, the version ``label`` names, or the latest (``name`` may be
        ``NAME:LABEL``); raises ``PromptNotFound``."""
    def prompts(self) -> List[PromptVersion]:
        """The latest version of each prompt, by name."""
    def versions(self, name: str) -> List[PromptVersion]:
        """Every valid version of ``name``, oldest first."""
    def list(self) -> List[Dict[str, _Json]]:
        """What ``ptrack list --json`` prints."""
    def record(
        self,
        name: str,
        /,
        *,
        execution_time_ms: float,
        success: bool,
        version: Optional[str] = None,
        label: Optional[str] = None,
        output: Optional[str] = None,
        token_count: Optional[int] = None,
        quality_score: Optional[float] = None,
        feedback: Optional[str] = None,
        input: Optional[Dict[str, _Json]] = None,
        error: Optional[str] = None,
        **extra: _Json,
    ) -> str:
        """Record one run; returns its id. Checked as ``ptrack record --stdin`` checks a line:
        raises ``InvalidRun`` (naming the field and value) or ``PromptNotFound``."""
    def record_object(self, run: Dict[str, _Json]) -> str:
        """Record one run object, exactly as a line of ``ptrack record --stdin``."""
    def rate(
        self, run_id: str, quality: float, feedback: Optional[str] = None
    ) -> Dict[str, _Json]:
        """Rate a run (id or unique prefix); returns the rating (``ptrack rate --json``)."""
    def performance(
        self,
        name: Optional[str] = None,
        *,
        version: Optional[str] = None,
        label: Optional[str] = None,
        days: Optional[int] = None,
        since: _When = None,
        until: _When = None,
    ) -> Dict[str, _Json]:
        """What ``ptrack performance --json`` prints."""
    def compare(
        self,
        name: str,
        a: Optional[str] = None,
        b: Optional[str] = None,
        *,
        days: Optional[int] = None,
        since: _When = None,
        until: _When = None,
    ) -> Dict[str, _Json]:
        """What ``ptrack compare --json`` prints (``a`` and ``b``: versions or labels)."""
    def trends(
        self, name: str, *, days: int = 30, bucket: str = "day", version: Optional[str] = None
    ) -> Dict[str, _Json]:
        """What ``ptrack trends --json`` prints (``bucket``: ``"day"`` or ``"week"``)."""
    def resolve(
        self, name: str, label: Optional[str] = None, unit: Optional[str] = None
    ) -> Dict[str, _Json]:
        """What ``ptrack resolve --json`` prints."""
    def create(
        self,
        name: str,
        /,
        *,
        version: Optional[str] = None,
        from_version: Optional[str] = None,
        goal: Optional[str] = None,
        model: Optional[str] = None,
        temperature: Optional[float] = None,
        token_limit: Optional[int] = None,
        top_k: Optional[int] = None,
        top_p: Optional[float] = None,
        tags: Optional[List[str]] = None,
        text: Optional[str] = None,
    ) -> Dict[str, _Json]:
        """Write a new version file as ``ptrack create`` does (``ptrack create --json``)."""
    def _serve(
        self,
        name: str,
        version: Optional[str] = None,
        label: Optional[str] = None,
        unit: Optional[str] = None,
    ) -> Tuple[PromptVersion, Dict[str, _Json]]: ...
