#!/usr/bin/env bash
# The main job on the bundled real model (stories260K, a trained Llama from llama2.c): convert
# it to GGUF with its tokenizer, make smaller versions of it, and measure what each one cost
# against the original with the reference forward pass.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

owl_install_apt
owl_build

owl="$OWL_BUILD/bin/owl"
data="$OWL_ROOT/tests/data/stories260K"
out="$OWL_BUILD/demo"  # kept: the GGUF files and HTML reports are worth a look afterwards
rm -rf "$out" && mkdir -p "$out"

owl_log "owl inspect stories260K.bin"
"$owl" inspect "$data/stories260K.bin" --max-tensors 4

owl_log "owl convert stories260K.bin --tokenizer tok512.bin -o stories260K-f16.gguf"
"$owl" convert "$data/stories260K.bin" --tokenizer "$data/tok512.bin" -o "$out/stories260K-f16.gguf"
"$owl" inspect "$out/stories260K-f16.gguf" --max-tensors 4

# Text for the evaluation: stories in the style the model was trained on.
cat >"$out/story.txt" <<'TXT'
Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high. Lily asked her mom to help her. Her mom said, "Let's get a stick and push the ball down." They found a long stick and pushed the ball. The ball fell down and Lily was very happy. She said, "Thank you, mom!" They played with the ball all day long.
Tom had a little dog named Max. Max liked to run and jump. One day, Tom and Max went to the park. They saw a big tree with a bird on it. The bird was singing a happy song. Max wanted to play with the bird, so he barked. The bird flew away. Tom laughed and said, "Max, you scared the bird!" Max wagged his tail and they went home to eat dinner.
TXT
for i in 1 2 3 4 5 6; do cat "$out/story.txt"; done >"$out/stories.txt"

# Its rows (64 and 172 values) are too short for k-quants, and ffn_down's 172 is not even a
# multiple of 32: those tensors fall back, and the plan says so.
for type in Q8_0 Q5_1 Q4_0; do
  owl_log "owl quantize stories260K-f16.gguf -o stories260K-$type.gguf -t $type"
  "$owl" quantize "$out/stories260K-f16.gguf" -o "$out/stories260K-$type.gguf" -t "$type"
  owl_log "owl validate stories260K.bin stories260K-$type.gguf --text stories.txt --ctx 128"
  "$owl" validate "$data/stories260K.bin" "$out/stories260K-$type.gguf" --text "$out/stories.txt" --ctx 128 \
    --report "$out/report-$type.html" --quiet
done

owl_log "done: models and HTML reports are in ${out#$OWL_ROOT/}"
ls -l "$out"
