#!/usr/bin/env bash
# Runs a fixed set of attnlab commands inside a folder and prints the SHA-256 of every file they
# write (and of what they print), so a refactor can prove that lessons, figures, traces and --json
# output stay byte-identical. Paths are relative to the folder, so two snapshots taken in different
# folders compare directly:
#   scripts/snapshot-outputs.sh .build/release/attnlab /tmp/before > before.txt
#   scripts/snapshot-outputs.sh .build/release/attnlab /tmp/after > after.txt && diff before.txt after.txt
set -euo pipefail
bin=$(realpath "$1"); repo=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$2"; mkdir -p "$2"; cd "$2"
cp -r "$repo/lessons" lessons
[ -d "$repo/models" ] && ln -s "$repo/models" models
j() { local name=$1; shift; "$bin" "$@" > "$name" 2>&1 || echo "exit $?" >> "$name"; }
j run-en.txt run --all --no-step --out en --formats png,svg,pdf
j run-ja.txt run --all --no-step --lang ja --out ja --formats png,svg,pdf
j gallery-light.txt gallery --out gallery-light
j gallery-dark.txt gallery --out gallery-dark --theme dark
j kv.json kv --preset llama-3-8b --context 8192 --json
j kv.txt kv --preset llama-3-8b --cla 2 --context 8192
j kv-cla.json kv --preset llama-3-8b --cla 2 --context 8192 --json
j params.json params --preset bert-base --json
j params.txt params --preset albert-base
j params-albert.json params --preset albert-base --json
j presets.txt presets
j lessons.txt lessons
j check.txt check lessons/01-kv-cache.yaml lessons/07-flashattention.yaml
j decode.txt decode --layers 6 --q-heads 8 --kv-heads 2 --cla 2 --prompt "the cat" --tokens 8 --verify --trace decode-trace.txt
j decode.json decode --layers 6 --q-heads 8 --kv-heads 2 --cla 2 --prompt "the cat" --tokens 8 --verify --json --trace decode-trace.jsonl --trace-detail full
j decode-bf16.json decode --layers 4 --kv-pattern keep-ends --dtype bf16 --tokens 6 --json
j decode-share.txt decode --layers 4 --weight-sharing attention --kv-heads 1 --tokens 12 --temperature 0.8 --seed 7
j tile-fa1.txt tile --algo fa1 --n 64 --d 8 --sram-elements 256 --causal --trace tile-fa1.jsonl
j tile-fa2.txt tile --algo fa2 --n 16 --d 8 --sram-elements 96 --causal --trace tile-fa2.txt
j tile-chrome.txt tile --algo fa1 --n 32 --d 8 --sram-elements 128 --trace tile.chrome.json
j tile-naive.json tile --algo naive --n 128 --d 16 --sram-elements 1024 --backward --json
j tile-naive.txt tile --algo naive --n 128 --d 16 --sram-elements 1024 --q-heads 4 --kv-heads 2
j tile-fit.txt tile --algo fa1 --n 256 --d 32 --sram-elements 4096 --fit-sram --backward
j tile-bwd.txt tile --algo fa2 --n 64 --d 16 --sram-elements 1024 --backward --trace tile-bwd.jsonl
j sweep.txt tile sweep --over sram --n 1024 --d 64
j sweep-n.txt tile sweep --over n --d 64 --sram-elements 16384
j sweep-bc.txt tile sweep --over bc --n 512 --d 64 --backward
j draw-heads.txt draw heads --preset llama-3-8b -o heads.pdf
j draw-layers.txt draw layers --layers 10 --cla 3 -o layers.svg --theme dark
j draw-tiles.txt draw tiles --algo fa1 --n 64 --d 16 --sram-elements 1024 --causal -o tiles.pdf --frames frames
j draw-cache.txt draw cache --layers 4 --cla 2 --q-heads 4 --kv-heads 2 --prompt "the cat sat on" --tokens 6 -o cache.svg
j draw-kv.txt draw kv-chart --preset llama-2-70b --log -o kv.png
j draw-io.txt draw io-chart --over n --values 256,512,1024 -o io.svg
j draw-tradeoff.txt draw tradeoff -o tradeoff.png --size 1200x800 --title "Trade-off"
j err-preset.txt kv --preset llama-9
j err-cla.txt decode --cla 0
if [ -e models/SmolLM2-135M-Instruct.Q4_1.gguf ]; then
  printf 'The quick brown fox jumps over the lazy dog. A key-value cache stores keys and values.\n' > text.txt
  j m-info.txt model info
  j m-decode.json decode --model smollm2-135m --prompt "The capital of France is" --tokens 8 --json --trace m-decode.jsonl
  j m-ppl.json ppl --model smollm2-135m --text text.txt --json
  j m-retro.json retrofit --model smollm2-135m --text text.txt --to mqa --to cla:2 --json
  j m-attn.txt draw attention --model smollm2-135m --prompt "the cat sat on the mat" -o m-attn.png
fi
rm -f models; rm -rf lessons
find . -type f ! -name '*.tmp*' | LC_ALL=C sort | xargs sha256sum
