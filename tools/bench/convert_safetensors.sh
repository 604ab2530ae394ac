#!/usr/bin/env bash
# Speed and peak memory of `owl convert` on a safetensors checkpoint, beside the floor: copying
# the same bytes with cp. Every figure comes from this one run on this machine.
#
#   tools/bench/convert_safetensors.sh MODEL_DIR [WORK_DIR]
#
# MODEL_DIR is a Hugging Face folder (make one with ../shared/tools/make_synth_llama.py).
# WORK_DIR (default: a fresh folder beside MODEL_DIR) receives the outputs and is emptied after.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
owl="${OWL_BIN:-$root/build/bin/owl}"
model="${1:?usage: $0 MODEL_DIR [WORK_DIR]}"
work="${2:-$(dirname "$model")/owl-bench-out}"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

# Runs a command under /usr/bin/time; prints "label  wall_s  peak_rss_MB".
measure() {
  local label="$1"; shift
  local log="$work/time.log"
  /usr/bin/time -v "$@" 2>"$log" >/dev/null
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$log")
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$log")
  printf '%-34s %8.2f s %8s MB\n' "$label" "$wall" "$rss"
  echo "$wall" >"$work/last_wall"
}

size=$(du -cb "$model"/*.safetensors | tail -1 | cut -f1)
echo "model: $model ($(awk -v b="$size" 'BEGIN {printf "%.2f GB", b/1e9}') of safetensors), $(nproc) cores"
# Warm the page cache so every run reads from memory, as the second run of a user would.
cat "$model"/*.safetensors >/dev/null

measure "cp (the floor)" cp "$model"/*.safetensors "$work/"
cp_wall=$(cat "$work/last_wall")
rm -f "$work"/*.safetensors

measure "owl convert --dtype keep" "$owl" convert "$model" -o "$work/keep.safetensors" --quiet
keep_wall=$(cat "$work/last_wall")
rm -f "$work"/*.safetensors

measure "owl convert --dtype f16" "$owl" convert "$model" -o "$work/f16.safetensors" --dtype f16 --quiet
f16_wall=$(cat "$work/last_wall")
rm -f "$work"/*.safetensors

measure "owl convert --shard-size 1GB" "$owl" convert "$model" -o "$work/sharded.safetensors" --shard-size 1GB --quiet
rm -f "$work"/*.safetensors "$work"/*.json

awk -v c="$cp_wall" -v k="$keep_wall" -v f="$f16_wall" \
  'BEGIN {printf "ratios to cp: keep %.2fx, f16 %.2fx (lower is faster)\n", k/c, f/c}'
