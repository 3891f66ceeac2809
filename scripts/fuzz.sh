#!/usr/bin/env bash
# Seeded mutation fuzzing of lesson files and GGUF headers through the built attnlab (the FuzzTests
# suite with more cases): N mutated lessons through `check` (and every 4th that passes through
# `run --no-step`), N mutated GGUF files through `model info` and `decode`. Prints the counts; a
# failing case's input is kept in $TMPDIR/attnlab-fuzz-failures/.
# Usage: scripts/fuzz.sh N [SEED]      (ATTNLAB_FUZZ_BINARY=path tries another attnlab build)
set -euo pipefail
cases=${1:?usage: scripts/fuzz.sh N [SEED]}
seed=${2:-2026}
cd "$(dirname "$0")/.."
swift build -c release --build-tests >/dev/null
ATTNLAB_FUZZ_CASES=$cases ATTNLAB_FUZZ_SEED=$seed swift test -c release --skip-build --filter FuzzTests 2>&1 \
    | grep -E '^fuzz |✘|↳ attnlab|passed|failed'
