#!/usr/bin/env python3
"""Run the README's Spark SQL and ClickHouse queries over a Parquet export and compare every
figure with ``ptrack performance --json``.

Usage (scripts/check-engines.sh sets it up: the build, the virtual environment, Java)::

    python3 scripts/check_engines.py --ptrack target/release/ptrack [--readme README.md]
        [--engines spark,clickhouse] [--keep DIR]

The project it makes has three prompts, versions 1.0, 1.1, 1.2, 1.10 and 2.0 (1.10 is not
1.1, and sorts after 1.2), runs in three months, failures, runs without token counts or
quality, ratings given later as separate lines, blank feedback, unicode and long outputs,
fields ptrack does not know, and one bad line. The SQL comes from the README blocks marked
``<!-- sql: spark -->`` and ``<!-- sql: clickhouse -->``, with their folder ``runs-pq``
replaced by the export's, so the README is what is checked.

The rules are those of tests/cli/parquet.rs, which runs the DuckDB block: one row per
(prompt, version) and one per prompt with a null version for all versions, in ptrack's order;
counts equal; floats, rounded to 14 significant digits as ``--json`` rounds them, within a
relative 1e-9; first and last run times equal to the microsecond. Prints PASS or FAIL per
engine and exits 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

NOW = "2026-11-24T12:00:00Z"
PROMPTS = ["alpha", "beta-2", "c_3"]
VERSIONS = ["1.0", "1.1", "1.10", "2.0"]
COUNTS = ["runs", "successes", "tokens_total", "quality_n", "feedback_count"]
# (key in `performance --json` metrics, column of the SQL); time_ms.* are nested.
FLOATS = [
    ("success_rate", "success_rate"),
    ("time_ms.mean", "time_mean_ms"),
    ("time_ms.min", "min_ms"),
    ("time_ms.max", "max_ms"),
    ("time_ms.p50", "p50_ms"),
    ("time_ms.p95", "p95_ms"),
    ("time_ms.p99", "p99_ms"),
    ("tokens_mean", "tokens_mean"),
    ("output_length_mean", "output_length_mean"),
    ("quality_mean", "quality_mean"),
]
TIMES = ["first_run", "last_run"]

Row = dict[str, Any]


def make_project(root: Path, seed: int = 17) -> None:
    """Prompt files and run logs of a varied project under `root` (ptrack init done)."""
    rng = random.Random(seed)
    versions = {p: list(VERSIONS) for p in PROMPTS}
    versions["beta-2"].insert(2, "1.2")  # text order would put 1.10 before 1.2
    for p, vs in versions.items():
        for v in vs:
            f = root / "prompts" / p / f"{v}.md"
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text("---\ngoal: Say hi.\nmodel: m\n---\nHi {{ who }}\n", encoding="utf-8")
    logs: dict[str, list[str]] = {}
    ratings = []
    i = 0
    for p, vs in versions.items():
        for vi, v in enumerate(vs):
            # A version with one run, and one with two, test the quantiles' edges.
            runs = {("c_3", 0): 1, ("c_3", 1): 2}.get((p, vi), 20 + rng.randrange(40))
            for _ in range(runs):
                i += 1
                month = rng.choice(["2026-09", "2026-10", "2026-11"])
                ts = (
                    f"{month}-{1 + rng.randrange(28):02}T{rng.randrange(24):02}:"
                    f"{rng.randrange(60):02}:{rng.randrange(60):02}.{rng.randrange(1000):03}Z"
                )
                success = rng.random() < 0.8
                ms = rng.randrange(2_000_000) / 1000.0 + (30_000.0 if rng.random() < 0.05 else 0)
                output = rng.choice(
                    [
                        "Grüße, 世界! ✓ — «ok» 🚀",
                        "long " * 3000,
                        "",
                        f'answer {i}\nwith a second line, a "quote" and a, comma',
                    ]
                )
                run: dict[str, Any] = {
                    "id": f"run-{i:05}",
                    "ts": ts,
                    "prompt": p,
                    "version": v,
                    "model": None if rng.random() < 0.3 else "m",
                    "params": {"temperature": 0.5},
                    "input": {"who": "Zoë"},
                    "output": output,
                    "execution_time_ms": ms,
                    "success": success,
                    "error": None if success else "timeout",
                }
                if rng.random() < 0.75:
                    run["token_count"] = rng.randrange(900)
                    run["prompt_tokens"] = rng.randrange(500)
                    run["completion_tokens"] = rng.randrange(400)
                if rng.random() < 0.5:
                    run["quality_score"] = 1 + rng.randrange(10)
                extra = rng.randrange(5)
                if extra == 0:
                    run["feedback"] = "clear"
                elif extra == 1:
                    run["feedback"] = "  \n"
                elif extra == 2:
                    run["tags"] = ["a", "b"]
                if rng.random() < 0.125:
                    ratings.append((p, run["id"], 1 + rng.randrange(10), rng.randrange(3)))
                logs.setdefault(f"{p}/{month}.jsonl", []).append(json.dumps(run))
    for n, (p, run_id, q, fb) in enumerate(ratings):
        rating: dict[str, Any] = {
            "type": "rating",
            "id": f"rating-{n}",
            "ts": "2026-11-23T10:00:00Z",
            "run_id": run_id,
            "prompt": p,
            "quality_score": q,
        }
        if fb == 0:
            rating["feedback"] = ""
        elif fb == 1:
            rating["feedback"] = "later ✓"
        logs.setdefault(f"{p}/2026-11.jsonl", []).append(json.dumps(rating, ensure_ascii=False))
    # One bad line: skipped with a warning.
    logs["alpha/2026-10.jsonl"].append(
        '{"id":"broken","ts":"2026-10-01T00:00:00Z","prompt":"alpha"'
    )
    for rel, lines in logs.items():
        f = root / "runs" / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("\n".join(lines) + "\n", encoding="utf-8")


def ptrack(exe: str, root: Path, config: Path, *args: str) -> str:
    env = dict(os.environ)
    env.update(
        PTRACK_NOW=NOW,
        HOME=str(root),
        PTRACK_CONFIG_DIR=str(config),
        GIT_CONFIG_GLOBAL="/dev/null",
        GIT_CONFIG_NOSYSTEM="1",
        NO_COLOR="1",
    )
    env.pop("XDG_CONFIG_HOME", None)
    r = subprocess.run([exe, *args], check=False, cwd=root, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"error: ptrack {' '.join(args)} exited {r.returncode}:\n{r.stderr}")
    return r.stdout


def readme_sql(readme: str, marker: str, folder: Path) -> str:
    """The ```sql block after `marker`, with its folder `runs-pq` replaced by `folder`."""
    m = re.search(re.escape(marker) + r"\s*```sql\n(.*?)```", readme, re.DOTALL)
    if not m:
        sys.exit(f"error: README.md has no ```sql block after {marker}")
    sql = m.group(1)
    if "runs-pq" not in sql:
        sys.exit(f"error: the {marker} block does not read runs-pq")
    return sql.replace("runs-pq", str(folder))


