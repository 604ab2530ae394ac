#!/usr/bin/env bash
# Makes stories260K.json, the seed of the fuzz_sensitivity target: owl's sensitivity measurement
# (owl quantize --sensitivity-out) of stories260K, converted to f32, over story.txt four times.
#   tests/data/sensitivity/make_seed.sh   (OWL_BIN: the owl binary, default build/bin/owl)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
owl="${OWL_BIN:-$root/build/bin/owl}"
stories="$root/tests/data/stories260K"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$owl" convert "$stories/stories260K.bin" -o "$tmp/ref.gguf" --dtype f32 \
  --tokenizer "$stories/tok512.bin" --quiet --no-provenance
for _ in 1 2 3 4; do cat "$stories/story.txt"; done >"$tmp/calib.txt"
cd "$tmp"  # the file records the text's name as given
"$owl" quantize ref.gguf --text calib.txt --calibration-ctx 128 \
  --sensitivity-out "$here/stories260K.json" --threads 1 --quiet
