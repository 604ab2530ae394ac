#!/usr/bin/env bash
# Importance matrices, owl against llama.cpp, side by side on one model with the same threads:
#   (a) owl imatrix against llama-imatrix (same text, context, chunks);
#   (b) owl quantize --imatrix against llama-quantize --imatrix for each type, both with
#       llama-imatrix's matrix, and whether they wrote the same tensors.
# The two tools alternate and each measurement is repeated, for a machine shared with other
# jobs: the table gives each tool's median wall and CPU time (user + system) and its largest
# peak RSS, and the ratios of the medians.
#
#   tools/bench/imatrix.sh MODEL [TYPES [THREADS [REPEATS [CHUNKS [TEXT]]]]]
#
# MODEL is a GGUF, or a Hugging Face folder (e.g. from shared/tools/make_synth_llama.py, which
# gets the vocabulary of VOCAB_GGUF, default llama.cpp's models/ggml-vocab-llama-spm.gguf, and
# is converted to f16 first). TYPES defaults to IQ2_XXS,IQ3_S,IQ4_XS,Q4_K_M ("none" skips (b)),
# THREADS to 2, REPEATS to 3, CHUNKS (of 512 tokens) to 2, TEXT to the GPL-3 text. Set WORK to a
# folder to keep the converted model and the matrices between runs; set REPEATS_QUANTIZE to
# repeat (b) another number of times than (a).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$root/tools/bench/measure.sh"
owl="${OWL_BIN:-$root/build/bin/owl}"
tools="${OWL_LLAMA_CPP_TOOLS:-$HOME/.cache/owl/llama-cpp-0.3.36-tools/bin}"
usage="usage: $0 MODEL [TYPES [THREADS [REPEATS [CHUNKS [TEXT]]]]]"
model="${1:?$usage}"
types="${2:-IQ2_XXS,IQ3_S,IQ4_XS,Q4_K_M}"
threads="${3:-2}"
repeats="${4:-3}"
repeats_quantize="${REPEATS_QUANTIZE:-$repeats}"
chunks="${5:-2}"
text="${6:-/usr/share/common-licenses/GPL-3}"
python="${OWL_PYTHON:-${OWL_VENV:-$HOME/.cache/owl/venv}/bin/python3}"  # tools/setup.sh's venv: gguf
ctx=512
bench_work_dir imatrix-bench
export OMP_NUM_THREADS="$threads"

gguf="$model"
if [[ -d "$model" ]]; then
  gguf="$work/f16.gguf"
  if [[ ! -f "$gguf" ]]; then
    tokenizer=()
    if ! ls "$model"/tokenizer.{model,json} >/dev/null 2>&1; then
      vocab="${VOCAB_GGUF:-$HOME/.cache/owl/llama-cpp-0.3.36-src/models/ggml-vocab-llama-spm.gguf}"
      "$python" "$root/tools/bench/vocab_to_llama2c.py" "$vocab" "$work/tokenizer.bin"
      tokenizer=(--tokenizer "$work/tokenizer.bin")
    fi
    "$owl" convert "$model" -o "$gguf" --dtype f16 "${tokenizer[@]}" --quiet
  fi
fi

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
largest() { printf '%s\n' "$@" | sort -g | tail -1; }

# Runs the reference and owl alternately REPEATS times (the reference first in odd rounds, owl
# first in even ones) and prints one Markdown row. Arguments: LABEL REPEATS, then the reference's
# command, "--", owl's command.
rows=()
side_by_side() {
  local label="$1" n="$2"
  shift 2
  local ref=() mine=()
  while [[ "$1" != "--" ]]; do ref+=("$1"); shift; done
  shift
  mine=("$@")
  local rw=() rc=() rr=() ow=() oc=() or=()
  for ((i = 1; i <= n; i++)); do
    for who in $( ((i % 2)) && echo "ref owl" || echo "owl ref"); do
      if [[ $who == ref ]]; then
        measure "  $label llama.cpp #$i" "${ref[@]}"
        rw+=("$MEASURED_WALL") rc+=("$MEASURED_CPU") rr+=("$MEASURED_RSS_MB")
      else
        measure "  $label owl #$i" "${mine[@]}"
        ow+=("$MEASURED_WALL") oc+=("$MEASURED_CPU") or+=("$MEASURED_RSS_MB")
      fi
    done
  done
  local a b c d
  a=$(median "${rw[@]}") b=$(median "${ow[@]}") c=$(median "${rc[@]}") d=$(median "${oc[@]}")
  rows+=("| $label | $a s | $b s | $(ratio "$a" "$b")x | $c s | $d s | $(ratio "$c" "$d")x |\
 $(largest "${rr[@]}") MB | $(largest "${or[@]}") MB |")
}

echo "model: $model ($(du -h "$gguf" | cut -f1) f16); $threads threads of $(nproc) cores;" \
  "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$gguf" >/dev/null  # warm the page cache for both tools

echo "(a) $chunks chunks of $ctx tokens of $(basename "$text")"
side_by_side "imatrix ($chunks x $ctx)" "$repeats" \
  "$tools/llama-imatrix" -m "$gguf" -f "$text" -c "$ctx" --chunks "$chunks" -t "$threads" \
  -o "$work/llama.imatrix.gguf" -- \
  "$owl" imatrix "$gguf" --text "$text" --ctx "$ctx" --chunks "$chunks" --threads "$threads" \
  -o "$work/owl.imatrix.gguf" --quiet

if [[ "$types" != none ]]; then
  echo "(b) quantization with llama-imatrix's matrix"
  for type in ${types//,/ }; do
    side_by_side "quantize $type" "$repeats_quantize" \
      "$tools/llama-quantize" --imatrix "$work/llama.imatrix.gguf" "$gguf" "$work/ref.gguf" \
      "$type" "$threads" -- \
      "$owl" quantize "$gguf" -o "$work/owl.gguf" -t "$type" --imatrix "$work/llama.imatrix.gguf" \
      --threads "$threads" --no-provenance --quiet
    echo "  $type: $("$python" "$root/tools/bench/same_tensors.py" "$work/owl.gguf" "$work/ref.gguf")"
    rm -f "$work/owl.gguf" "$work/ref.gguf"
  done
fi

echo
echo "| run | llama.cpp wall | owl wall | ratio | llama.cpp CPU | owl CPU | ratio | llama.cpp RSS | owl RSS |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo "(medians of $repeats runs for (a), $repeats_quantize for (b), tools alternating; ratio =" \
  "llama.cpp / owl; load at end: $(cut -d' ' -f1-3 /proc/loadavg))"
