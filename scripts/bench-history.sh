#!/usr/bin/env bash
# Benchmark: `ptrack history NAME` against `git log --name-status -- prompts/NAME` on one
# repository where every commit changes one of the prompt's version files. Whole process,
# median of N runs each (hyperfine when installed, else /usr/bin/time in a loop). Not a test:
# it prints figures.
#
#   scripts/bench-history.sh                    # 20,000 commits, 10,000 runs in the run log
#   COMMITS=2000 REPEAT=5 scripts/bench-history.sh
#   PTRACK=/path/to/ptrack scripts/bench-history.sh   # another build (default: cargo build --release)
#
# The repository is built once with `git fast-import` (seconds) and kept in
# $TMPDIR/ptrack-bench-history-$COMMITS-$RUNS; delete it to start over. Its first commit adds
# ptrack.toml and 20 other prompts; each of the COMMITS-1 commits after it rewrites
# prompts/coach/1.<i mod 10>.md. The run log (runs/coach/2026-11.jsonl, not committed) holds
# RUNS runs spread over the texts of the last commits, so history has figures to attach.
set -euo pipefail
cd "$(dirname "$0")/.."
COMMITS=${COMMITS:-20000}
RUNS=${RUNS:-10000}
REPEAT=${REPEAT:-10}
NAME=coach
DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/ptrack-bench-history-$COMMITS-$RUNS}
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1

if [ -z "${PTRACK:-}" ]; then
  cargo build --release --quiet
  PTRACK=$PWD/target/release/ptrack
fi

if [ ! -f "$DIR/.built" ]; then
  rm -rf "$DIR"
  mkdir -p "$DIR"
  git -C "$DIR" init -q -b main
  python3 - "$COMMITS" "$RUNS" "$NAME" "$DIR" <<'PY' | git -C "$DIR" fast-import --quiet
import hashlib, json, os, sys

commits, runs, name, root = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
out = sys.stdout.buffer

def data(b):
    out.write(b"data %d\n" % len(b) + b + b"\n")

def text(i):
    return (f"---\ngoal: Coach people through a hard week\nmodel: m\n---\n"
            f"You are a coach. Revision {i}: answer {{{{ user_name }}}} in {i % 7 + 2} sentences.\n").encode()

t0 = 1_700_000_000
files = {f"prompts/{name}/1.0.md": text(0), "ptrack.toml": b"", "README.md": b"bench\n"}
for k in range(20):
    files[f"prompts/other{k:02}/1.0.md"] = text(1000 + k)
blobs = {}  # blob sha -> version, for the run log
for i in range(commits):
    if i > 0:
        files = {f"prompts/{name}/1.{i % 10}.md": text(i)}
    out.write(b"commit refs/heads/main\n")
    out.write(b"committer Ada Tester <ada@example.com> %d +0000\n" % (t0 + 60 * i))
    data(b"edit %s %d" % (name.encode(), i))
    if i == 0:
        out.write(b"deleteall\n")
    for path, body in files.items():
        out.write(b"M 100644 inline %s\n" % path.encode())
        data(body)
        if path.startswith(f"prompts/{name}/") and i >= commits - max(1, runs // 10):
            sha = hashlib.sha1(b"blob %d\0" % len(body) + body).hexdigest()
            blobs[sha] = path.rsplit("/", 1)[1][:-3]
out.flush()

os.makedirs(f"{root}/runs/{name}", exist_ok=True)
with open(f"{root}/runs/{name}/2026-11.jsonl", "w") as f:
    shas = sorted(blobs)
    for r in range(runs):
        sha = shas[r % len(shas)]
        f.write(json.dumps({
            "id": f"0190{r:028x}", "ts": f"2026-11-{r % 28 + 1:02}T10:{r % 60:02}:00.000Z",
            "prompt": name, "version": blobs[sha], "prompt_sha": sha, "commit": None,
            "model": "m", "params": {}, "input": {}, "output": "ok",
            "execution_time_ms": 100.0 + r % 900, "token_count": 10, "output_length": 2,
            "success": r % 13 != 0, "error": None,
            "quality_score": r % 10 + 1,
        }, separators=(",", ":")) + "\n")
PY
  git -C "$DIR" reset -q --hard main
  git -C "$DIR" gc -q # packed, with a commit-graph, as a repository in use is
  touch "$DIR/.built"
fi

cd "$DIR"
git_log=(git log --name-status -- "prompts/$NAME")
# Both list every commit; check before timing them.
n_git=$(git log --format=%H -- "prompts/$NAME" | wc -l)
n_ptrack=$("$PTRACK" history "$NAME" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
if [ "$n_git" -ne "$COMMITS" ] || [ "$n_ptrack" -ne "$COMMITS" ]; then
  echo "expected $COMMITS commits; git log lists $n_git, ptrack history $n_ptrack" >&2
  exit 1
fi
"$PTRACK" history "$NAME" >/dev/null # prime the run cache in .ptrack/cache

declare -A median
if command -v hyperfine >/dev/null; then
  hyperfine --style basic --warmup 1 --runs "$REPEAT" --export-json bench.json \
    -n git-log "${git_log[*]}" \
    -n history "$PTRACK history $NAME" \
    -n history-json "$PTRACK history $NAME --json" >&2
  while read -r n m; do median[$n]=$m; done < <(python3 -c '
import json
for r in json.load(open("bench.json"))["results"]:
    print(r["command"], r["median"])')
  how="hyperfine, median of $REPEAT"
else
  measure() {
    local walls=() tmp
    tmp=$(mktemp)
    for _ in $(seq "$REPEAT"); do
      /usr/bin/time -o "$tmp" -f "%e" "$@" >/dev/null 2>&1
      walls+=("$(tail -1 "$tmp")")
    done
    rm -f "$tmp"
    printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
  }
  median[git-log]=$(measure "${git_log[@]}")
  median[history]=$(measure "$PTRACK" history "$NAME")
  median[history-json]=$(measure "$PTRACK" history "$NAME" --json)
  how="/usr/bin/time, median of $REPEAT"
fi

echo "$COMMITS commits, each changing prompts/$NAME/*.md; $RUNS runs; $how; $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf '| %-44s | %8s | %6s |\n' "command" "wall" "ratio"
printf '|%s|%s|%s|\n' "----------------------------------------------" "----------" "--------"
for n in git-log history history-json; do
  case $n in
    git-log) label="git log --name-status -- prompts/$NAME ($(git --version | cut -d' ' -f3))" ;;
    history) label="ptrack history $NAME" ;;
    history-json) label="ptrack history $NAME --json" ;;
  esac
  awk -v l="$label" -v w="${median[$n]}" -v g="${median[git-log]}" \
    'BEGIN { printf "| %-44s | %6.3f s | %5.2fx |\n", l, w, w / g }'
done
