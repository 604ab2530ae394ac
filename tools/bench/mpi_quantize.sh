#!/usr/bin/env bash
# One process against N MPI ranks: `owl quantize` plain (1 thread, then N threads) beside
# `mpirun -np N owl quantize --threads 1`, on the same input one after the other, with wall time,
# CPU time and peak RSS (of mpirun's whole job for the ranks), and a check that every output is
# byte-identical to the plain one.
#
#   tools/bench/mpi_quantize.sh MODEL [MIX [RANKS]]
#
# MIX defaults to Q4_K_M, RANKS to 2. A model to try: tests/interop/synth_llama.py's make_llama,
# or ../shared/tools/make_synth_llama.py DIR.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$root/tools/bench/measure.sh"
owl="${OWL_BIN:-$root/build/bin/owl}"
model="${1:?usage: $0 MODEL [MIX [RANKS]]}"
mix="${2:-Q4_K_M}"
ranks="${3:-2}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Open MPI refuses root unless told; the vader transport's cross-memory attach is often barred in
# containers.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none

echo "$(nproc) cores; $mix; input $(du -sh "$model" | cut -f1)"
measure "owl quantize, 1 thread" "$owl" quantize "$model" -o "$work/one.gguf" -t "$mix" -q --threads 1
one=$MEASURED_WALL
measure "owl quantize, $ranks threads" "$owl" quantize "$model" -o "$work/threads.gguf" -t "$mix" -q \
  --threads "$ranks"
threads=$MEASURED_WALL
measure "mpirun -np $ranks owl quantize --threads 1" mpirun -np "$ranks" --oversubscribe "$owl" \
  quantize "$model" -o "$work/ranks.gguf" -t "$mix" -q --threads 1
mpi=$MEASURED_WALL
cmp "$work/one.gguf" "$work/threads.gguf"
cmp "$work/one.gguf" "$work/ranks.gguf"
echo "outputs byte-identical; $ranks ranks against 1 thread: $(ratio "$one" "$mpi")x," \
  "against $ranks threads: $(ratio "$threads" "$mpi")x"
