#!/usr/bin/env bash
# Base + LoRA adapter -> Q4_K_M: owl quantize --lora in one streaming pass, against llama.cpp's
# route (owl makes the f16 base GGUF and the GGUF adapter for it, untimed; then llama-export-lora
# merges to f16 and llama-quantize quantizes), wall time, CPU time and peak RSS of each step;
# owl merge to f16 GGUF beside llama-export-lora, and how far apart the two routes' f16 and
# Q4_K_M tensors are (compare_tensors.py).
#
#   tools/bench/lora.sh BASE_HF_DIR [RANK [THREADS]]
#
# A base to try: ../shared/tools/make_synth_llama.py DIR --dtype f16 (1.1B parameters by default;
# with an f16 base the one pass and the two steps give the same bytes). The
# adapter (rank RANK, default 64, on every projection) is made by make_lora_adapter.py. The
# llama.cpp steps need llama-export-lora and llama-quantize in $OWL_LLAMA_CPP_TOOLS (tools/setup.sh
# builds both); they are skipped when missing. Wants about 6x the base's size free beside it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$root/tools/bench/measure.sh"
owl="${OWL_BIN:-$root/build/bin/owl}"
base="${1:?usage: $0 BASE_HF_DIR [RANK [THREADS]]}"
rank="${2:-64}"
threads="${3:-$(nproc)}"
python="${OWL_PYTHON:-${OWL_VENV:-$HOME/.cache/owl/venv}/bin/python3}"
tools="${OWL_LLAMA_CPP_TOOLS:-$HOME/.cache/owl/llama-cpp-0.3.36-tools/bin}"
work="$(mktemp -d "$(dirname "$base")/owl-lora-bench-XXXX")"
trap 'rm -rf "$work"' EXIT

"$python" "$root/tools/bench/make_lora_adapter.py" "$base" "$work/adapter" --rank "$rank"
echo "base: $base ($(du -sh "$base" | cut -f1)), adapter rank $rank ($(du -sh "$work/adapter" | cut -f1)), $threads threads"
cat "$base"/*.safetensors >/dev/null

measure "owl quantize --lora Q4_K_M" "$owl" quantize "$base" --lora "$work/adapter" -o "$work/owl.gguf" \
  -t Q4_K_M --threads "$threads" --quiet --no-provenance
owl_wall=$MEASURED_WALL owl_cpu=$MEASURED_CPU owl_rss=$MEASURED_RSS_MB
measure "owl quantize Q4_K_M (no adapter)" "$owl" quantize "$base" -o "$work/plain.gguf" \
  -t Q4_K_M --threads "$threads" --quiet --no-provenance
rm -f "$work/plain.gguf"
# Two steps through an f16 folder named as the base (general.name comes from the folder).
two="$work/two/$(basename "$base")"
mkdir -p "$two"
cp "$base"/config.json "$two"/
cp "$base"/tokenizer* "$two"/ 2>/dev/null || true
measure "owl merge -> f16 safetensors" env OMP_NUM_THREADS="$threads" "$owl" merge "$base" --lora "$work/adapter" \
  -o "$two/model.safetensors" --dtype f16 --quiet
two_wall=$MEASURED_WALL
measure "owl quantize merged f16 Q4_K_M" "$owl" quantize "$two" -o "$work/two.gguf" -t Q4_K_M \
  --threads "$threads" --quiet --no-provenance
echo "  one pass: $(ratio "$(awk -v a="$two_wall" -v b="$MEASURED_WALL" 'BEGIN {print a + b}')" "$owl_wall")x as fast as two;" \
  "$(cmp -s "$work/owl.gguf" "$work/two.gguf" && echo "same bytes" || echo "BYTES DIFFER")"
rm -rf "$work/two" "$work/two.gguf"

if [ -x "$tools/llama-export-lora" ] && [ -x "$tools/llama-quantize" ]; then
  # llama.cpp's route starts from GGUFs: the f16 base and the GGUF LoRA (made here, not timed).
  "$owl" convert "$base" -o "$work/base.f16.gguf" --dtype f16 --quiet --no-provenance
  "$owl" convert "$work/adapter" --base "$base" -o "$work/adapter.gguf" --quiet --no-provenance
  # owl merge has no --threads: its OpenMP loops take OMP_NUM_THREADS.
  measure "owl merge --lora -> f16 GGUF" env OMP_NUM_THREADS="$threads" "$owl" merge "$base" \
    --lora "$work/adapter" -o "$work/owl.f16.gguf" --dtype f16 --quiet --no-provenance
  owl_merge_wall=$MEASURED_WALL owl_merge_cpu=$MEASURED_CPU
  measure "llama-export-lora -> f16 GGUF" "$tools/llama-export-lora" -m "$work/base.f16.gguf" \
    --lora "$work/adapter.gguf" -o "$work/ref.f16.gguf" -t "$threads"
  ref_wall=$MEASURED_WALL ref_cpu=$MEASURED_CPU ref_rss=$MEASURED_RSS_MB
  echo "  owl merge: $(ratio "$ref_wall" "$owl_merge_wall")x as fast as llama-export-lora (wall)," \
    "$(ratio "$ref_cpu" "$owl_merge_cpu")x (CPU)"
  echo "  merged f16: $("$python" "$root/tools/bench/compare_tensors.py" "$work/owl.f16.gguf" "$work/ref.f16.gguf")"
  rm -f "$work/owl.f16.gguf" "$work/base.f16.gguf"
  measure "llama-quantize Q4_K_M" "$tools/llama-quantize" "$work/ref.f16.gguf" "$work/ref.gguf" Q4_K_M "$threads"
  ref_wall=$(awk -v a="$ref_wall" -v b="$MEASURED_WALL" 'BEGIN {print a + b}')
  ref_cpu=$(awk -v a="$ref_cpu" -v b="$MEASURED_CPU" 'BEGIN {print a + b}')
  [ "$MEASURED_RSS_MB" -gt "$ref_rss" ] && ref_rss=$MEASURED_RSS_MB
  echo "  owl's one pass is $(ratio "$ref_wall" "$owl_wall")x as fast as llama-export-lora + llama-quantize" \
    "(wall), $(ratio "$ref_cpu" "$owl_cpu")x (CPU), with $(ratio "$owl_rss" "$ref_rss")x the peak RSS"
  echo "  Q4_K_M: $("$python" "$root/tools/bench/compare_tensors.py" "$work/owl.gguf" "$work/ref.gguf")"
else
  echo "  (llama-export-lora or llama-quantize not in $tools: llama.cpp's route skipped)"
fi
