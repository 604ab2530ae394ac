#!/usr/bin/env bash
# GGUF -> quantized GGUF: owl quantize against llama.cpp's quantizer (llama_model_quantize, through
# llama-cpp-python), on the same input with the same thread count, one after the other, with wall
# time and peak RSS for each, and a check that both wrote the same tensors.
#
#   tools/bench/quantize.sh MODEL.gguf [MIXES [THREADS [PYTHON]]]
#
# MIXES is a comma-separated list (default Q4_K_M,Q8_0); THREADS defaults to every core. With
# IMATRIX=FILE in the environment both quantize with that importance matrix, llama.cpp through its
# llama-quantize (from OWL_LLAMA_CPP_TOOLS, as the interop tests find it). A model
# to try: tools/bench/../../../shared/tools/make_synth_llama.py DIR, then
# `owl convert DIR -o model.f16.gguf --dtype f16`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$root/tools/bench/measure.sh"
owl="${OWL_BIN:-$root/build/bin/owl}"
model="${1:?usage: $0 MODEL.gguf [MIXES [THREADS [PYTHON]]]}"
mixes="${2:-Q4_K_M,Q8_0}"
threads="${3:-$(nproc)}"
python="${4:-${OWL_PYTHON:-${OWL_VENV:-$HOME/.cache/owl/venv}/bin/python3}}"  # tools/setup.sh's venv: llama-cpp-python
work="$(mktemp -d "$(dirname "$model")/owl-bench-XXXX")"
trap 'rm -rf "$work"' EXIT

# llama.cpp's quantizer as llama-quantize runs it, without its command-line wrapper.
cat >"$work/llama_quantize.py" <<'EOF'
import sys
import llama_cpp

src, dst, mix, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
params = llama_cpp.llama_model_quantize_default_params()
name = "LLAMA_FTYPE_ALL_F32" if mix == "F32" else f"LLAMA_FTYPE_MOSTLY_{mix}"
params.ftype = getattr(llama_cpp, name)
params.nthread = threads
sys.exit(llama_cpp.llama_model_quantize(src.encode(), dst.encode(), params))
EOF

echo "model: $model ($(du -h "$model" | cut -f1)), $threads threads of $(nproc) cores"
cat "$model" >/dev/null  # warm the page cache for both tools

imatrix="${IMATRIX:-}"
tools="${OWL_LLAMA_CPP_TOOLS:-$HOME/.cache/owl/llama-cpp-0.3.36-tools/bin}"
IFS=',' read -ra list <<<"$mixes"
for mix in "${list[@]}"; do
  measure "owl quantize $mix" "$owl" quantize "$model" -o "$work/owl.gguf" -t "$mix" --threads "$threads" --quiet \
    ${imatrix:+--imatrix "$imatrix"}
  owl_wall=$MEASURED_WALL owl_rss=$MEASURED_RSS_MB
  if [[ -n "$imatrix" ]]; then
    measure "llama-quantize --imatrix $mix" "$tools/llama-quantize" --imatrix "$imatrix" "$model" "$work/ref.gguf" "$mix" "$threads"
  else
    measure "llama_model_quantize $mix" "$python" "$work/llama_quantize.py" "$model" "$work/ref.gguf" "$mix" "$threads"
  fi
  echo "  owl is $(ratio "$MEASURED_WALL" "$owl_wall")x as fast, with $(ratio "$owl_rss" "$MEASURED_RSS_MB")x the peak RSS;" \
    "$("$python" "$root/tools/bench/same_tensors.py" "$work/owl.gguf" "$work/ref.gguf")"
  rm -f "$work"/*.gguf
done
