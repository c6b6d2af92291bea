#!/usr/bin/env bash
# The README's Spark SQL and ClickHouse queries (the `<!-- sql: spark -->` and
# `<!-- sql: clickhouse -->` blocks of "Parquet export") run over a Parquet export of a varied
# project, every figure compared with `ptrack performance --json` (scripts/check_engines.py).
# Prints PASS or FAIL per engine; exits 1 on any mismatch.
#
#   scripts/check-engines.sh                      # builds ptrack (release), both engines
#   PTRACK=target/debug/ptrack scripts/check-engines.sh
#   ENGINES=clickhouse scripts/check-engines.sh   # spark, clickhouse or both (comma-separated)
#
# Spark is pyspark in local mode (it needs Java: Debian's openjdk-17-jre-headless is installed
# when `java` is missing); ClickHouse is chdb, the embedded ClickHouse. Both come from PyPI into
# a virtual environment under ${XDG_CACHE_HOME:-~/.cache}/ptrack-ci/engines, made on the first
# run and reused after. Runs without a terminal (CI=true, no standard input).
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINES=${ENGINES:-spark,clickhouse}
PYSPARK_VERSION=4.3.0
CHDB_VERSION=4.4.0

if [ -z "${PTRACK:-}" ]; then
  cargo build --release --quiet
  PTRACK=$PWD/target/release/ptrack
fi
[ -x "$PTRACK" ] || { echo "error: $PTRACK is not an executable" >&2; exit 1; }

if [[ ",$ENGINES," == *,spark,* ]] && ! command -v java >/dev/null 2>&1; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless </dev/null >/dev/null
fi

venv="${XDG_CACHE_HOME:-$HOME/.cache}/ptrack-ci/engines"
if [ ! -x "$venv/bin/python" ]; then
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import pyspark, chdb, pyarrow" >/dev/null 2>&1 ||
  [ "$("$venv/bin/python" -c "import pyspark, chdb; print(pyspark.__version__, chdb.__version__)")" != "$PYSPARK_VERSION $CHDB_VERSION" ]; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir \
    "pyspark==$PYSPARK_VERSION" "chdb==$CHDB_VERSION" pyarrow </dev/null
fi

# The JVM and chdb write their own notes on stderr: kept in a log, shown when a check fails.
log=$(mktemp "${TMPDIR:-/tmp}/ptrack-engines.XXXXXX.log")
trap 'rm -f "$log"' EXIT
if TZ=UTC SPARK_LOCAL_IP=127.0.0.1 "$venv/bin/python" scripts/check_engines.py --ptrack "$PTRACK" --engines "$ENGINES" 2>"$log" </dev/null; then
  exit 0
fi
echo "--- stderr of the engines (last 60 lines) ---" >&2
tail -n 60 "$log" >&2
exit 1