def statements(sql: str) -> list[str]:
    return [s.strip() for s in re.split(r";\s*(?:\n|$)", sql) if s.strip()]


def utc_text(v: Any) -> Any:
    """Datetimes as RFC 3339 UTC text with microseconds; naive ones are UTC (TZ=UTC)."""
    if isinstance(v, dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=dt.UTC)
        return v.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return v


def run_spark(sql: str) -> list[Row]:
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("ptrack-check-engines")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        df = None
        for stmt in statements(sql):
            df = spark.sql(stmt)
        assert df is not None, "no statement"
        return [{k: utc_text(v) for k, v in r.asDict().items()} for r in df.collect()]
    finally:
        spark.stop()


def run_clickhouse(sql: str) -> list[Row]:
    import chdb

    table = chdb.query(sql, "ArrowTable")
    return [{k: utc_text(v) for k, v in r.items()} for r in table.to_pylist()]


ENGINES: dict[str, tuple[str, Callable[[str], list[Row]]]] = {
    "spark": ("<!-- sql: spark -->", run_spark),
    "clickhouse": ("<!-- sql: clickhouse -->", run_clickhouse),
}


def round14(x: float) -> float:
    """As ptrack::json::round_floats: 14 significant digits."""
    return float(f"{x:.13e}") if x != 0 and math.isfinite(x) else x


def metric(m: Row, key: str) -> Any:
    v: Any = m
    for part in key.split("."):
        v = v.get(part) if isinstance(v, dict) else None
    return v


