#!/usr/bin/env bash
# Measured recipes rounded with error feedback (owl quantize --target-size S --optimize) against
# llama.cpp's mixes at the same file size, scored by llama.cpp's own llama-perplexity
# --kl-divergence against MODEL expanded to F32. For each mix: llama-quantize MIX with
# llama-imatrix's matrix; owl -t MIX with the same matrix (plain owl: compared byte for byte with
# llama-quantize's file, scored only if it differs); owl -t MIX --optimize (llama.cpp's types and
# size, rounded with error feedback); owl --target-size at llama.cpp's file size (the recipe
# alone) and the same with --optimize, both from one sensitivity measurement and the same
# matrix. Each row's time is wall and CPU (user + system) of the quantization on THREADS
# threads; the measurement, shared by every target, is timed once. Prints Markdown.
#
#   tools/bench/target_optimize_kld.sh MODEL [MIXES [CALIB [EVAL [CHUNKS [THREADS [TYPES]]]]]]
#
# Defaults as tools/bench/optimize_kld.sh (Q4_K_M,Q3_K_M,Q2_K; 20 chunks; 2 threads). TYPES: the
# --recipe-types (comma-separated; default: all). CALIB_CHUNKS (environment, default 8): owl's
# calibration chunks for the measurement and for --optimize. LLAMA_ONLY=1 (with WORK): only
# llama.cpp's side, which needs no owl once WORK holds ref.gguf.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
usage="usage: $0 MODEL [MIXES [CALIB [EVAL [CHUNKS [THREADS [TYPES]]]]]]"
model="${1:?$usage}"
mixes="${2:-Q4_K_M,Q3_K_M,Q2_K}"
# WORK=DIR: work there and keep it (a step whose output is there is not run again).
source "$root/tools/bench/measure.sh"
bench_work_dir target-opt
source "$root/tools/bench/kld_common.sh"
kld_arguments "${3:-}" "${4:-}" "${5:-}" "${6:-}"
types=()
[[ -z "${7:-}" ]] || types=(--recipe-types "$7")
calib_chunks="${CALIB_CHUNKS:-8}"

# timed OUT CMD...: runs CMD (which writes OUT), setting $took to "W s (C s CPU)"; kept with OUT
# for a later run, which does not run CMD again.
timed() {
  local out="$1"
  shift
  if [[ ! -s "$out" || ! -s "$out.time" ]]; then
    rm -f "$out.time"
    /usr/bin/time -f "%e %U %S" -o "$out.time.part" "$@"
    mv "$out.time.part" "$out.time"
  fi
  took=$(awk '{printf "%.0f s (%.0f s CPU)", $1, $2 + $3}' "$out.time")
}

kld_setup
if [[ -n "${LLAMA_ONLY:-}" ]]; then  # llama.cpp's files and scores only, for a later run to reuse
  for mix in ${mixes//,/ }; do
    timed "$work/llama-$mix.gguf" "$tools/llama-quantize" --imatrix "$work/imatrix.gguf" \
      "$work/ref.gguf" "$work/llama-$mix.gguf" "$mix" "$threads" >"$work/llama-$mix.qlog" 2>&1
    kld_run "llama.cpp $mix" "$work/llama-$mix.gguf"
  done
  exit 0
fi
params=$(model_params)
timed "$work/sensitivity.json" "$owl" quantize "$work/ref.gguf" --imatrix "$work/imatrix.gguf" --text "$calib" \
  --calibration-chunks "$calib_chunks" --sensitivity-out "$work/sensitivity.json" \
  --threads "$threads" --quiet
echo "sensitivity measured in $took ($calib_chunks chunks of 512 of $(basename "$calib"))"
echo
echo "| file | size | bpw | mean KLD | p99 KLD | top-1 | PPL | time |"
echo "|---|---|---|---|---|---|---|---|"
for mix in ${mixes//,/ }; do
  timed "$work/llama-$mix.gguf" "$tools/llama-quantize" --imatrix "$work/imatrix.gguf" "$work/ref.gguf" \
    "$work/llama-$mix.gguf" "$mix" "$threads" >"$work/llama-$mix.qlog" 2>&1
  score "llama.cpp $mix" "$work/llama-$mix.gguf" "$took" "$params"
  timed "$work/owl-$mix.gguf" "$owl" quantize "$work/ref.gguf" -o "$work/owl-$mix.gguf" -t "$mix" \
    --imatrix "$work/imatrix.gguf" --threads "$threads" --no-provenance --quiet
  if cmp -s "$work/owl-$mix.gguf" "$work/llama-$mix.gguf"; then
    echo "| owl $mix (llama.cpp's bytes) | | | = | = | = | = | $took |"
  else
    score "owl $mix" "$work/owl-$mix.gguf" "$took" "$params"
  fi
  timed "$work/plainopt-$mix.gguf" "$owl" quantize "$work/ref.gguf" -o "$work/plainopt-$mix.gguf" \
    -t "$mix" --imatrix "$work/imatrix.gguf" --optimize --text "$calib" \
    --calibration-chunks "$calib_chunks" --threads "$threads" --no-provenance --quiet
  score "owl -t $mix --optimize" "$work/plainopt-$mix.gguf" "$took" "$params"
  size=$(stat -c %s "$work/llama-$mix.gguf")
  timed "$work/size-$mix.gguf" "$owl" quantize "$work/ref.gguf" -o "$work/size-$mix.gguf" --target-size "$size" \
    "${types[@]}" --sensitivity "$work/sensitivity.json" --imatrix "$work/imatrix.gguf" \
    --threads "$threads" --quiet
  score "owl --target-size ($mix)" "$work/size-$mix.gguf" "$took" "$params"
  timed "$work/opt-$mix.gguf" "$owl" quantize "$work/ref.gguf" -o "$work/opt-$mix.gguf" --target-size "$size" \
    "${types[@]}" --sensitivity "$work/sensitivity.json" --imatrix "$work/imatrix.gguf" \
    --optimize --text "$calib" --calibration-chunks "$calib_chunks" --threads "$threads" --quiet
  score "owl --target-size --optimize ($mix)" "$work/opt-$mix.gguf" "$took" "$params"
  read -r base_kld _ base_top1 _ < <(kld_figures "$work/llama.cpp $mix.log")
  for name in "owl -t $mix --optimize" "owl --target-size ($mix)" "owl --target-size --optimize ($mix)"; do
    read -r kld _ top1 _ < <(kld_figures "$work/$name.log")
    python3 -c "import sys; k, t, bk, bt = map(float, sys.argv[2:6])
print(f'|  {sys.argv[1]}: mean KLD x{k / bk:.3f} of llama.cpp\'s ({100 * (k / bk - 1):+.1f}%), '
      f'top-1 {t - bt:+.2f} points | | | | | | | |')" "$name" "$kld" "$top1" "$base_kld" "$base_top1"
  done
done
grep -o "Final estimate: PPL = [0-9.]*" "$work/base.log" | sed 's/^/reference (F32): /' || true
echo "(llama-perplexity over $chunks chunks of 512 of $(basename "$eval_text"); calibration $(basename "$calib"); $threads threads; load average $(cut -d' ' -f1-3 /proc/loadavg))"
