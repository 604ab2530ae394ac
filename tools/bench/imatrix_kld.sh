#!/usr/bin/env bash
# What an importance matrix buys on a real model, and how owl validate's figures compare with
# llama-perplexity's. For each mix, llama-quantize writes the file without and with
# llama-imatrix's matrix (mixes that need one only with it), owl quantize writes it too (checked
# byte for byte against llama-quantize's), and the file is scored twice on the same evaluation
# text and chunks: by llama.cpp's own llama-perplexity --kl-divergence and by owl validate. The
# reference is MODEL expanded to F32. Prints a Markdown table.
#
#   tools/bench/imatrix_kld.sh MODEL [MIXES [CALIB [EVAL [CHUNKS [THREADS]]]]]
#
# Defaults: Q4_K_M,Q4_0,Q3_K_M,IQ4_XS,IQ3_S,Q2_K,IQ2_M,IQ2_XXS and the texts, chunks and threads of
# tools/bench/optimize_kld.sh. WORK=DIR keeps the folder (shared with target_optimize_kld.sh: the
# same reference, matrix and reference logits) and carries on where a run stopped.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
usage="usage: $0 MODEL [MIXES [CALIB [EVAL [CHUNKS [THREADS]]]]]"
model="${1:?$usage}"
mixes="${2:-Q4_K_M,Q4_0,Q3_K_M,IQ4_XS,IQ3_S,Q2_K,IQ2_M,IQ2_XXS}"
source "$root/tools/bench/measure.sh"
bench_work_dir imatrix-kld
source "$root/tools/bench/kld_common.sh"
kld_arguments "${3:-}" "${4:-}" "${5:-}" "${6:-}"

# Mixes llama-quantize refuses to make without a matrix.
needs_imatrix() { [[ "$1" =~ ^(IQ1_S|IQ1_M|IQ2_XXS|IQ2_XS|IQ2_S|IQ2_M|IQ3_XXS|IQ3_XS|Q2_K_S)$ ]]; }

kld_setup
[[ -s "$work/owl-ref.owlref" ]] || {
  first="$work/llama-Q8_0-none.gguf"
  "$tools/llama-quantize" "$work/ref.gguf" "$first" Q8_0 "$threads" >/dev/null 2>&1
  OMP_NUM_THREADS="$threads" "$owl" validate "$work/ref.gguf" "$first" --text "$eval_text" \
    --ctx 512 --chunks "$chunks" --save-ref "$work/owl-ref.owlref.part" --no-tensors --quiet >/dev/null
  mv "$work/owl-ref.owlref.part" "$work/owl-ref.owlref"
}

# owl_scores NAME FILE: owl validate's mean KLD, top-1 and PPL of FILE against the saved logits.
owl_scores() {
  [[ -s "$work/$1.json" && "$work/$1.json" -nt "$2" ]] ||
    OMP_NUM_THREADS="$threads" "$owl" validate "$work/ref.gguf" "$2" --ref-logits \
      "$work/owl-ref.owlref" --text "$eval_text" --ctx 512 --chunks "$chunks" --no-tensors --quiet --json "$work/$1.json" \
      >/dev/null
  python3 - "$work/$1.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{r['kld']['mean']:.5f} | {100 * r['top1_agreement']:.2f}% | {r['ppl']['test']:.3f}")
PY
}

# llama_scores NAME FILE: llama-perplexity's mean KLD, top-1 and PPL of FILE.
llama_scores() {
  kld_run "$1" "$2"
  kld_figures "$work/$1.log" | awk '{printf "%.5f | %.2f%% | %.3f", $1, $3, $4}'
}

echo "| mix | imatrix | size | llama-perplexity: mean KLD, top-1, PPL | owl validate: mean KLD, top-1, PPL | owl's file |"
echo "|---|---|---|---|---|---|"
for mix in ${mixes//,/ }; do
  for with in none imatrix; do
    [[ "$with" == none ]] && needs_imatrix "$mix" && continue
    im=()
    [[ "$with" == imatrix ]] && im=(--imatrix "$work/imatrix.gguf")
    name="$mix-$with"
    [[ -s "$work/llama-$name.gguf" ]] ||
      "$tools/llama-quantize" "${im[@]}" "$work/ref.gguf" "$work/llama-$name.gguf" "$mix" \
        "$threads" >"$work/llama-$name.qlog" 2>&1
    [[ -s "$work/owl-$name.gguf" ]] ||
      "$owl" quantize "$work/ref.gguf" -o "$work/owl-$name.gguf" -t "$mix" "${im[@]}" \
        --threads "$threads" --no-provenance --quiet
    same="differs"
    cmp -s "$work/owl-$name.gguf" "$work/llama-$name.gguf" && same="llama-quantize's bytes"
    size=$(stat -c %s "$work/llama-$name.gguf")
    echo "| $mix | $with | $(numfmt --to=si --suffix=B "$size") | $(llama_scores "llama $name" \
      "$work/llama-$name.gguf") | $(owl_scores "owl $name" "$work/llama-$name.gguf") | $same |"
  done
done
grep -o "Final estimate: PPL = [0-9.]*" "$work/base.log" | sed 's/^/reference (F32): /' || true
echo "(both scorers over $chunks chunks of 512 of $(basename "$eval_text"); matrix from llama-imatrix over $(basename "$calib"); $threads threads)"
