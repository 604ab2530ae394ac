#!/usr/bin/env bash
# How owl scales with cores, threads against MPI ranks, beside llama.cpp on the same threads:
#   (a) quantize to MIX (default Q4_K_M): owl --threads N, `mpirun -np N owl --threads 1`,
#       llama-quantize with N threads;
#   (b) importance matrix over CHUNKS chunks of 512 tokens: owl imatrix --threads N,
#       `mpirun -np N owl imatrix --threads 1`, llama-imatrix -t N;
#   (c) IQ2_XXS with owl's matrix from (b): the same three.
# Every owl output is checked byte-identical to owl's first one of its job, whatever the threads or
# ranks, and each llama.cpp file against owl's (bytes, else tensors when gguf-py is importable).
#
#   tools/bench/scaling.sh MODEL.gguf [TEXT [CHUNKS]]
#
# The counts come from the environment, each a list: QUANTIZE_COUNTS (default "1 2"),
# IMATRIX_COUNTS ("1 2"), IQ_COUNTS ("2"); LLAMA_COUNTS restricts which counts llama.cpp runs at
# (default: all). RANKS=0 skips the MPI runs. llama.cpp's tools are taken from
# $OWL_LLAMA_CPP_TOOLS (skipped when absent), mpirun from the PATH.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$root/tools/bench/measure.sh"
owl="${OWL_BIN:-$root/build/bin/owl}"
tools="${OWL_LLAMA_CPP_TOOLS:-}"
python="${OWL_PYTHON:-python3}"
model="${1:?usage: $0 MODEL.gguf [TEXT [CHUNKS]]}"
text="${2:-/usr/share/common-licenses/GPL-3}"
chunks="${3:-8}"
mix="${MIX:-Q4_K_M}"
llama_counts=" ${LLAMA_COUNTS:-${QUANTIZE_COUNTS:-1 2} ${IMATRIX_COUNTS:-1 2} ${IQ_COUNTS:-2}} "
bench_work_dir scaling
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
mpi_ok=0
[[ "${RANKS:-1}" != 0 ]] && command -v mpirun >/dev/null && mpi_ok=1

echo "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); model $(du -h "$model" | cut -f1);" \
  "$chunks chunks of 512 tokens of $(basename "$text")"
cat "$model" >/dev/null # warm the page cache for every run

rows=()
# row JOB N: one table row from the wall and CPU seconds in the arrays t_wall, t_cpu, r_wall,
# r_cpu, l_wall, l_cpu (empty where that run was skipped).
row() {
  local speedup="" ratio=""
  [[ -n "${t_wall:-}" && -n "${first_wall:-}" ]] && speedup="$(ratio "$first_wall" "$t_wall")x"
  [[ -n "${l_wall:-}" && -n "${t_wall:-}" ]] && ratio="$(ratio "$l_wall" "$t_wall")x"
  rows+=("| $1 | $2 | ${t_wall:+$t_wall s / $t_cpu s} | $speedup | ${r_wall:+$r_wall s / $r_cpu s} |\
 ${l_wall:+$l_wall s / $l_cpu s} | $ratio |")
}

# same FILE REFERENCE: whether two GGUFs are the same bytes, or else hold the same tensors.
same() {
  if cmp -s "$1" "$2"; then
    echo "same bytes"
  elif "$python" -c "import gguf" 2>/dev/null; then
    "$python" "$root/tools/bench/same_tensors.py" "$1" "$2"
  else
    echo "DIFFERENT bytes (no gguf-py here to compare the tensors)"
  fi
}

# scale JOB COUNTS: runs owl_cmd, llama_cmd (arrays of words; "@N" stands for the count, "@OUT"
# for the output file) at each count; owl's outputs are compared with the first.
scale() {
  local job="$1" n out first="" first_wall=""
  for n in $2; do
    t_wall="" t_cpu="" r_wall="" r_cpu="" l_wall="" l_cpu=""
    out="$work/owl-$n.gguf"
    measure "$job, owl --threads $n" $(subst "$n" "$out" "${owl_cmd[@]}") --threads "$n"
    t_wall=$MEASURED_WALL t_cpu=$MEASURED_CPU
    [[ -z "$first_wall" ]] && first_wall=$t_wall
    [[ -z "$first" ]] && first="$out" || echo "  against owl's first: $(same "$out" "$first")"
    if ((mpi_ok && n > 1)); then
      measure "$job, mpirun -np $n owl --threads 1" mpirun -np "$n" --oversubscribe \
        $(subst 1 "$work/mpi.gguf" "${owl_cmd[@]}") --threads 1
      r_wall=$MEASURED_WALL r_cpu=$MEASURED_CPU
      echo "  against owl's first: $(same "$work/mpi.gguf" "$first")"
    fi
    if [[ -n "$tools" && "$llama_counts" == *" $n "* ]]; then
      measure "$job, llama.cpp $n threads" $(subst "$n" "$work/llama.gguf" "${llama_cmd[@]}")
      l_wall=$MEASURED_WALL l_cpu=$MEASURED_CPU
      [[ "$job" == imatrix* ]] || echo "  llama.cpp's against owl's: $(same "$work/llama.gguf" "$first")"
    fi
    row "$job" "$n"
  done
  # The first output stays for the next job (the importance matrix); the rest go.
  find "$work" -name 'owl-*.gguf' ! -path "$first" -delete
  rm -f "$work/mpi.gguf" "$work/llama.gguf"
  last_first="$first"
}

# subst N OUT WORDS...: the words with @N and @OUT replaced (no word holds a space).
subst() {
  local n="$1" out="$2" w
  shift 2
  for w in "$@"; do
    w="${w//@N/$n}"
    echo "${w//@OUT/$out}"
  done
}

owl_cmd=("$owl" quantize "$model" -o @OUT -t "$mix" --no-provenance -q)
llama_cmd=("$tools/llama-quantize" "$model" @OUT "$mix" @N)
scale "quantize $mix" "${QUANTIZE_COUNTS:-1 2}"

owl_cmd=("$owl" imatrix "$model" --text "$text" --ctx 512 --chunks "$chunks" --no-ppl -o @OUT -q)
llama_cmd=("$tools/llama-imatrix" -m "$model" -f "$text" -c 512 --chunks "$chunks" -t @N -o @OUT
  --no-ppl)
scale "imatrix ($chunks x 512)" "${IMATRIX_COUNTS:-1 2}"
matrix="$work/imatrix.gguf"
mv "$last_first" "$matrix"

owl_cmd=("$owl" quantize "$model" -o @OUT -t IQ2_XXS --imatrix "$matrix" --no-provenance -q)
llama_cmd=("$tools/llama-quantize" --imatrix "$matrix" "$model" @OUT IQ2_XXS @N)
scale "quantize IQ2_XXS --imatrix" "${IQ_COUNTS:-2}"

echo
echo "| job | N | owl, N threads: wall / CPU | speed-up | mpirun -np N, 1 thread each: wall / CPU |\
 llama.cpp, N threads: wall / CPU | llama.cpp / owl, wall |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo "(speed-up: owl's wall at the job's first count over its wall at N; load at end:" \
  "$(cut -d' ' -f1-3 /proc/loadavg))"
