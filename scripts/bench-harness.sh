#!/usr/bin/env bash
# Benchmark: the harness overhead of `ptrack run` against `promptfoo eval` on the same cases,
# sent to the same instant local OpenAI-compatible server, at concurrency 1 and 8. Whole
# process, median of N runs each (hyperfine when installed, else /usr/bin/time in a loop),
# reported as cases per second. Not a test: it prints figures.
#
#   scripts/bench-harness.sh                  # 2,000 cases, median of 3
#   CASES=500 REPEAT=5 scripts/bench-harness.sh
#   PTRACK=/path/to/ptrack scripts/bench-harness.sh   # another build (default: cargo build --release)
#
# The server is a few lines of Node (`http`, one process per core) answering every POST with
# the same chat completion at once; wrk measures what it does alone (when installed), so it is
# known not to be the bottleneck. promptfoo (npm package `promptfoo`, PROMPTFOO_VERSION) is
# installed once into $TMPDIR/ptrack-bench-promptfoo; telemetry, update checks and its cache
# are off.
set -euo pipefail
cd "$(dirname "$0")/.."
CASES=${CASES:-2000}
REPEAT=${REPEAT:-3}
PROMPTFOO_VERSION=${PROMPTFOO_VERSION:-latest}
TMP=${TMPDIR:-/tmp}
PF=$TMP/ptrack-bench-promptfoo
DIR=$TMP/ptrack-bench-harness-$CASES

if [ -z "${PTRACK:-}" ]; then
  cargo build --release --quiet
  PTRACK=$PWD/target/release/ptrack
fi
if [ ! -x "$PF/node_modules/.bin/promptfoo" ]; then
  npm install --silent --no-audit --no-fund --prefix "$PF" "promptfoo@$PROMPTFOO_VERSION" >&2
fi
PROMPTFOO=$PF/node_modules/.bin/promptfoo
export PROMPTFOO_DISABLE_TELEMETRY=1 PROMPTFOO_DISABLE_UPDATE=1 PROMPTFOO_DISABLE_SHARING=1 \
  PROMPTFOO_CONFIG_DIR=$DIR/promptfoo-home PROMPTFOO_CACHE_ENABLED=false \
  PTRACK_CONFIG_DIR=$DIR/ptrack-home OPENAI_API_KEY=sk-bench NO_COLOR=1

rm -rf "$DIR"
mkdir -p "$DIR/prompts/greet" "$DIR/promptfoo-home" "$DIR/ptrack-home"
cd "$DIR"

cat >server.js <<'JS'
// An instant OpenAI-compatible server: every POST gets the same chat completion.
const cluster = require("node:cluster");
const http = require("node:http");
const os = require("node:os");
const body = JSON.stringify({
  id: "chatcmpl-bench", object: "chat.completion", created: 1764000000, model: "m",
  choices: [{ index: 0, message: { role: "assistant", content: "Hello Sam, one step today." }, finish_reason: "stop" }],
  usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 },
});
if (cluster.isPrimary) {
  const port = Number(process.argv[2]);
  for (let i = 0; i < os.availableParallelism(); i++) cluster.fork({ PORT: String(port) });
} else {
  http.createServer({ keepAliveTimeout: 60000 }, (req, res) => {
    req.on("data", () => {});
    req.on("end", () => {
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
      res.end(body);
    });
  }).listen(Number(process.env.PORT), "127.0.0.1");
}
JS
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
node server.js "$PORT" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
URL=http://127.0.0.1:$PORT/v1
for _ in $(seq 50); do
  curl -s -o /dev/null -X POST -d '{}' "$URL/chat/completions" && break
  sleep 0.1
done

server_rps=""
if command -v wrk >/dev/null; then
  cat >post.lua <<'LUA'
wrk.method = "POST"
wrk.body = '{"model":"m","messages":[{"role":"user","content":"Say hello to Sam 1."}]}'
wrk.headers["Content-Type"] = "application/json"
LUA
  for c in 1 8; do
    rps=$(wrk -t1 -c"$c" -d3s -s post.lua "$URL/chat/completions" | awk '/Requests\/sec/ {print $2}')
    server_rps="$server_rps ${rps%.*} req/s with $c connection(s);"
  done
