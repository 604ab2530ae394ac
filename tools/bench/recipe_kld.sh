#!/usr/bin/env bash
# Measured recipes (owl quantize --target-bpw / --target-size) against llama.cpp's mixes at the
# same size, scored by llama.cpp's own llama-perplexity --kl-divergence; and how well the
# predicted error a recipe allocates with ranks the drift each tensor causes alone.
#
# For each mix: llama-quantize MIX with llama-imatrix's matrix, then owl --target-bpw at exactly
# that mix's bits per weight (tensor data over weights, as `owl quantize --dry-run` counts them)
# and owl --target-size at exactly its file size, both with the same matrix and one sensitivity
# measurement on the calibration text. The reference is MODEL expanded to F32. Prints Markdown.
#
#   tools/bench/recipe_kld.sh MODEL [MIXES [CALIB [EVAL [CHUNKS [THREADS [RANK_LAYERS]]]]]]
#
# Defaults as tools/bench/optimize_kld.sh (Q4_K_M,Q3_K_M; 20 chunks; 2 threads). RANK_LAYERS
# (default "0 6 12 18 24 29"): the layers whose matrices are quantized alone to Q4_0 (all else
# Q8_0) for the rank correlation; "none" skips it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
usage="usage: $0 MODEL [MIXES [CALIB [EVAL [CHUNKS [THREADS [RANK_LAYERS]]]]]]"
model="${1:?$usage}"
mixes="${2:-Q4_K_M,Q3_K_M}"
work="$(mktemp -d "${TMPDIR:-/tmp}/owl-recipe-XXXX")"
trap 'rm -rf "$work"' EXIT
source "$root/tools/bench/kld_common.sh"
kld_arguments "${3:-}" "${4:-}" "${5:-}" "${6:-}"
rank_layers="${7:-0 6 12 18 24 29}"

kld_setup
params=$(model_params)
json_field() { python3 -c "import json,sys;print(json.load(sys.stdin)$1)"; }

t0=$(seconds)
"$owl" quantize "$work/ref.gguf" --imatrix "$work/imatrix.gguf" --text "$calib" \
  --calibration-chunks 8 --sensitivity-out "$work/sensitivity.json" --threads "$threads" --quiet
echo "sensitivity measured in $(elapsed "$t0") s (8 chunks of 512 of $(basename "$calib"))"
echo
echo "| file | size | bpw | mean KLD | p99 KLD | top-1 | PPL | time |"
echo "|---|---|---|---|---|---|---|---|"
for mix in ${mixes//,/ }; do
  t0=$(seconds)
  "$tools/llama-quantize" --imatrix "$work/imatrix.gguf" "$work/ref.gguf" "$work/llama-$mix.gguf" \
    "$mix" "$threads" >"$work/llama-$mix.qlog" 2>&1
  score "llama.cpp $mix" "$work/llama-$mix.gguf" "$(elapsed "$t0") s" "$params"
  bpw=$("$owl" quantize "$work/ref.gguf" -t "$mix" --imatrix "$work/imatrix.gguf" --dry-run --json --quiet |
    json_field "['bits_per_weight']")
  t0=$(seconds)
  "$owl" quantize "$work/ref.gguf" -o "$work/bpw-$mix.gguf" --target-bpw "$bpw" \
    --sensitivity "$work/sensitivity.json" --imatrix "$work/imatrix.gguf" --threads "$threads" --quiet
  score "owl --target-bpw $(printf %.4f "$bpw") ($mix)" "$work/bpw-$mix.gguf" "$(elapsed "$t0") s" "$params"
  size=$(stat -c %s "$work/llama-$mix.gguf")
  t0=$(seconds)
  "$owl" quantize "$work/ref.gguf" -o "$work/size-$mix.gguf" --target-size "$size" \
    --sensitivity "$work/sensitivity.json" --imatrix "$work/imatrix.gguf" --threads "$threads" --quiet
  score "owl --target-size $size ($mix)" "$work/size-$mix.gguf" "$(elapsed "$t0") s" "$params"
done
grep -o "Final estimate: PPL = [0-9.]*" "$work/base.log" | sed 's/^/reference (F32): /' || true
echo "(llama-perplexity over $chunks chunks of 512 of $(basename "$eval_text"); calibration $(basename "$calib"); $threads threads)"
[[ "$rank_layers" == none ]] && exit 0

# Rank correlation: each sampled matrix alone at Q4_0, everything else Q8_0; its drift is the
# mean KLD over the all-Q8_0 file's, its prediction the sensitivity's Q4_0 error over Q8_0's.
"$owl" quantize "$work/ref.gguf" -o "$work/all-q8.gguf" -t Q8_0 --imatrix "$work/imatrix.gguf" \
  --threads "$threads" --quiet
kld_run all-q8 "$work/all-q8.gguf"
base=$(mean_kld_of "$work/all-q8.log")
: >"$work/drift.tsv"
names=(token_embd.weight)
for l in $rank_layers; do
  for m in attn_q attn_k attn_v attn_output ffn_gate ffn_up ffn_down; do names+=("blk.$l.$m.weight"); done
done
for name in "${names[@]}"; do
  "$owl" quantize "$work/ref.gguf" -o "$work/one.gguf" -t Q8_0 --imatrix "$work/imatrix.gguf" \
    --threads "$threads" --quiet \
    --tensor-type "^${name//./\\.}\$=q4_0"
  kld_run one "$work/one.gguf"
  printf '%s\t%s\n' "$name" "$(mean_kld_of "$work/one.log")" >>"$work/drift.tsv"
done
python3 - "$work/sensitivity.json" "$work/drift.tsv" "$base" <<'PY'
import json, sys
table = {t["name"]: {c["type"]: c["error"] for c in t["candidates"]}
         for t in json.load(open(sys.argv[1]))["tensors"]}
base = float(sys.argv[3])
rows = [l.split("\t") for l in open(sys.argv[2]).read().splitlines()]
pred = [table[n]["Q4_0"] - table[n]["Q8_0"] for n, _ in rows]
drift = [float(k) - base for _, k in rows]
def ranks(v):
    order = sorted(range(len(v)), key=lambda i: v[i])
    r = [0.0] * len(v)
    for pos, i in enumerate(order):
        r[i] = pos
    return r
def pearson(a, b):
    n = len(a); ma = sum(a) / n; mb = sum(b) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    return cov / (sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b)) ** 0.5
print(f"\nSpearman rank correlation, predicted error vs measured drift (mean KLD over all-Q8_0 "
      f"{base:.5f}), {len(rows)} tensors alone at Q4_0: {pearson(ranks(pred), ranks(drift)):.3f}")
for (n, _), p, d in sorted(zip(rows, pred, drift), key=lambda x: -x[2]):
    print(f"  {n:28s} predicted {p:.4g}  drift {d:.5f}")
PY
