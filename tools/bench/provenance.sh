#!/usr/bin/env bash
# What the provenance record costs: `owl convert` (to an f16 GGUF, the worst case, since the
# pipeline itself only copies bytes) and `owl quantize -t Q4_K_M` of one model, each run with the
# record (the default) and with --no-provenance, alternating so that both see the same machine
# load, with the page cache warm. Prints every run, the median of each, their ratio, the load
# average, and OpenSSL's SHA-256 throughput on one core (the record's main cost: every input byte
# is hashed once). Every figure comes from this one run on this machine.
#
#   tools/bench/provenance.sh MODEL_DIR [ROUNDS] [WORK_DIR]
#
# MODEL_DIR is a Hugging Face folder; the README's numbers are for a 1.1B one (TinyLlama's shape,
# f16): ../shared/tools/make_synth_llama.py /tmp/synth-1.1b --dtype f16
# ROUNDS (default 3) pairs of runs per command; WORK_DIR (default: a fresh folder beside
# MODEL_DIR) receives the outputs, removed after. OWL_BENCH_SKIP_QUANTIZE=1 leaves quantize out.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$root/tools/bench/measure.sh"
owl="${OWL_BIN:-$root/build/bin/owl}"
model="${1:?usage: $0 MODEL_DIR [ROUNDS] [WORK_DIR]}"
rounds="${2:-3}"
work="${3:-$(dirname "$model")/owl-bench-provenance}"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

size=$(du -cbL "$model"/*.safetensors | tail -1 | cut -f1)
echo "model: $model ($(awk -v b="$size" 'BEGIN {printf "%.2f GB", b/1e9}') of safetensors)," \
  "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
sha=$(openssl speed -seconds 2 -bytes 16384 -evp sha256 2>/dev/null | awk '/^sha256/ {print $2}')
echo "OpenSSL SHA-256, one core, 16 KiB blocks: $(awk -v k="${sha%k}" 'BEGIN {printf "%.2f GB/s", k/1e6}')"
cat "$model"/*.safetensors >/dev/null # warm the page cache: every run reads from memory

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# bench NAME OUTPUT ARGS...: ROUNDS pairs of runs, with and without the record, alternating.
bench() {
  local name="$1" out="$2"
  shift 2
  local with=() without=() with_cpu=() without_cpu=()
  for ((i = 0; i < rounds; i++)); do
    measure "$name, --provenance" "$owl" "$@" -o "$work/$out" --quiet --provenance
    with+=("$MEASURED_WALL")
    with_cpu+=("$MEASURED_CPU")
    rm -f "$work"/*
    measure "$name, --no-provenance" "$owl" "$@" -o "$work/$out" --quiet --no-provenance
    without+=("$MEASURED_WALL")
    without_cpu+=("$MEASURED_CPU")
    rm -f "$work"/*
  done
  local w wo wc woc
  w=$(printf '%s\n' "${with[@]}" | median)
  wo=$(printf '%s\n' "${without[@]}" | median)
  wc=$(printf '%s\n' "${with_cpu[@]}" | median)
  woc=$(printf '%s\n' "${without_cpu[@]}" | median)
  echo "$name: median $w s with the record, $wo s without: $(ratio "$w" "$wo")x wall;" \
    "CPU $wc s / $woc s: $(ratio "$wc" "$woc")x"
}

bench "convert f16" out.gguf convert "$model" --dtype f16
[ "${OWL_BENCH_SKIP_QUANTIZE:-0}" = 1 ] || bench "quantize Q4_K_M" out.gguf quantize "$model" -t Q4_K_M
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
