"""The older Python tool's API, on ptrack: code written for it runs by changing its imports::

    from config.prompt_registry import prompt_registry, PromptConfig
    from utils.prompt_performance_tracker import performance_tracker, PerformanceMetrics

becomes::

    from ptrack.compat import prompt_registry, PromptConfig
    from ptrack.compat import performance_tracker, PerformanceMetrics

Prompts are the project's version files and executions are its runs, so the CLI, the
dashboard and this module see the same data. The project is found from the current folder when
first used (``PromptRegistry(path)`` and ``PromptPerformanceTracker(path)`` choose another).

The figures are ptrack's, as ``ptrack performance`` shows them: the means are over every run
that has the value (the older tool averaged over successful executions only), and times are
those of the run log. ``get_trend_analysis`` reports each day's median time (``p50_ms``), the
time ``ptrack trends`` shows.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional

from . import Project, PromptNotFound, PromptVersion

__all__ = [
    "PerformanceMetrics",
    "PromptConfig",
    "PromptPerformanceTracker",
    "PromptRegistry",
    "performance_tracker",
    "prompt_registry",
]


@dataclass
class PromptConfig:
    """A prompt version, with the older tool's field names."""

    name: str
    version: str
    goal: str
    model: str
    temperature: float
    token_limit: int
    top_k: Optional[int] = None
    top_p: Optional[float] = None
    prompt: str = ""
    output: Optional[str] = None
    created_at: Optional[_dt.datetime] = None
    performance_metrics: Optional[Dict[str, Any]] = None

    def __post_init__(self) -> None:
        if self.created_at is None:
            self.created_at = _dt.datetime.now()

    def to_dict(self) -> Dict[str, Any]:
        data = asdict(self)
        if self.created_at:
            data["created_at"] = self.created_at.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "PromptConfig":
        data = dict(data)
        if data.get("created_at"):
            data["created_at"] = _dt.datetime.fromisoformat(data["created_at"])
        return cls(**data)

    @classmethod
    def from_version(cls, v: PromptVersion) -> "PromptConfig":
        """The config of a ptrack prompt version."""
        created = v.created_at
        return cls(
            name=v.name,
            version=v.version,
            goal=v.goal or "",
            model=v.model or "",
            temperature=v.temperature,  # type: ignore[arg-type]
            token_limit=v.token_limit,  # type: ignore[arg-type]
            top_k=v.top_k,
            top_p=v.top_p,
            prompt=v.text,
            created_at=_dt.datetime.fromisoformat(created) if created else None,
        )


@dataclass
class PerformanceMetrics:
    """The metrics of one execution, with the older tool's field names."""

    execution_time_ms: Optional[float] = None
    token_count: Optional[int] = None
    output_length: Optional[int] = None
    success: bool = True
    error_message: Optional[str] = None
    user_feedback: Optional[str] = None
    quality_score: Optional[float] = None


class _Lazy:
    """Opens the project on first use, so importing this module never fails."""

    def __init__(self, path: Optional[str] = None) -> None:
        self._path = path
        self._project: Optional[Project] = None

    @property
    def project(self) -> Project:
        if self._project is None:
            self._project = Project(self._path or ".")
        return self._project


class PromptRegistry(_Lazy):
    """Prompt versions by name: ``prompts/<name>/<version>.md`` files."""

    def register_prompt(self, prompt_config: PromptConfig) -> str:
        """Write the config as a new version file (ptrack never overwrites a version)."""
        c = prompt_config
        self.project.create(
            c.name,
            version=c.version,
            goal=c.goal,
            model=c.model,
            temperature=c.temperature,
            token_limit=c.token_limit,
            top_k=c.top_k,
            top_p=c.top_p,
            text=c.prompt or None,
        )
        return f"{c.name}_v{c.version}"

    def get_prompt(self, name: str, version: Optional[str] = None) -> Optional[PromptConfig]:
        """A version (default: the latest), or None."""
        try:
            return PromptConfig.from_version(self.project.get(name, version))
        except PromptNotFound:
            return None

    def get_latest_prompt(self, name: str) -> Optional[PromptConfig]:
        """The latest version, or None."""
        return self.get_prompt(name)

    def list_prompts(self) -> List[str]:
        """Every prompt's name."""
        return [v.name for v in self.project.prompts()]

    def get_prompt_versions(self, name: str) -> List[PromptConfig]:
        """Every version of a prompt, oldest first."""
        try:
            return [PromptConfig.from_version(v) for v in self.project.versions(name)]
        except PromptNotFound:
            return []

    def get_performance_summary(self, prompt_name: str) -> Dict[str, Any]:
        """The prompt's summary over every run (see ``PromptPerformanceTracker``)."""
        return _summary(self.project, prompt_name, None)


