#!/usr/bin/env bash
# A mixture of experts, Hugging Face folder -> F16 GGUF -> Q4_K_M: owl against llama.cpp's converter
# (convert_hf_to_gguf.py) and llama-quantize, one after the other on the same synthetic Qwen2-MoE
# checkpoint (tests/interop/test_hf_moe.py's layout: LAYERS layers of EXPERTS experts of
# 2048 x 1024 in BF16), with wall time and peak RSS for each, and a check that the Q4_K_M files
# are the same bytes.
#
#   tools/bench/moe.sh LLAMA_CPP_TREE CONVERT_PYTHON LLAMA_QUANTIZE [EXPERTS [LAYERS [THREADS]]]
#
# CONVERT_PYTHON runs convert_hf_to_gguf.py (torch, transformers: see
# tests/data/hf/make_moe_fixtures.py); LLAMA_QUANTIZE is a built llama-quantize.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$root/tools/bench/measure.sh"
owl="${OWL_BIN:-$root/build/bin/owl}"
llama_cpp="${1:?usage: $0 LLAMA_CPP_TREE CONVERT_PYTHON LLAMA_QUANTIZE [EXPERTS [LAYERS [THREADS]]]}"
convert_python="${2:?convert python}"
llama_quantize="${3:?llama-quantize}"
experts="${4:-32}"
layers="${5:-2}"
threads="${6:-$(nproc)}"
python="${OWL_PYTHON:-${OWL_VENV:-$HOME/.cache/owl/venv}/bin/python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/owl-bench-moe-XXXX")"
trap 'rm -rf "$work"' EXIT

(cd "$root/tests/interop" && "$python" -c "
import sys, test_hf_moe as t
from pathlib import Path
t.write_qwen2moe(Path(sys.argv[1]), 9, hidden_size=1024, num_hidden_layers=int(sys.argv[3]),
                 num_attention_heads=8, num_key_value_heads=8, num_experts=int(sys.argv[2]),
                 moe_intermediate_size=2048, shared_expert_intermediate_size=256,
                 intermediate_size=256)" "$work/moe" "$experts" "$layers")
echo "model: $(du -sh "$work/moe/model.safetensors" | cut -f1), $layers layers of $experts experts (2048 x 1024, 4 MiB each); $threads threads"

# The reference converter, with the fixture tokenizer's pre-tokenizer answered as make_fixtures.py does.
wrapper="$(cd "$root/tests/data/hf" && "$python" -c "
import make_fixtures as mf; print(mf.CONVERT_WRAPPER.replace('PRE_TOKENIZER', repr('qwen2')))")"

measure "owl convert -> F16" "$owl" convert "$work/moe" -o "$work/owl.f16.gguf" --dtype f16 --quiet
owl_convert=("$MEASURED_WALL" "$MEASURED_RSS_MB")
measure "convert_hf_to_gguf.py -> F16" "$convert_python" -c "$wrapper" "$llama_cpp" "$work/moe" \
  --outtype f16 --outfile "$work/ref.f16.gguf"
ref_convert=("$MEASURED_WALL" "$MEASURED_RSS_MB")
measure "owl quantize F16 -> Q4_K_M" "$owl" quantize "$work/owl.f16.gguf" -o "$work/owl.q4.gguf" \
  -t Q4_K_M --threads "$threads" --quiet
owl_quant=("$MEASURED_WALL" "$MEASURED_RSS_MB")
measure "llama-quantize F16 -> Q4_K_M" "$llama_quantize" "$work/ref.f16.gguf" "$work/ref.q4.gguf" \
  Q4_K_M "$threads"
ref_quant=("$MEASURED_WALL" "$MEASURED_RSS_MB")
# Straight from the folder: the BF16 values quantized without rounding them to F16 first, so the
# bytes may differ from the two-step files where a weight is not an F16 number.
measure "owl quantize folder -> Q4_K_M (one pass)" "$owl" quantize "$work/moe" \
  -o "$work/owl.direct.gguf" -t Q4_K_M --threads "$threads" --quiet

same() { cmp -s "$1" "$2" && echo "the same bytes" || echo "DIFFERENT"; }
echo "F16 files: $(same "$work/owl.f16.gguf" "$work/ref.f16.gguf"); Q4_K_M files: $(same "$work/owl.q4.gguf" "$work/ref.q4.gguf")"
echo "owl / llama.cpp: convert time $(ratio "${owl_convert[0]}" "${ref_convert[0]}"), peak RSS $(ratio "${owl_convert[1]}" "${ref_convert[1]}");" \
  "quantize time $(ratio "${owl_quant[0]}" "${ref_quant[0]}"), peak RSS $(ratio "${owl_quant[1]}" "${ref_quant[1]}")"
