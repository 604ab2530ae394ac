#!/usr/bin/env bash
# The main job on the bundled real model (stories260K, a trained Llama from llama2.c):
# inspect it, convert it to safetensors in f16, and inspect what was written.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

owl_install_apt
owl_build

owl="$OWL_BUILD/bin/owl"
model="$OWL_ROOT/tests/data/stories260K/stories260K.bin"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

owl_log "owl inspect stories260K.bin"
"$owl" inspect "$model" --max-tensors 12

owl_log "owl convert stories260K.bin -o stories260K-f16.safetensors --dtype f16"
"$owl" convert "$model" -o "$out/stories260K-f16.safetensors" --dtype f16

owl_log "owl inspect stories260K-f16.safetensors --hash"
"$owl" inspect "$out/stories260K-f16.safetensors" --hash --max-tensors 12
