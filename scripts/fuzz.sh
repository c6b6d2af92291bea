#!/usr/bin/env bash
# Fuzz every parser: run each cargo-fuzz target of fuzz/ for SECONDS (default 60), starting from
# its corpus in fuzz/corpus/<target>/. Fails when a target crashes, and prints the input.
#
#   scripts/fuzz.sh                      # 60 s per target (7 targets)
#   scripts/fuzz.sh 3600                 # the longer run: 1 h per target
#   scripts/fuzz.sh 30 run_line version  # some targets only
#
# New inputs go to a scratch folder, so fuzz/corpus/ changes only when you add an entry
# (docs/fuzzing.md). FUZZ_SANITIZER=address builds with AddressSanitizer (slower; the default
# `none` suits safe Rust); FUZZ_SEED=N makes a run repeatable (CI uses a fixed one).
# cargo-fuzz is installed when missing; it needs nightly compiler
# flags, which a stable toolchain accepts with RUSTC_BOOTSTRAP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
sanitizer=${FUZZ_SANITIZER:-none}
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

start=$(date +%s)
cargo fuzz build --sanitizer "$sanitizer"
echo "fuzz: built in $(($(date +%s) - start)) s; ${#targets[@]} targets, $secs s each" >&2

work=$(mktemp -d "${TMPDIR:-/tmp}/ptrack-fuzz.XXXXXX")
failed=()
for t in "${targets[@]}"; do
  mkdir -p "$work/$t" "fuzz/artifacts/$t"
  touch "$work/$t.start"
  t0=$(date +%s)
  if cargo fuzz run --sanitizer "$sanitizer" "$t" "$work/$t" "fuzz/corpus/$t" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    ${FUZZ_SEED:+-seed="$FUZZ_SEED"} \
    >"$work/$t.log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$t.log" | grep -o '[0-9]*$' || true)
    echo "fuzz: $t ok ($(($(date +%s) - t0)) s, ${runs:-?} inputs)" >&2
  else
    failed+=("$t")
    echo "fuzz: $t FAILED:" >&2
    # The panic (or sanitizer report) and libFuzzer's verdict, without the backtrace.
    {
      grep -m1 -A3 -E 'panicked at|==[0-9]+==ERROR: AddressSanitizer' "$work/$t.log" || true
      grep -E '==[0-9]+== ERROR: libFuzzer|^SUMMARY' "$work/$t.log" | tail -n 3 || true
    } >&2
    find "fuzz/artifacts/$t" -type f -newer "$work/$t.start" | while read -r input; do
      echo "fuzz: $t input $input ($(wc -c <"$input") bytes), as text:" >&2
      head -c 4000 "$input" | cat -v >&2
      echo >&2
      echo "fuzz: base64: $(head -c 4000 "$input" | base64 -w0)" >&2
      echo "fuzz: reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer $sanitizer $t $input" >&2
    done
  fi
done
# The project_config target's scratch files (one per fuzzing process).
rm -f /dev/shm/ptrack-fuzz-*.toml "${TMPDIR:-/tmp}"/ptrack-fuzz-*.toml
rm -rf "$work"
echo "fuzz: done in $(($(date +%s) - start)) s" >&2
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashed: ${failed[*]}" >&2
  exit 1
fi
