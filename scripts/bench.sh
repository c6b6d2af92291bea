#!/usr/bin/env bash
# Benchmark: `ptrack performance` against the DuckDB CLI on the same run logs, whole process,
# median of N runs each, with peak memory. Not a test: it prints figures.
#
#   scripts/bench.sh                 # 1,000,000 runs: 50 prompts x 5 versions, 90 days
#   RUNS=10000 REPEAT=3 scripts/bench.sh
#
# Data: scripts/gen_runs.py --bench (fixed seed), split into runs/<prompt>/<YYYY-MM>.jsonl.
# DuckDB: the `duckdb` CLI, installed from PyPI (duckdb-cli) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-1000000}
REPEAT=${REPEAT:-5}
DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/ptrack-bench-$RUNS}

cargo build --release --quiet
PTRACK=$PWD/target/release/ptrack
if ! command -v duckdb >/dev/null; then
  python3 -m pip install -q duckdb-cli >&2
fi
if [ ! -d "$DIR/runs" ]; then
  mkdir -p "$DIR/prompts"
  python3 scripts/gen_runs.py --bench "$RUNS" --out "$DIR/runs" --prompts 50 --versions 5 --days 90 --seed 42 >&2
fi
cat >"$DIR/query.sql" <<'SQL'
SET threads = 2;
SELECT prompt, version, count(*) AS runs, avg(success::INT) AS success_rate,
       avg(execution_time_ms) AS mean_ms,
       quantile_cont(execution_time_ms, 0.5) AS p50, quantile_cont(execution_time_ms, 0.95) AS p95,
       quantile_cont(execution_time_ms, 0.99) AS p99,
       avg(token_count) AS tokens, avg(output_length) AS output_length, avg(quality_score) AS quality
FROM read_ndjson_auto('runs/*/*.jsonl')
WHERE type IS NULL OR type <> 'rating'
GROUP BY ALL ORDER BY ALL;
SQL

# median wall seconds and max peak KB of REPEAT runs of a command
measure() {
  local walls=() peaks=() out tmp
  tmp=$(mktemp)
  for _ in $(seq "$REPEAT"); do
    /usr/bin/time -o "$tmp" -f "%e %M" "$@" >/dev/null 2>&1
    out=$(tail -1 "$tmp")
    walls+=("${out% *}")
    peaks+=("${out#* }")
  done
  rm -f "$tmp"
  local wall peak
  wall=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  peak=$(printf '%s\n' "${peaks[@]}" | sort -g | tail -1)
  echo "$wall $peak"
}

cd "$DIR"
size=$(du -sm runs | cut -f1)
files=$(find runs -name '*.jsonl' | wc -l)
cat runs/*/*.jsonl >/dev/null # warm the page cache for both tools
read -r cat_wall cat_peak < <(measure sh -c 'cat runs/*/*.jsonl')
read -r duck_wall duck_peak < <(measure duckdb -c ".read query.sql")
read -r pt_wall pt_peak < <(measure "$PTRACK" performance --no-cache --json)
rm -rf .ptrack
"$PTRACK" performance --json >/dev/null # prime the cache
read -r warm_wall warm_peak < <(measure "$PTRACK" performance --json)
# Each round appends 1,000 new runs to one log, then queries: only the new bytes are read.
log=$(find runs -name '*.jsonl' | sort | head -1)
awk '!/"type":"rating"/ && n++ < 1000' "$log" >append.jsonl # runs only
append_and_query() {
  awk -v k="$RANDOM$RANDOM" '{ sub(/"id":"/, "\"id\":\"app" k "-" NR "-"); print }' append.jsonl >>"$log"
  "$PTRACK" performance --json
}
export -f append_and_query
export PTRACK log
read -r app_wall app_peak < <(measure bash -c append_and_query)
# The same, timed by hyperfine (millisecond resolution, the append not counted) when installed.
if command -v hyperfine >/dev/null; then
  append_runs() {
    awk -v k="$RANDOM$RANDOM" '{ sub(/"id":"/, "\"id\":\"app" k "-" NR "-"); print }' append.jsonl >>"$log"
  }
  export -f append_runs
  hyperfine --runs "$REPEAT" --warmup 1 -N --export-json hf-warm.json "$PTRACK performance --json" >/dev/null 2>&1
  hyperfine --runs "$REPEAT" --prepare "bash -c append_runs" -N --export-json hf-append.json \
    "$PTRACK performance --json" >/dev/null 2>&1
  median() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$1"; }
  warm_wall=$(median hf-warm.json)
  app_wall=$(median hf-append.json)
fi
echo "$RUNS runs, $size MB in $files files; median of $REPEAT; $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf '| %-34s | %8s | %11s |\n' "tool" "wall" "peak memory"
printf '|%s|%s|%s|\n' "------------------------------------" "----------" "-------------"
printf '| %-34s | %6.2f s | %8d MB |\n' "cat (the floor)" "$cat_wall" "$((cat_peak / 1024))"
printf '| %-34s | %6.2f s | %8d MB |\n' "DuckDB CLI $(duckdb --version | cut -d' ' -f1), 2 threads" "$duck_wall" "$((duck_peak / 1024))"
printf '| %-34s | %6.2f s | %8d MB |\n' "ptrack performance (no cache)" "$pt_wall" "$((pt_peak / 1024))"
printf '| %-34s | %6.3f s | %8d MB |\n' "ptrack, cache warm, nothing new" "$warm_wall" "$((warm_peak / 1024))"
printf '| %-34s | %6.3f s | %8d MB |\n' "ptrack, cache warm, +1,000 runs" "$app_wall" "$((app_peak / 1024))"
awk -v d="$duck_wall" -v p="$pt_wall" -v c="$cat_wall" \
  'BEGIN { printf "ptrack (no cache) takes %.2fx DuckDB'"'"'s time (%.2fx faster) and %.2fx cat'"'"'s\n", p / d, d / p, p / c }'
echo "(the appended runs stay in $DIR; delete it to start over)"