fi

# One prompt and CASES cases, each with a `contains` expectation that holds.
cat >prompts/greet/1.0.md <<'MD'
---
goal: Greet the user by name
model: m
provider: openai
temperature: 0
variables:
  user_name:
    description: Who to greet.
---
Say hello to {{ user_name }}.
MD
python3 - "$CASES" "$URL" <<'PY'
import json, sys
n, url = int(sys.argv[1]), sys.argv[2]
with open("prompts/greet/cases.jsonl", "w") as f:
    for i in range(n):
        f.write(json.dumps({"name": f"c{i}", "vars": {"user_name": f"Sam {i}"}, "expect": [{"contains": "Hello"}]}) + "\n")
# The same prompt, cases and check for promptfoo.
with open("promptfooconfig.yaml", "w") as f:
    f.write("description: bench\n")
    f.write("prompts:\n  - 'Say hello to {{ user_name }}.'\n")
    f.write(f"providers:\n  - id: openai:chat:m\n    config:\n      apiBaseUrl: {url}\n      temperature: 0\n")
    f.write("tests:\n")
    for i in range(n):
        f.write(f"  - vars: {{user_name: {json.dumps(f'Sam {i}')}}}\n")
        f.write("    assert:\n      - type: contains\n        value: Hello\n")
PY
git init -q

ptrack_cmd() { echo "$PTRACK run greet --provider openai --base-url $URL --model m --concurrency $1 --json"; }
promptfoo_cmd() { echo "$PROMPTFOO eval -c promptfooconfig.yaml --no-cache --max-concurrency $1 --no-share --no-progress-bar --no-table -o out.json"; }
# Both must pass every case, or the timing means nothing.
"$PTRACK" run greet --provider openai --base-url "$URL" --model m --concurrency 8 --json >check.json
python3 -c 'import json,sys; s=json.load(open("check.json")); assert (s["runs"], s["passed"]) == (int(sys.argv[1]),)*2, s["runs"]' "$CASES"
$(promptfoo_cmd 8) >/dev/null 2>&1 || true
python3 -c 'import json,sys; r=json.load(open("out.json"))["results"]["stats"]; assert r["successes"] == int(sys.argv[1]), r' "$CASES"

declare -A median
if command -v hyperfine >/dev/null; then
  hyperfine --style basic --warmup 0 --runs "$REPEAT" --export-json bench.json -i \
    -n ptrack-1 "$(ptrack_cmd 1)" -n ptrack-8 "$(ptrack_cmd 8)" \
    -n promptfoo-1 "$(promptfoo_cmd 1)" -n promptfoo-8 "$(promptfoo_cmd 8)" >&2
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
      /usr/bin/time -o "$tmp" -f "%e" sh -c "$1" >/dev/null 2>&1 || true
      walls+=("$(tail -1 "$tmp")")
    done
    rm -f "$tmp"
    printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
  }
  for c in 1 8; do
    median[ptrack-$c]=$(measure "$(ptrack_cmd "$c")")
    median[promptfoo-$c]=$(measure "$(promptfoo_cmd "$c")")
  done
  how="/usr/bin/time, median of $REPEAT"
fi

pf_version=$("$PROMPTFOO" --version 2>/dev/null | tail -1)
echo "$CASES cases (one request and one contains check each); $how; $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
[ -n "$server_rps" ] && echo "server alone (wrk):$server_rps"
printf '| %-22s | %15s | %15s | %5s |\n' "concurrency" "ptrack run" "promptfoo $pf_version" "ratio"
printf '|%s|%s|%s|%s|\n' "------------------------" "-----------------" "-----------------" "-------"
for c in 1 8; do
  awk -v c="$c" -v n="$CASES" -v p="${median[ptrack-$c]}" -v f="${median[promptfoo-$c]}" \
    'BEGIN { printf "| %-22s | %9.0f case/s | %9.0f case/s | %4.1fx |\n", c, n / p, n / f, f / p }'
done