def compare_row(m: Row, row: Row, what: str) -> list[str]:
    """Mismatches between one metrics object of `performance --json` and one SQL row."""
    bad = []
    for k in COUNTS:
        a, b = m.get(k), row.get(k)
        if isinstance(b, float) and b.is_integer():
            b = int(b)
        if a != b or isinstance(b, bool):
            bad.append(f"{what}: {k}: ptrack {a!r} vs SQL {b!r}")
    for k, col in FLOATS:
        a, b = metric(m, k), row.get(col)
        if a is None or b is None:
            if a is not None or b is not None:
                bad.append(f"{what}: {col}: ptrack {a!r} vs SQL {b!r}")
            continue
        try:
            x, y = float(a), round14(float(b))
        except (TypeError, ValueError):
            bad.append(f"{what}: {col}: SQL {b!r} is not a number")
            continue
        scale = max(abs(x), abs(y), sys.float_info.min)
        if abs(x - y) / scale > 1e-9:
            bad.append(
                f"{what}: {col}: ptrack {x!r} vs SQL {y!r} (relative {abs(x - y) / scale:.2e})"
            )
    for k in TIMES:
        a, b = m.get(k), row.get(k)
        try:
            same = dt.datetime.fromisoformat(str(a)) == dt.datetime.fromisoformat(str(b))
        except ValueError:
            same = False
        if not same:
            bad.append(f"{what}: {k}: ptrack {a!r} vs SQL {b!r}")
    return bad


def compare(perf: Row, rows: list[Row]) -> tuple[int, list[str]]:
    """(rows checked, mismatches) of the SQL rows against every row of `performance --json`."""
    bad = []
    by_key: dict[tuple[Any, Any], Row] = {}
    got_order = []
    for r in rows:
        key = (r.get("prompt"), r.get("version"))
        got_order.append(key)
        if key in by_key:
            bad.append(f"a row twice: {key}")
        by_key[key] = r
    want_order = []
    for p in perf["prompts"]:
        name = p["prompt"]
        for v in p["versions"]:
            want_order.append((name, v["version"]))
        want_order.append((name, None))
        for v in p["versions"]:
            key = (name, v["version"])
            if key not in by_key:
                bad.append(f"no SQL row for {name} {v['version']}")
            else:
                bad += compare_row(v["metrics"], by_key[key], f"{name} {v['version']}")
        if (name, None) not in by_key:
            bad.append(f"no SQL row for {name}, all versions (version null)")
        else:
            bad += compare_row(p["all"], by_key[(name, None)], f"{name} all versions")
    extra = [k for k in got_order if k not in set(want_order)]
    if extra:
        bad.append(f"SQL rows that ptrack has not: {extra}")
    if not bad and got_order != want_order:
        bad.append(f"rows not in ptrack's order:\n  ptrack {want_order}\n  SQL    {got_order}")
    if len(want_order) < 15:
        bad.append(f"the data set has only {len(want_order)} rows of figures")
    return len(want_order), bad


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ptrack", required=True, help="the ptrack binary")
    ap.add_argument("--readme", default=str(Path(__file__).resolve().parent.parent / "README.md"))
    ap.add_argument("--engines", default="spark,clickhouse")
    ap.add_argument("--keep", help="make the project in this (new) folder and keep it")
    args = ap.parse_args()
    os.environ["TZ"] = "UTC"
    time.tzset()
    exe = str(Path(args.ptrack).resolve())
    readme = Path(args.readme).read_text(encoding="utf-8")
    names = [e for e in args.engines.split(",") if e]
    for e in names:
        if e not in ENGINES:
            sys.exit(f"error: unknown engine {e!r} (known: {', '.join(ENGINES)})")

    tmp = None if args.keep else tempfile.TemporaryDirectory(prefix="ptrack-engines-")
    root = Path(args.keep or tmp.name)  # type: ignore[union-attr]
    root.mkdir(parents=True, exist_ok=True)
    config = root / ".config-ptrack"
    config.mkdir(exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    ptrack(exe, root, config, "init")
    make_project(root)
    ptrack(exe, root, config, "export", "--format", "parquet", "--output", "pq")
    perf = json.loads(ptrack(exe, root, config, "performance", "--json"))

    results = []
    for e in names:
        marker, runner = ENGINES[e]
        sql = readme_sql(readme, marker, root / "pq")
        start = time.monotonic()
        try:
            n, bad = compare(perf, runner(sql))
        except Exception as err:  # noqa: BLE001 (a query that does not run is a failure too)
            n, bad = 0, [f"the query failed: {type(err).__name__}: {err}"]
        secs = time.monotonic() - start
        results.append((e, n, bad, secs))
        for b in bad[:40]:
            print(f"  {e}: {b}")
        if len(bad) > 40:
            print(f"  {e}: ... and {len(bad) - 40} more")

    print("engine        result  rows  seconds")
    for e, n, bad, secs in results:
        print(f"{e:<13} {'FAIL' if bad else 'PASS':<7} {n:>4}  {secs:7.1f}")
    if tmp:
        tmp.cleanup()
    return 1 if any(bad for _, _, bad, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
