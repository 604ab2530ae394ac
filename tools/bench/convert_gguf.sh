#!/usr/bin/env bash
# HF checkpoint -> f16 GGUF: owl against llama.cpp's convert_hf_to_gguf.py, one after the
# other on this machine, with wall time and peak RSS for each and their ratio.
#
#   tools/bench/convert_gguf.sh MODEL_DIR [CONVERT_HF_TO_GGUF_PY [PYTHON]]
#
# Without the reference script only owl is measured. The reference needs torch, numpy,
# sentencepiece and its own gguf-py; it is never part of the project.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$root/tools/bench/measure.sh"
owl="${OWL_BIN:-$root/build/bin/owl}"
model="${1:?usage: $0 MODEL_DIR [CONVERT_HF_TO_GGUF_PY [PYTHON]]}"
reference="${2:-}"
python="${3:-python3}"
work="$(mktemp -d "$(dirname "$model")/owl-bench-XXXX")"
trap 'rm -rf "$work"' EXIT

echo "model: $model, $(nproc) cores"
# The floor for any tool that writes the output durably: this disk's write speed.
measure "dd 2 GiB with fsync (the disk floor)" dd if=/dev/zero of="$work/dd" bs=16M count=128 conv=fsync
rm -f "$work"/*
cat "$model"/*.safetensors >/dev/null  # warm the page cache for both tools

measure "owl convert --dtype f16" "$owl" convert "$model" -o "$work/owl.gguf" --dtype f16 --quiet
owl_wall=$MEASURED_WALL owl_rss=$MEASURED_RSS_MB owl_cpu=$MEASURED_CPU
rm -f "$work"/*

if [ -n "$reference" ]; then
  # owl fsyncs its output before renaming it into place; the reference leaves it in the page
  # cache. Timing the reference with a sync after it compares the same durable result.
  measure "convert_hf_to_gguf.py --outtype f16" "$python" "$reference" "$model" --outfile "$work/ref.gguf" --outtype f16
  ref_nosync=$MEASURED_WALL ref_cpu=$MEASURED_CPU
  rm -f "$work"/*
  measure "convert_hf_to_gguf.py --outtype f16; sync" sh -c '"$@" && sync' sh "$python" "$reference" "$model" \
    --outfile "$work/ref.gguf" --outtype f16
  echo "owl is $(ratio "$MEASURED_WALL" "$owl_wall")x faster than the reference with sync" \
    "($(ratio "$ref_nosync" "$owl_wall")x without), using $(ratio "$ref_cpu" "$owl_cpu")x less CPU time" \
    "and $(ratio "$owl_rss" "$MEASURED_RSS_MB")x its peak RSS"
fi
