#!/usr/bin/env bash
# A mixture of experts, Hugging Face folder -> F16 GGUF -> Q4_K_M: owl against llama.cpp's converter
# (convert_hf_to_gguf.py) and llama-quantize, one after the other on the same synthetic Qwen2-MoE
# checkpoint (tools/bench/make_synth_moe.py: LAYERS layers of EXPERTS experts of
# EXPERT_FF x HIDDEN in BF16 shards), with wall time, CPU time and peak RSS for each, and a check
# that the F16 and the Q4_K_M files are the same bytes (owl without its provenance record, which
# llama.cpp's tools do not write; tools/bench/provenance.sh measures what the record costs).
#
#   tools/bench/moe.sh LLAMA_CPP_TREE CONVERT_PYTHON LLAMA_QUANTIZE [EXPERTS [LAYERS [THREADS [HIDDEN [EXPERT_FF]]]]]
#
# The issue's realistic shape is `64 8 THREADS 2048 1408` (about 9 GB; the run needs about three
# times that in $TMPDIR). CONVERT_PYTHON runs convert_hf_to_gguf.py (torch, transformers: see
# tests/data/hf/make_moe_fixtures.py); LLAMA_QUANTIZE is a built llama-quantize. With
# OWL_MOE_MODEL=DIR the checkpoint is written there once and kept for later runs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$root/tools/bench/measure.sh"
owl="${OWL_BIN:-$root/build/bin/owl}"
usage="usage: $0 LLAMA_CPP_TREE CONVERT_PYTHON LLAMA_QUANTIZE [EXPERTS [LAYERS [THREADS [HIDDEN [EXPERT_FF]]]]]"
llama_cpp="${1:?$usage}"
convert_python="${2:?convert python}"
llama_quantize="${3:?llama-quantize}"
experts="${4:-32}"
layers="${5:-2}"
threads="${6:-$(nproc)}"
hidden="${7:-1024}"
expert_ff="${8:-2048}"
python="${OWL_PYTHON:-${OWL_VENV:-$HOME/.cache/owl/venv}/bin/python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/owl-bench-moe-XXXX")"
trap 'rm -rf "$work"' EXIT

model="${OWL_MOE_MODEL:-$work/moe}"
if [ ! -e "$model/model.safetensors.index.json" ]; then
  rm -rf "$model"
  "$python" "$root/tools/bench/make_synth_moe.py" "$model" --experts "$experts" --layers "$layers" \
    --hidden "$hidden" --expert-ff "$expert_ff" --heads $((hidden / 128))
fi
echo "model: $(du -sh "$model" | cut -f1) in $(ls "$model"/*.safetensors | wc -l) shards; $(grep -o '"num_experts": [0-9]*' "$model/config.json")"
echo "$threads threads; load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"

# The reference converter, with the fixture tokenizer's pre-tokenizer answered as make_fixtures.py does.
wrapper="$(cd "$root/tests/data/hf" && "$python" -c "
import make_fixtures as mf; print(mf.CONVERT_WRAPPER.replace('PRE_TOKENIZER', repr('qwen2')))")"

measure "owl convert -> F16" "$owl" convert "$model" -o "$work/owl.f16.gguf" --dtype f16 --no-provenance --quiet
owl_convert=("$MEASURED_WALL" "$MEASURED_CPU" "$MEASURED_RSS_MB")
measure "convert_hf_to_gguf.py -> F16" "$convert_python" -c "$wrapper" "$llama_cpp" "$model" \
  --outtype f16 --outfile "$work/ref.f16.gguf"
ref_convert=("$MEASURED_WALL" "$MEASURED_CPU" "$MEASURED_RSS_MB")
same() { cmp -s "$1" "$2" && echo "the same bytes" || echo "DIFFERENT"; }
f16_same="$(same "$work/owl.f16.gguf" "$work/ref.f16.gguf")"
measure "owl quantize F16 -> Q4_K_M" "$owl" quantize "$work/owl.f16.gguf" -o "$work/owl.q4.gguf" \
  -t Q4_K_M --threads "$threads" --no-provenance --quiet
owl_quant=("$MEASURED_WALL" "$MEASURED_CPU" "$MEASURED_RSS_MB")
rm "$work/owl.f16.gguf"
measure "llama-quantize F16 -> Q4_K_M" "$llama_quantize" "$work/ref.f16.gguf" "$work/ref.q4.gguf" \
  Q4_K_M "$threads"
ref_quant=("$MEASURED_WALL" "$MEASURED_CPU" "$MEASURED_RSS_MB")
rm "$work/ref.f16.gguf"
# Straight from the folder: the BF16 values quantized without rounding them to F16 first, so the
# bytes may differ from the two-step files where a weight is not an F16 number.
measure "owl quantize folder -> Q4_K_M (one pass)" "$owl" quantize "$model" \
  -o "$work/owl.direct.gguf" -t Q4_K_M --threads "$threads" --quiet

echo "F16 files: $f16_same; Q4_K_M files: $(same "$work/owl.q4.gguf" "$work/ref.q4.gguf")"
echo "one expert matrix: $(awk -v h="$hidden" -v f="$expert_ff" 'BEGIN {printf "%.2f", 2 * h * f / 2^20}') MiB in BF16"
for i in 0 1 2; do
  what=("wall" "CPU" "peak RSS")
  echo "owl / llama.cpp ${what[$i]}: convert $(ratio "${owl_convert[$i]}" "${ref_convert[$i]}")," \
    "quantize $(ratio "${owl_quant[$i]}" "${ref_quant[$i]}")"
done
