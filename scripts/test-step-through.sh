#!/usr/bin/env bash
# Drives `attnlab run --step` in a real terminal (tmux): Enter runs a step, n moves on, b goes back,
# g N jumps, r re-runs, q quits. Fails (exit 1) with the screen when something is not where it should be.
# Usage: scripts/test-step-through.sh [path/to/attnlab]
set -euo pipefail
attnlab=${1:-.build/release/attnlab}
attnlab=$(cd "$(dirname "$attnlab")" && pwd)/$(basename "$attnlab")
work=$(mktemp -d)
session="attnlab-step-$$"
trap 'tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$work"' EXIT

cat > "$work/lesson.yaml" <<'YAML'
id: step-through
title: {en: Step-through test, ja: ステップ実行のテスト}
steps:
  - title: {en: GQA bytes, ja: GQAのバイト数}
    narration: {en: "Llama 3 8B stores {{ kv_bytes_per_token | grouped }} bytes per token.", ja: "Llama 3 8Bは1トークンあたり {{ kv_bytes_per_token | grouped }} バイト。"}
    action: {kv: {preset: llama-3-8b}}
    checks: [kv_bytes_per_token == 131072]
  - title: {en: Tiles}
    narration: {en: "FA2 with causal masking."}
    action: {tile: {algo: fa2, n: 64, d: 16, sram-elements: 1024, causal: true}}
    checks: [max_abs_error <= 1e-5]
YAML

screen() { tmux capture-pane -p -S - -t "$session"; }   # the whole scrollback
expect() {  # expect TEXT [N]: wait up to 10 s until TEXT has appeared N times (default 1)
    local want=${2:-1}
    for _ in $(seq 1 100); do
        if [ "$(screen | grep -cF -- "$1")" -ge "$want" ]; then return 0; fi
        sleep 0.1
    done
    echo "step-through: expected '$1' $want time(s); the terminal shows:" >&2
    screen >&2
    exit 1
}
keys() { tmux send-keys -t "$session" "$@"; }

tmux new-session -d -s "$session" -x 160 -y 50 "cd '$work' && NO_COLOR=1 '$attnlab' run lesson.yaml --step --out '$work/out'; echo EXIT=\$?; sleep 30"
expect "Step 1/2 · GQA bytes"
expect "⟨kv_bytes_per_token⟩"          # values are not known before the step runs
keys Enter
expect "stores 131,072 bytes per token"
expect "✓ kv_bytes_per_token == 131072"
keys "r" Enter                        # re-run: the results appear a second time
expect "✓ kv_bytes_per_token == 131072" 2
keys "n" Enter
expect "Step 2/2 · Tiles"
keys Enter
expect "tiles (rows i = Q blocks"
expect "■ ·"                           # causal: blocks above the diagonal skipped
keys "b" Enter                        # back: step 1 is shown a second time
expect "Step 1/2 · GQA bytes" 2
keys "zz" Enter                       # not a command: asked again
expect "'zz'?"
keys "g 2" Enter                      # jump: step 2 a second time
expect "Step 2/2 · Tiles" 2
keys "q" Enter
expect "EXIT=0"
test -f "$work/out/step-through/report.html" || { echo "step-through: no report written" >&2; exit 1; }
echo "step-through: ok"
