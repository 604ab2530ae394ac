#!/usr/bin/env bash
# The main job on the bundled real model (stories260K, a trained Llama from llama2.c): convert
# it to GGUF with its tokenizer, make smaller versions of it, and measure what each one cost
# against the original with the reference forward pass.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

owl_install_apt
owl_build owl  # the CLI only: the demo runs no test

owl="$OWL_BUILD/bin/owl"
data="$OWL_ROOT/tests/data/stories260K"
out="$OWL_BUILD/demo"  # kept: the GGUF files and HTML reports are worth a look afterwards
rm -rf "$out" && mkdir -p "$out"

owl_log "owl inspect stories260K.bin"
"$owl" inspect "$data/stories260K.bin" --max-tensors 4

owl_log "owl convert stories260K.bin --tokenizer tok512.bin -o stories260K-f16.gguf"
"$owl" convert "$data/stories260K.bin" --tokenizer "$data/tok512.bin" -o "$out/stories260K-f16.gguf"
"$owl" inspect "$out/stories260K-f16.gguf" --max-tensors 4

# Text for the evaluation, in the style the model was trained on: two short stories, six times
# over so that it fills 15 chunks of 128 tokens (README's validate example is this run).
for i in 1 2 3 4 5 6; do cat "$data/story.txt"; done >"$out/stories.txt"

# Said once, before the warnings it explains.
cat <<'TXT'

About the warnings below: quantized types store each row of a matrix in blocks, of 32 values
(Q8_0, Q5_1, Q4_0) or 256 (k-quants, like the Q6_K these mixes give the token embeddings).
stories260K is tiny: its feed-forward rows hold 172 values and its embedding rows 64, so those
tensors "fall back" to the closest type that fits (F16, Q8_0), as llama-quantize does, and
owl warns once for each. Most real models' rows (2048, 4096, ...) fit the blocks, and
--no-fallback makes a fallback an error.

What owl validate reports, running the original and the smaller model on the same text:
  perplexity     how surprised each model is by the text's next tokens (lower is better)
  KL divergence  how far the smaller model's next-token probabilities are from the original's (0: same)
  top-1 agree    how often both models rank the same token first
  delta p RMS    how much the probability of the text's actual next token moved (root mean square)
TXT

for type in Q8_0 Q5_1 Q4_0; do
  owl_log "owl quantize stories260K-f16.gguf -o stories260K-$type.gguf -t $type"
  "$owl" quantize "$out/stories260K-f16.gguf" -o "$out/stories260K-$type.gguf" -t "$type"
  owl_log "owl validate stories260K.bin stories260K-$type.gguf --text stories.txt --ctx 128"
  "$owl" validate "$data/stories260K.bin" "$out/stories260K-$type.gguf" --text "$out/stories.txt" --ctx 128 \
    --report "$out/report-$type.html" --quiet
done

owl_log "done: models and HTML reports are in ${out#$OWL_ROOT/}"
ls -l "$out"
