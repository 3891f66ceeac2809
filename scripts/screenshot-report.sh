#!/usr/bin/env bash
# Opens a lesson report in headless Chromium (Debian's `chromium` package) and saves a screenshot,
# to look at what a reader sees. Usage: scripts/screenshot-report.sh output/01-kv-cache/report.html shot.png [height]
set -euo pipefail
report=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
out=$2
height=${3:-3000}
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,"$height" \
    --screenshot="$out" "file://$report" 2>/dev/null
echo "wrote $out"
