#!/usr/bin/env bash
# Error-compensated rounding (owl quantize --optimize) against llama.cpp at the same file size,
# scored by llama.cpp's own llama-perplexity --kl-divergence. For each mix: llama-quantize with
# llama-imatrix's matrix, owl quantize with the same matrix (plain rounding: the same bytes as
# llama-quantize), and owl quantize --optimize with the same matrix and calibration text. The
# reference is MODEL expanded to F32. Calibration and evaluation texts are different files.
# Prints a Markdown table.
#
#   tools/bench/optimize_kld.sh MODEL [MIXES [CALIB [EVAL [CHUNKS [THREADS]]]]]
#
# Defaults: Q4_K_M,Q3_K_M,Q2_K; calibration GPL-3 + GPL-2 + LGPL-2.1, evaluation GFDL-1.3 +
# Apache-2.0 + MPL-2.0 (Debian's /usr/share/common-licenses); 20 chunks of 512; 2 threads.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
usage="usage: $0 MODEL [MIXES [CALIB [EVAL [CHUNKS [THREADS]]]]]"
model="${1:?$usage}"
mixes="${2:-Q4_K_M,Q3_K_M,Q2_K}"
work="$(mktemp -d "${TMPDIR:-/tmp}/owl-optimize-XXXX")"
trap 'rm -rf "$work"' EXIT
source "$root/tools/bench/kld_common.sh"
kld_arguments "${3:-}" "${4:-}" "${5:-}" "${6:-}"

kld_setup
params=$(model_params)
echo "| file | size | bpw | mean KLD | p99 KLD | top-1 | PPL | time |"
echo "|---|---|---|---|---|---|---|---|"
for mix in ${mixes//,/ }; do
  t0=$(seconds)
  "$tools/llama-quantize" --imatrix "$work/imatrix.gguf" "$work/ref.gguf" "$work/llama-$mix.gguf" \
    "$mix" "$threads" >"$work/llama-$mix.qlog" 2>&1
  score "llama.cpp $mix" "$work/llama-$mix.gguf" "$(elapsed "$t0") s" "$params"
  t0=$(seconds)
  "$owl" quantize "$work/ref.gguf" -o "$work/owl-$mix.gguf" -t "$mix" --imatrix "$work/imatrix.gguf" \
    --threads "$threads" --quiet
  score "owl $mix" "$work/owl-$mix.gguf" "$(elapsed "$t0") s" "$params"
  t0=$(seconds)
  "$owl" quantize "$work/ref.gguf" -o "$work/opt-$mix.gguf" -t "$mix" --imatrix "$work/imatrix.gguf" \
    --optimize --text "$calib" --calibration-chunks 8 --threads "$threads" --quiet
  score "owl --optimize $mix" "$work/opt-$mix.gguf" "$(elapsed "$t0") s" "$params"
done
grep -o "Final estimate: PPL = [0-9.]*" "$work/base.log" | sed 's/^/reference (F32): /' || true
echo "(llama-perplexity over $chunks chunks of 512 of $(basename "$eval_text"); calibration $(basename "$calib"); $threads threads)"
