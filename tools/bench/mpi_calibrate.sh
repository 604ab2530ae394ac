#!/usr/bin/env bash
# One process against N MPI ranks for the forward passes: `owl imatrix` and `owl validate` plain
# (1 thread, then N threads) beside `mpirun -np N --threads 1`, chunks shared by the ranks and
# then layers split over them (--pipeline), with llama-imatrix (1 thread) run alongside as the
# anchor; wall time, CPU time and peak RSS (of mpirun's whole job for the ranks), and a check
# that every importance matrix and every validate report is byte-identical to the plain one.
#
#   tools/bench/mpi_calibrate.sh MODEL.gguf TEXT [RANKS [CTX [CHUNKS]]]
#
# MODEL an f32 GGUF that llama.cpp runs (e.g. tests/interop/synth_llama.py's make_llama
# converted with `owl convert --dtype f32`); RANKS defaults to 2, CTX to 128, CHUNKS to 8.
# llama-imatrix is taken from $OWL_LLAMA_CPP_TOOLS (skipped when absent).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$root/tools/bench/measure.sh"
owl="${OWL_BIN:-$root/build/bin/owl}"
model="${1:?usage: $0 MODEL.gguf TEXT [RANKS [CTX [CHUNKS]]]}"
text="${2:?usage: $0 MODEL.gguf TEXT [RANKS [CTX [CHUNKS]]]}"
ranks="${3:-2}"
ctx="${4:-128}"
chunks="${5:-8}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
mpi=(mpirun -np "$ranks" --oversubscribe "$owl")

echo "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(du -h "$model" | cut -f1) model;" \
  "$chunks chunks of $ctx tokens"
imatrix=(imatrix "$model" --text "$text" --ctx "$ctx" --chunks "$chunks" --no-ppl -q)
tools="${OWL_LLAMA_CPP_TOOLS:-}"
if [[ -x "$tools/llama-imatrix" ]]; then
  measure "llama-imatrix, 1 thread" "$tools/llama-imatrix" -m "$model" -f "$text" -c "$ctx" \
    --chunks "$chunks" -o "$work/llama.gguf" -t 1 -ctk f32 -ctv f32 -fa off --no-ppl
  anchor=$MEASURED_CPU
fi
measure "owl imatrix, 1 thread" "$owl" "${imatrix[@]}" -o "$work/one.gguf" --threads 1
one=$MEASURED_CPU
[[ -n "${anchor:-}" ]] && echo "  owl against llama-imatrix, CPU time: $(ratio "$one" "$anchor")x"
measure "owl imatrix, $ranks threads" "$owl" "${imatrix[@]}" -o "$work/threads.gguf" --threads "$ranks"
measure "mpirun -np $ranks owl imatrix" "${mpi[@]}" "${imatrix[@]}" -o "$work/data.gguf" --threads 1
measure "mpirun -np $ranks owl imatrix --pipeline" "${mpi[@]}" "${imatrix[@]}" \
  -o "$work/pipe.gguf" --threads 1 --pipeline
for f in threads data pipe; do cmp "$work/one.gguf" "$work/$f.gguf"; done
echo "  importance matrices byte-identical"

# The model against its own Q4_K_M.
"$owl" quantize "$model" -o "$work/q.gguf" -t Q4_K_M -q
validate=(validate "$model" "$work/q.gguf" --text "$text" --ctx "$ctx" --chunks "$chunks" -q)
OMP_NUM_THREADS=1 measure "owl validate, 1 thread" "$owl" "${validate[@]}" --json "$work/one.json"
OMP_NUM_THREADS="$ranks" measure "owl validate, $ranks threads" "$owl" "${validate[@]}" \
  --json "$work/threads.json"
OMP_NUM_THREADS=1 measure "mpirun -np $ranks owl validate" "${mpi[@]}" "${validate[@]}" \
  --json "$work/data.json"
OMP_NUM_THREADS=1 measure "mpirun -np $ranks owl validate --pipeline" "${mpi[@]}" \
  "${validate[@]}" --json "$work/pipe.json" --pipeline
for f in threads data pipe; do cmp "$work/one.json" "$work/$f.json"; done
echo "  validate reports byte-identical"
