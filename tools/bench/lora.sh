#!/usr/bin/env bash
# Base + LoRA adapter -> Q4_K_M: owl quantize --lora in one streaming pass, against llama.cpp's
# route (owl makes the f16 base GGUF and the GGUF adapter for it; then llama-export-lora merges
# to f16 and llama-quantize quantizes), wall time and peak RSS of each step, and a check that the
# two outputs hold the same tensors.
#
#   tools/bench/lora.sh BASE_HF_DIR [RANK [THREADS]]
#
# A base to try: ../shared/tools/make_synth_llama.py DIR --dtype f16 (1.1B parameters by default;
# with an f16 base the one pass and the two steps give the same bytes). The
# adapter (rank RANK, default 64, on every projection) is made by make_lora_adapter.py. The
# llama.cpp steps need llama-export-lora and llama-quantize in $OWL_LLAMA_CPP_TOOLS (tools/setup.sh
# builds llama-quantize; `ninja -C ~/.cache/owl/llama-cpp-0.3.36-tools llama-export-lora`); they
# are skipped when missing.
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
owl_wall=$MEASURED_WALL owl_rss=$MEASURED_RSS_MB
measure "owl quantize Q4_K_M (no adapter)" "$owl" quantize "$base" -o "$work/plain.gguf" \
  -t Q4_K_M --threads "$threads" --quiet --no-provenance
rm -f "$work/plain.gguf"
# Two steps through an f16 folder named as the base (general.name comes from the folder).
two="$work/two/$(basename "$base")"
mkdir -p "$two"
cp "$base"/config.json "$two"/
cp "$base"/tokenizer* "$two"/ 2>/dev/null || true
measure "owl merge -> f16 safetensors" "$owl" merge "$base" --lora "$work/adapter" \
  -o "$two/model.safetensors" --dtype f16 --quiet
two_wall=$MEASURED_WALL
measure "owl quantize merged f16 Q4_K_M" "$owl" quantize "$two" -o "$work/two.gguf" -t Q4_K_M \
  --threads "$threads" --quiet --no-provenance
echo "  one pass: $(ratio "$(awk -v a="$two_wall" -v b="$MEASURED_WALL" 'BEGIN {print a + b}')" "$owl_wall")x as fast as two;" \
  "$(cmp -s "$work/owl.gguf" "$work/two.gguf" && echo "same bytes" || echo "BYTES DIFFER")"
rm -rf "$work/two" "$work/two.gguf"

if [ -x "$tools/llama-export-lora" ] && [ -x "$tools/llama-quantize" ]; then
  "$owl" convert "$base" -o "$work/base.f16.gguf" --dtype f16 --quiet
  "$owl" convert "$work/adapter" --base "$base" -o "$work/adapter.gguf" --quiet
  measure "llama-export-lora (f16)" "$tools/llama-export-lora" -m "$work/base.f16.gguf" \
    --lora "$work/adapter.gguf" -o "$work/merged.f16.gguf" -t "$threads"
  ref_wall=$MEASURED_WALL ref_rss=$MEASURED_RSS_MB
  measure "llama-quantize Q4_K_M" "$tools/llama-quantize" "$work/merged.f16.gguf" "$work/ref.gguf" Q4_K_M "$threads"
  ref_wall=$(awk -v a="$ref_wall" -v b="$MEASURED_WALL" 'BEGIN {print a + b}')
  [ "$MEASURED_RSS_MB" -gt "$ref_rss" ] && ref_rss=$MEASURED_RSS_MB
  echo "  owl's one pass is $(ratio "$ref_wall" "$owl_wall")x as fast as the two llama.cpp steps, with" \
    "$(ratio "$owl_rss" "$ref_rss")x the peak RSS"
  "$python" - "$work/owl.gguf" "$work/ref.gguf" <<'PY'
import sys
import numpy as np
import gguf
a, b = (gguf.GGUFReader(p) for p in sys.argv[1:3])
ta = {t.name: (t.tensor_type, np.asarray(t.data).tobytes()) for t in a.tensors}
tb = {t.name: (t.tensor_type, np.asarray(t.data).tobytes()) for t in b.tensors}
diff = sorted(n for n in ta.keys() | tb.keys() if ta.get(n) != tb.get(n))
print("  same tensors" if not diff else f"  {len(diff)} tensors differ, e.g. {diff[:3]}")
PY
else
  echo "  (llama-export-lora or llama-quantize not in $tools: llama.cpp's route skipped)"
fi
