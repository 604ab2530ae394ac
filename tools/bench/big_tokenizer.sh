#!/usr/bin/env bash
# How fast owl reads a tokenizer as big as the largest ones people download (262,144 tokens, as
# Gemma 3's): `owl convert` of a small Llama-shaped folder that carries such a tokenizer.json,
# beside the same folder without it and beside Python's json.load of the file, which any
# converter written in Python pays at least once. Every figure comes from this one run.
#
#   tools/bench/big_tokenizer.sh [WORK_DIR] [VOCAB]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$root/tools/bench/measure.sh"
owl="${OWL_BIN:-$root/build/bin/owl}"
work="${1:-$(mktemp -d)}"
vocab="${2:-262144}"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

python3 "$root/../shared/tools/make_synth_llama.py" "$work/model" --hidden 64 --layers 2 \
  --ffn 128 --heads 4 --kv 2 --vocab "$vocab" >/dev/null
python3 "$root/tools/bench/make_big_tokenizer.py" "$root/tests/data/hf/tiny-llama3/tokenizer.json" \
  "$work/model/tokenizer.json" --vocab "$vocab"
cp "$root/tests/data/hf/tiny-llama3/tokenizer_config.json" "$work/model/"
echo "tokenizer.json: $(du -b "$work/model/tokenizer.json" | cut -f1) bytes, $(nproc) cores"

measure "python3 json.load of tokenizer.json" python3 -c \
  'import json, sys; json.load(open(sys.argv[1], encoding="utf-8"))' "$work/model/tokenizer.json"
load_wall=$MEASURED_WALL
measure "owl convert, with the tokenizer" "$owl" convert "$work/model" -o "$work/with.gguf" --quiet
with_wall=$MEASURED_WALL
mkdir -p "$work/bare"
cp "$work/model/config.json" "$work/model/model.safetensors" "$work/bare/"
measure "owl convert, without it" "$owl" convert "$work/bare" -o "$work/without.gguf" --quiet
without_wall=$MEASURED_WALL
echo "owl with the tokenizer / json.load alone: $(ratio "$with_wall" "$load_wall")x;" \
  "the tokenizer adds $(awk -v a="$with_wall" -v b="$without_wall" 'BEGIN {printf "%.2f", a-b}') s"
