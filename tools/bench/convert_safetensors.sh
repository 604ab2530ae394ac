#!/usr/bin/env bash
# Speed and peak memory of `owl convert` to safetensors, beside the floor: copying the same
# bytes with cp. Every figure comes from this one run on this machine.
#
#   tools/bench/convert_safetensors.sh MODEL_DIR [WORK_DIR]
#
# MODEL_DIR is a Hugging Face folder (make one with ../shared/tools/make_synth_llama.py).
# WORK_DIR (default: a fresh folder beside MODEL_DIR) receives the outputs, removed after.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$root/tools/bench/measure.sh"
owl="${OWL_BIN:-$root/build/bin/owl}"
model="${1:?usage: $0 MODEL_DIR [WORK_DIR]}"
work="${2:-$(dirname "$model")/owl-bench-out}"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

size=$(du -cb "$model"/*.safetensors | tail -1 | cut -f1)
echo "model: $model ($(awk -v b="$size" 'BEGIN {printf "%.2f GB", b/1e9}') of safetensors), $(nproc) cores"
cat "$model"/*.safetensors >/dev/null  # warm the page cache: every run reads from memory

measure "cp (the floor)" cp "$model"/*.safetensors "$work/"
cp_wall=$MEASURED_WALL
rm -f "$work"/*

measure "owl convert --dtype keep" "$owl" convert "$model" -o "$work/keep.safetensors" --quiet
keep_wall=$MEASURED_WALL
rm -f "$work"/*

measure "owl convert --dtype f16" "$owl" convert "$model" -o "$work/f16.safetensors" --dtype f16 --quiet
f16_wall=$MEASURED_WALL
rm -f "$work"/*

measure "owl convert --shard-size 1GB" "$owl" convert "$model" -o "$work/sharded.safetensors" --shard-size 1GB --quiet
rm -f "$work"/*

echo "time relative to cp: keep $(ratio "$keep_wall" "$cp_wall")x, f16 $(ratio "$f16_wall" "$cp_wall")x"
