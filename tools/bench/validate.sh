#!/usr/bin/env bash
# owl validate against llama-perplexity's KL divergence, on the same tokens with the same thread
# count, one after the other, with wall and CPU time and peak RSS for each:
#   (a) the full comparison: llama-perplexity --kl-divergence-base on the f16 model, then
#       --kl-divergence on the Q4_K_M model, against `owl validate f16 q4km --save-ref`;
#   (b) the quantized model alone: --kl-divergence against `owl validate --ref-logits`.
#
#   tools/bench/validate.sh LLAMA_PERPLEXITY MODEL_DIR [THREADS [TOKENS [TEXT [PYTHON]]]]
#
# MODEL_DIR is a Hugging Face Llama folder (e.g. from shared/tools/make_synth_llama.py); without a
# tokenizer of its own it gets the vocabulary of VOCAB_GGUF, e.g. llama.cpp's
# models/ggml-vocab-llama-spm.gguf for a 32000-token Llama. THREADS
# defaults to 2, TOKENS to 4096 (chunks of 512), TEXT to the GPL-3 text; it must tokenize to at
# least TOKENS tokens. llama.cpp tokenizes it (through llama-cpp-python) and owl reads the same ids.
# Set WORK to a folder to keep the converted models between runs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$root/tools/bench/measure.sh"
owl="${OWL_BIN:-$root/build/bin/owl}"
usage="usage: $0 LLAMA_PERPLEXITY MODEL_DIR [THREADS [TOKENS [TEXT [PYTHON]]]]"
perplexity="${1:?$usage}"
model="${2:?$usage}"
threads="${3:-2}"
n_tokens="${4:-4096}"
text="${5:-/usr/share/common-licenses/GPL-3}"
python="${6:-${OWL_PYTHON:-${OWL_VENV:-$HOME/.cache/owl/venv}/bin/python3}}"  # tools/setup.sh's venv: llama-cpp-python, gguf
ctx=512
chunks=$((n_tokens / ctx))
bench_work_dir validate-bench

# The ids llama-perplexity evaluates: the whole text tokenized with a BOS in front.
cat >"$work/token_ids.py" <<'EOF'
import sys
import llama_cpp

llm = llama_cpp.Llama(model_path=sys.argv[1], vocab_only=True, verbose=False)
ids = llm.tokenize(open(sys.argv[2], "rb").read(), add_bos=True, special=False)
if len(ids) < int(sys.argv[3]):
    sys.exit(f"{sys.argv[2]} gives {len(ids)} tokens, fewer than {sys.argv[3]}")
print(" ".join(map(str, ids)))
EOF

export OMP_NUM_THREADS="$threads"
if [[ ! -f "$work/f16.gguf" ]]; then
  tokenizer=()
  if ! ls "$model"/tokenizer.{model,json} >/dev/null 2>&1; then
    "$python" "$root/tools/bench/vocab_to_llama2c.py" "${VOCAB_GGUF:?$model has no tokenizer: set VOCAB_GGUF}" \
      "$work/tokenizer.bin"
    tokenizer=(--tokenizer "$work/tokenizer.bin")
  fi
  "$owl" convert "$model" -o "$work/f16.gguf" --dtype f16 "${tokenizer[@]}" --quiet
  "$owl" quantize "$work/f16.gguf" -o "$work/q4km.gguf" -t Q4_K_M --quiet
fi
"$python" "$work/token_ids.py" "$work/f16.gguf" "$text" "$n_tokens" >"$work/tokens.txt"

echo "model: $model, f16 $(du -h "$work/f16.gguf" | cut -f1), Q4_K_M $(du -h "$work/q4km.gguf" | cut -f1);" \
  "$chunks chunks of $ctx tokens; $threads threads of $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$work"/*.gguf >/dev/null  # warm the page cache for both tools

lp=("$perplexity" -f "$text" -c "$ctx" -b "$ctx" --chunks "$chunks" -t "$threads" -tb "$threads")
owl_validate=("$owl" validate --tokens "$work/tokens.txt" --ctx "$ctx" --chunks "$chunks" --no-tensors --quiet)

echo "(a) both models"
measure "llama-perplexity base f16" "${lp[@]}" -m "$work/f16.gguf" --kl-divergence-base "$work/lp.kld"
base_wall=$MEASURED_WALL base_cpu=$MEASURED_CPU
measure "llama-perplexity kl Q4_K_M" "${lp[@]}" -m "$work/q4km.gguf" --kl-divergence-base "$work/lp.kld" \
  --kl-divergence
kl_wall=$MEASURED_WALL kl_cpu=$MEASURED_CPU
lp_wall=$(awk -v a="$base_wall" -v b="$kl_wall" 'BEGIN {print a + b}')
lp_cpu=$(awk -v a="$base_cpu" -v b="$kl_cpu" 'BEGIN {print a + b}')
measure "owl validate f16 Q4_K_M" "${owl_validate[@]}" --save-ref "$work/owl.ref" "$work/f16.gguf" "$work/q4km.gguf"
echo "  owl takes $(ratio "$MEASURED_WALL" "$lp_wall")x the wall time, $(ratio "$MEASURED_CPU" "$lp_cpu")x the CPU time" \
  "of llama-perplexity's two runs"

echo "(b) the quantized model against saved reference logits"
measure "owl validate --ref-logits" "${owl_validate[@]}" --ref-logits "$work/owl.ref" "$work/f16.gguf" \
  "$work/q4km.gguf"
echo "  owl takes $(ratio "$MEASURED_WALL" "$kl_wall")x the wall time, $(ratio "$MEASURED_CPU" "$kl_cpu")x the CPU time" \
  "of llama-perplexity --kl-divergence"
