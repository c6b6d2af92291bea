#!/usr/bin/env bash
# Renders every Mermaid chart of this repository's own `ptrack report` to PNG with mermaid-cli,
# so a chart Mermaid cannot parse fails here instead of on a pull request page.
# Optional (not run by .ci/run): it needs Chromium and mermaid-cli, about 2.5 minutes to install:
#   apt-get install -y chromium
#   PUPPETEER_SKIP_DOWNLOAD=1 npm install -g @mermaid-js/mermaid-cli
# Usage: scripts/check-mermaid.sh [OUT_DIR]   (default: target/mermaid; look at the PNGs there)
set -euo pipefail
cd "$(dirname "$0")/.."

out="${1:-target/mermaid}"
browser="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
if ! command -v mmdc >/dev/null || [ -z "$browser" ]; then
  echo "error: needs mmdc (mermaid-cli) and chromium; see the top of $0" >&2
  exit 2
fi
mkdir -p "$out"
rm -f "$out"/rendered-*.png
cat >"$out/puppeteer.json" <<JSON
{"executablePath": "$browser",
 "args": ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
          "--disable-component-update", "--disable-sync"]}
JSON

cargo build --quiet
# Exit 1 only means a gate failed; the charts are written either way.
./target/debug/ptrack report --color never >"$out/report.md" || [ $? -eq 1 ]
charts=$(grep -c '^```mermaid' "$out/report.md" || true)
if [ "$charts" -eq 0 ]; then
  echo "error: the report has no Mermaid chart" >&2
  exit 1
fi
# mmdc renders each block of the Markdown file to report-N.png and fails on a parse error.
mmdc --quiet --puppeteerConfigFile "$out/puppeteer.json" --outputFormat png \
  --input "$out/report.md" --output "$out/rendered.md"
rendered=$(find "$out" -name 'rendered-*.png' | wc -l)
if [ "$rendered" -ne "$charts" ]; then
  echo "error: $charts chart(s) in the report, $rendered rendered" >&2
  exit 1
fi
echo "$charts chart(s) rendered to $out/rendered-*.png"
