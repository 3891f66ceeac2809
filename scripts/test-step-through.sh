#!/usr/bin/env bash
# Drives `attnlab run --step` in a real terminal (tmux) at 100×30, in English and Japanese: each step
# is drawn on a cleared screen (the previous step's title is gone), its narration shows once, with ▢
# before Enter and the numbers after, no line is wider than the terminal, every command is one key
# press (no Enter after it): c toggles the compact view, → PageDown n / ← b / Home End / g N Enter
# move, r re-runs, Esc cancels a step number, q and Ctrl-C quit, a resize redraws. Fails (exit 1)
# with the screen when something is not where it should be.
# Usage: scripts/test-step-through.sh [path/to/attnlab]
set -Eeuo pipefail
attnlab=${1:-.build/release/attnlab}
attnlab=$(cd "$(dirname "$attnlab")" && pwd)/$(basename "$attnlab")
lessons=$(cd "$(dirname "$0")/../lessons" && pwd)
work=$(mktemp -d)
session="step"
# A private tmux server (its own socket), kept alive by an idle session: killing a test's session
# then never takes the server down while the next `new-session` is connecting to it, a race that
# tmux reports as "server exited unexpectedly". At the end the server is ended by killing its
# sessions, not with kill-server: that is a SIGTERM, and a test runner's thread may start us with
# every signal blocked, which the server inherits — it would live on, holding a descriptor the test
# runner waits on. The sessions' idle programs are `cat` on their terminal, which ends when the
# terminal closes (a `sleep` would ignore the blocked SIGHUP and linger).
tmux() { command tmux -L "attnlab-step-$$" "$@"; }
trap 'tmux kill-session -t "$session" 2>/dev/null || true; tmux kill-session -t keeper 2>/dev/null || true; rm -rf "$work"' EXIT
trap 'echo "step-through: line $LINENO failed (exit $?)" >&2' ERR
tmux new-session -d -s keeper cat
export LC_ALL=C.UTF-8  # wc -L counts a Japanese character as 2 columns, as the terminal draws it

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

screen() { tmux capture-pane -p -t "$session"; }   # what the terminal shows now
fail() { echo "step-through: $1; the terminal shows:" >&2; screen >&2; exit 1; }
count() { screen | grep -cF -- "$1" || true; }
expect() {  # expect TEXT: wait up to 60 s until TEXT shows, then check the screen's width
    for _ in $(seq 1 600); do
        if [ "$(count "$1")" -ge 1 ]; then
            local widest; widest=$(screen | wc -L)
            [ "$widest" -le "$columns" ] || fail "a line is $widest columns wide in a $columns-column terminal"
            return 0
        fi
        sleep 0.1
    done
    fail "expected '$1'"
}
header_fits() {  # the header spans the terminal exactly, ending with the lesson's title
    for _ in $(seq 1 100); do
        local first; first=$(screen | head -1)
        if [ "$(printf '%s' "$first" | wc -L)" -eq "$columns" ] && [[ "$first" == *"test ━━" || "$first" == *"テスト ━━" ]]; then return 0; fi
        sleep 0.1
    done
    fail "the header was not drawn again at $columns columns"
}
once() { [ "$(count "$1")" -eq 1 ] || fail "expected '$1' once, found it $(count "$1") times"; }
gone() { [ "$(count "$1")" -eq 0 ] || fail "expected '$1' to be gone"; }
keys() { tmux send-keys -t "$session" "$@"; }
start() {  # start COLUMNS ROWS ARGS…: attnlab run ARGS in a fresh terminal of that size
    columns=$1 rows=$2
    shift 2
    tmux kill-session -t "$session" 2>/dev/null || true
    tmux new-session -d -s "$session" -x "$columns" -y "$rows" \
        "cd '$work' && TERM=xterm-256color NO_COLOR=1 '$attnlab' run $* --step --out '$work/out'; echo EXIT=\$?; cat"
}

