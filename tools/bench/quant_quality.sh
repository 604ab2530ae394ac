#!/usr/bin/env bash
# What each quantization mix costs on a real model: the model expanded to f16 is the reference,
# each mix is made from it with owl quantize, and owl validate scores it on the same text (the
# reference runs once: --save-ref, then --ref-logits). Prints a Markdown table.
#
#   tools/bench/quant_quality.sh MODEL [MIXES [TEXT [CTX [CHUNKS]]]]
#
# MODEL is anything owl reads (e.g. SmolLM2-135M-Instruct.Q4_1.gguf, which tools/test.sh fetches
# to ~/.cache/owl/models); MIXES defaults to Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_0,Q3_K_M,Q2_K; TEXT to
# the GPL-3 text every Debian ships; CTX to 512 and CHUNKS to 8 (4096 tokens).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
owl="${OWL_BIN:-$root/build/bin/owl}"
usage="usage: $0 MODEL [MIXES [TEXT [CTX [CHUNKS]]]]"
model="${1:?$usage}"
mixes="${2:-Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_0,Q3_K_M,Q2_K}"
text="${3:-/usr/share/common-licenses/GPL-3}"
ctx="${4:-512}"
chunks="${5:-8}"
work="$(mktemp -d "${TMPDIR:-/tmp}/owl-quality-XXXX")"
trap 'rm -rf "$work"' EXIT

"$owl" quantize "$model" -o "$work/f16.gguf" -t F16 --allow-requantize --quiet
first=1
echo "| mix | size | PPL (f16 $(basename "$model")) | mean KLD | p99 KLD | top-1 agreement | delta p RMS |"
echo "|---|---|---|---|---|---|---|"
for mix in ${mixes//,/ }; do
  "$owl" quantize "$work/f16.gguf" -o "$work/$mix.gguf" -t "$mix" --quiet
  if ((first)); then
    ref=(--save-ref "$work/ref.owlref")
    first=0
  else
    ref=(--ref-logits "$work/ref.owlref")
  fi
  "$owl" validate "$work/f16.gguf" "$work/$mix.gguf" --text "$text" --ctx "$ctx" --chunks "$chunks" \
    "${ref[@]}" --no-tensors --quiet --json "$work/$mix.json" >/dev/null
  python3 - "$work/$mix.json" "$mix" "$(stat -c %s "$work/$mix.gguf")" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
size = int(sys.argv[3]) / 1e6
print(f"| {sys.argv[2]} | {size:.1f} MB | {r['ppl']['test']:.3f} (ref {r['ppl']['ref']:.3f}) | "
      f"{r['kld']['mean']:.5f} ± {r['kld']['stderr']:.5f} | {r['kld']['p99']:.4f} | "
      f"{100 * r['top1_agreement']:.2f}% | {100 * r['delta_p_rms']:.2f}% |")
PY
done
echo "($(python3 -c "import json;print(json.load(open('$work/${mixes%%,*}.json'))['tokens_scored'])") tokens scored, ctx $ctx)"