class PromptPerformanceTracker(_Lazy):
    """Executions of prompt versions: the project's runs."""

    def log_execution(
        self,
        prompt_name: str,
        prompt_version: str,
        output: str,
        metrics: PerformanceMetrics,
        input_data: Optional[Dict[str, Any]] = None,
    ) -> str:
        """Record one execution as a run; returns its id. It is checked as
        ``ptrack record --stdin`` checks a line (``execution_time_ms`` is required)."""
        extra: Dict[str, Any] = {}
        if metrics.output_length is not None:
            extra["output_length"] = metrics.output_length
        return self.project.record(
            prompt_name,
            version=prompt_version,
            # None is the library's to reject, with its message.
            execution_time_ms=metrics.execution_time_ms,  # type: ignore[arg-type]
            success=metrics.success,
            output=output,
            token_count=metrics.token_count,
            quality_score=metrics.quality_score,
            feedback=metrics.user_feedback,
            error=metrics.error_message,
            input=input_data or {},
            **extra,
        )

    def get_performance_summary(
        self, prompt_name: str, days: Optional[int] = None
    ) -> Dict[str, Any]:
        """``total_executions``, ``successful_executions``, ``success_rate``, the means, first
        and latest execution, over the last ``days`` days (default: every run)."""
        return _summary(self.project, prompt_name, days)

    def get_version_comparison(self, prompt_name: str) -> Dict[str, Any]:
        """The same figures per version."""
        perf = self.project.performance(prompt_name)
        out: Dict[str, Any] = {}
        for p in perf["prompts"]:
            for v in p["versions"]:
                m = v["metrics"]
                row = _figures(m)
                del row["successful_executions"], row["first_execution"]
                out[v["version"]] = row
        return out

    def get_trend_analysis(self, prompt_name: str, days: int = 30) -> Dict[str, Any]:
        """Daily success rates and median times over the last ``days`` days."""
        t = self.project.trends(prompt_name, days=days)
        rows = [r for r in t["overall"] if r["runs"] > 0]
        total = sum(r["runs"] for r in rows)
        if total < 2:
            return {"insufficient_data": True}
        rates = [r["success_rate"] for r in rows]
        return {
            "analysis_period_days": days,
            "total_executions": total,
            "daily_success_rates": rates,
            "daily_avg_times": [r["p50_ms"] for r in rows if r["p50_ms"] is not None],
            "overall_trend": "improving" if len(rates) > 1 and rates[-1] > rates[0] else "stable",
        }


def _figures(m: Dict[str, Any]) -> Dict[str, Any]:
    time_ms = m.get("time_ms") or {}
    return {
        "total_executions": m["runs"],
        "successful_executions": m["successes"],
        "success_rate": m["success_rate"],
        "average_execution_time_ms": time_ms.get("mean"),
        "average_output_length": m["output_length_mean"],
        "average_quality_score": m["quality_mean"],
        "latest_execution": m["last_run"],
        "first_execution": m["first_run"],
    }


def _summary(project: Project, prompt_name: str, days: Optional[int]) -> Dict[str, Any]:
    perf = project.performance(prompt_name, days=days)
    for p in perf["prompts"]:
        if p["prompt"] == prompt_name and p["all"]["runs"] > 0:
            return {**_figures(p["all"]), "time_period_days": days}
    return {"total_executions": 0}


#: The registry of the project in the current folder, as the older tool's module offered it.
prompt_registry = PromptRegistry()
#: The tracker of the project in the current folder.
performance_tracker = PromptPerformanceTracker()