# Moving about a small lesson: run, re-run, next, back, a wrong command, go to a step, quit.
start 100 30 lesson.yaml
expect "Step 1/2 · GQA bytes"
expect "stores ▢ bytes per token"     # values are not known before the step runs
keys Enter
expect "stores 131,072 bytes per token"
once "stores 131,072 bytes per token"
gone "▢"
expect "✓ kv_bytes_per_token == 131072"
keys "r"
expect "✓ kv_bytes_per_token == 131072"
expect "Step 1/2 · GQA bytes"           # r re-ran the step and stayed on it
keys Left                              # back from the first step: it stays, with its numbers
once "stores 131,072 bytes per token"
gone "▢"
keys "n"
expect "Step 2/2 · Tiles"
gone "GQA bytes"                      # the screen was cleared
keys Enter
expect "FA2: 10 of 4 × 4 tiles"
expect "row by row: Q block i outside"
expect "·"                             # causal: blocks above the diagonal skipped
keys Right                             # a click too many on the last step does not end the lesson
expect "This is the last step: q ends the lesson"
expect "FA2: 10 of 4 × 4 tiles"
tmux resize-window -t "$session" -x 80 -y 24
columns=80                             # the screen is drawn again at the new width: the header
header_fits                            # ends with the lesson's title at column 80
tmux resize-window -t "$session" -x 100 -y 30
columns=100
header_fits
keys Left                              # what a presenter's remote sends for "back"
expect "Step 1/2 · GQA bytes"
gone "Step 2/2"
keys "z"                               # not a command: said in the footer
expect "'z'? Keys:"
keys "g"                               # a field for the step number…
expect "Go to step: ▏"
keys "9" Enter                         # …that refuses a step the lesson does not have…
expect "there is no step 9, only 1–2"
keys BSpace "2"
expect "Go to step: 2▏"
keys Escape                            # …and that Esc cancels
expect "Enter/→ run"
gone "Go to step"
expect "Step 1/2 · GQA bytes"
keys "2" Enter                         # a digit opens the field too
expect "Step 2/2 · Tiles"
keys Home
expect "Step 1/2 · GQA bytes"
keys End
expect "Step 2/2 · Tiles"
keys "Q"                               # Caps Lock on: the same keys
expect "EXIT=0"
test -f "$work/out/step-through/report.html" || fail "no report written"

# 02-gqa at 100×30: the narration once, numbers after Enter, the compact view, quitting.
start 100 30 "$lessons/02-gqa.yaml"
expect "Step 1/4"
once "In grouped-query attention (GQA)"
expect "Only K/V heads are cached: ▢ bytes per token"
expect "q quit"
keys Enter
expect "131,072 bytes per token"
once "In grouped-query attention (GQA)"
expect "$ attnlab kv --preset llama-3-8b"
expect "this model"                    # the bytes per token against MHA
keys "c"
expect "✓ all 3 checks hold"
gone "$ attnlab kv"
keys "c"
expect "$ attnlab kv"
keys Right
expect "Step 2/4"
gone "Step 1/4"
gone "In grouped-query attention"
keys Enter
expect "2,621,440, 327,680 or 40,960 bytes"
keys "g" "4" Enter
expect "Step 4/4"
keys Enter
expect "own: the layer writes its own K/V cache"
expect "mqa    own own own own"
keys "q"
expect "EXIT=0"

# The same in Japanese.
start 100 30 "$lessons/02-gqa.yaml" --lang ja
expect "ステップ 1/4"
expect "q 終了"
keys Enter
expect "131,072"
gone "▢"
keys "c"
expect "✓ 3件の検査がすべて成立"
keys "z"
expect "「z」?キー"
keys PageDown
expect "ステップ 2/4"
gone "ステップ 1/4"
keys "q"
expect "EXIT=0"

# A decode lesson: which layers write their own cache.
start 100 30 "$lessons/01-kv-cache.yaml"
keys Enter
expect "own: the layer writes its own K/V cache"
expect "KV     own own own own"
keys "q"
expect "EXIT=0"

# A tile lesson: the tiles in the order FA1 visits them, column by column.
start 100 30 "$lessons/07-flashattention.yaml" --lang ja
keys Enter
expect "列ごと:外側がK/Vブロックj"
keys "q"
expect "EXIT=0"
# Ctrl-C while waiting for a reply: the run stops (130) and the terminal is back on its normal screen.
start 100 30 "$lessons/02-gqa.yaml"
expect "Step 1/4"
keys C-c
expect "EXIT=130"
gone "Step 1/4"
echo "step-through: ok"
