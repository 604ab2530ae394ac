#!/usr/bin/env bash
# Fuzzes every parser owl has with libFuzzer (targets in tests/fuzz/): builds them with clang,
# ASan and UBSan into build-fuzz/ (the libraries with -fsanitize=fuzzer-no-link so their coverage
# guides the fuzzer), seeds each target's corpus from tests/data/, the builders (make_seeds) and
# the kept regression inputs, then runs the targets two at a time, niced, for SECONDS each.
# A crash, leak, UB report, uncaught exception other than InputError/UsageError, input slower
# than 5 s or RSS over 2 GiB is a finding: its input is left under <build>/artifacts/<target>/
# and the script exits 1. A table of each target's executions, coverage and corpus ends the run.
#
#   tools/fuzz.sh [SECONDS] [TARGET...]   SECONDS per target (default 300; 0: only build);
#                                         TARGET: any of the list below (default: all)
#   OWL_FUZZ_BUILD=dir                    another build folder (tools/test.sh uses build-asan/,
#                                         whose unit tests share the libraries)
#   OWL_FUZZ_ALSO_BUILD="t1 t2"           more CMake targets to build in the same folder
#   OWL_FUZZ_JOBS=N                       targets run at once (default 2)
#
# Keep an input a run found as a regression: copy it to
# tests/data/<format>/fuzz_regressions/<target>/ (format: see tests/fuzz/targets.h); the unit
# test "fuzz regressions" replays it, and later runs start from it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${OWL_FUZZ_BUILD:-$ROOT/build-fuzz}"
DATA="$ROOT/tests/data"
SECONDS_PER_TARGET="${1:-300}"
shift || true
ALL_TARGETS=(fuzz_gguf fuzz_gguf_split fuzz_safetensors fuzz_safetensors_index fuzz_llama2c
  fuzz_llama2c_tokenizer fuzz_hf_config fuzz_hf_tokenizer_json fuzz_hf_tokenizer_config
  fuzz_model_card fuzz_sentencepiece fuzz_unpickler fuzz_zip_checkpoint fuzz_zip_pickle fuzz_scan
  fuzz_imatrix fuzz_signature fuzz_hub_api fuzz_st_modules fuzz_resume_journal
  fuzz_peft_config fuzz_sensitivity fuzz_provenance)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")
read -r -a ALSO_BUILD <<<"${OWL_FUZZ_ALSO_BUILD:-}"
JOBS="${OWL_FUZZ_JOBS:-2}"

# Per input 5 s and 2 GiB: anything beyond is a finding.
TIMEOUT_S=5
RSS_LIMIT_MB=2048

# Stack traces for UBSan reports too (ASan prints them by default); libOMP's thread buffers are
# not leaks (tests/fuzz/lsan.supp).
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$ROOT/tests/fuzz/lsan.supp}"

log() { printf '==> %s\n' "$*" >&2; }

CC=clang CXX=clang++ cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DOWL_SANITIZE=ON -DOWL_FUZZ=ON -DOWL_BUILD_TESTS=ON \
  $(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache) >/dev/null
log "building ${TARGETS[*]} ${ALSO_BUILD[*]} into ${BUILD#$ROOT/}"
# cmake builds several --target one after the other, each restating the libraries it checked.
cmake --build "$BUILD" -j2 --target make_seeds "${TARGETS[@]}" "${ALSO_BUILD[@]}" |
  { grep -v -E '^\[ *[0-9]+%\] Built target' || true; }
[ "$SECONDS_PER_TARGET" -gt 0 ] || exit 0

# Copies files into corpus folder $1, named by their path under tests/data (names repeat across
# fixture folders).
add_seeds() {
  local dir="$1" f
  shift
  for f in "$@"; do
    [ -f "$f" ] || continue
    local rel="${f#$ROOT/}"
    cp "$f" "$dir/${rel//\//_}"
  done
}

# Every zip checkpoint's data.pkl under tests/data/pytorch, into folder $1.
extract_pickles() {
  python3 - "$DATA/pytorch" "$1" <<'PY'
import sys, zipfile, pathlib
data, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for p in sorted(data.rglob("*.zip.pt")):
    try:
        z = zipfile.ZipFile(p)
        pkl = [n for n in z.namelist() if n.endswith("/data.pkl")]
        if pkl:
            (out / (p.name + ".data.pkl")).write_bytes(z.read(pkl[0]))
    except Exception:
        pass  # a broken zip among the malicious files: its bytes seed the zip target
PY
}

SEEDS="$BUILD/seeds"
rm -rf "$SEEDS"
"$BUILD/bin/make_seeds" "$SEEDS"

# A fresh corpus: real files from tests/data, the builders' files, and every kept regression.
seed_corpus() {
  local target="$1" dir="$2"
  mkdir -p "$dir"
  shopt -s nullglob
  case "$target" in
    fuzz_gguf) add_seeds "$dir" "$DATA"/hf/reference/tiny-{llama3,gemma,mistral}.f16.gguf ;;
    fuzz_safetensors) add_seeds "$dir" "$DATA"/hf/tiny-{llama3,gemma,gemma3,mistral,phi3}/model.safetensors ;;
    fuzz_llama2c_tokenizer) add_seeds "$dir" "$DATA/stories260K/tok512.bin" ;;
    fuzz_hf_config | fuzz_hf_tokenizer_json | fuzz_hf_tokenizer_config)
      local name="${target#fuzz_hf_}"
      name="${name/tokenizer_json/tokenizer}.json"
      add_seeds "$dir" "$DATA"/hf/*/"$name" "$DATA"/tokenizers/*/"$name" ;;
    fuzz_st_modules) add_seeds "$dir" "$DATA"/hf/tiny-embeddinggemma/modules.json ;;
    fuzz_sentencepiece) add_seeds "$dir" "$DATA"/hf/tiny-{gemma,phi3}/tokenizer.model \
      "$DATA/tokenizers/spm/tokenizer.model" ;;
    fuzz_zip_checkpoint)
      find "$DATA/pytorch" -name '*.zip.pt' -size -64k -exec cp -t "$dir" {} +
      find "$DATA/pytorch/tiny-llama3-bin" -name '*.bin' -size -64k -exec cp -t "$dir" {} + ;;
    fuzz_unpickler)
      find "$DATA/pytorch" -name '*.legacy.pt' -size -64k -exec cp -t "$dir" {} +
      extract_pickles "$dir" ;;
    fuzz_zip_pickle) extract_pickles "$dir" ;;
    fuzz_scan)
      find "$DATA/pytorch" -maxdepth 2 -name '*.pt' -size -16k -exec cp -t "$dir" {} +
      add_seeds "$dir" "$DATA"/pytorch/malicious/7z_archive.bin "$DATA"/hf/tiny-mistral/model.safetensors \
        "$DATA"/hf/reference/tiny-gemma.f16.gguf ;;
    fuzz_signature) add_seeds "$dir" "$DATA"/signing/*.sig ;;
    fuzz_hub_api) add_seeds "$dir" "$DATA"/hub/*.json ;;
    fuzz_peft_config) add_seeds "$dir" "$DATA"/lora/*/adapter_config.json ;;
    fuzz_sensitivity) add_seeds "$dir" "$DATA"/sensitivity/*.json ;;
  esac
  add_seeds "$dir" "$SEEDS/$target"/* "$DATA"/*/fuzz_regressions/"$target"/*
  shopt -u nullglob
}

# Dictionary and largest input per target: JSON inputs may be a few MB, so that nesting and
# size limits are reachable; binary formats stay small, so mutations stay fast.
fuzz_options() {
  case "$1" in
    fuzz_gguf | fuzz_gguf_split | fuzz_imatrix)
      echo "-dict=$ROOT/tests/fuzz/gguf.dict -max_len=262144" ;;
    fuzz_safetensors) echo "-dict=$ROOT/tests/fuzz/json.dict -max_len=262144" ;;
    fuzz_safetensors_index | fuzz_hf_* | fuzz_hub_api | fuzz_peft_config) echo "-dict=$ROOT/tests/fuzz/json.dict -max_len=4194304" ;;
    fuzz_signature | fuzz_sensitivity | fuzz_provenance) echo "-dict=$ROOT/tests/fuzz/json.dict -max_len=262144" ;;
    fuzz_model_card) echo "-dict=$ROOT/tests/fuzz/model_card.dict -max_len=1048576" ;;
    fuzz_unpickler | fuzz_zip_* | fuzz_scan) echo "-dict=$ROOT/tests/fuzz/pickle.dict -max_len=65536" ;;
    *) echo "-max_len=65536" ;;
  esac
}

# Runs one target; its log is <build>/logs/<target>.log, its summary <build>/logs/<target>.stats.
run_target() {
  local target="$1" corpus="$BUILD/corpus/$1" artifacts="$BUILD/artifacts/$1/"
  local logfile="$BUILD/logs/$target.log"
  # An earlier run's findings are moved aside, not counted again (nor lost).
  if [ -n "$(ls -A "$artifacts" 2>/dev/null)" ]; then
    mkdir -p "$BUILD/artifacts/old"
    mv "$artifacts" "$BUILD/artifacts/old/$target-$(date +%Y%m%d-%H%M%S)"
  fi
  mkdir -p "$artifacts" "$BUILD/logs"
  rm -f "$BUILD/logs/$target.failed"
  [ -d "$corpus" ] || seed_corpus "$target" "$corpus"
  log "$target: ${SECONDS_PER_TARGET}s from $(ls "$corpus" | wc -l) inputs"
  local rc=0 start
  start="$(date +%s)"
  # shellcheck disable=SC2046 # fuzz_options prints separate flags
  timeout $((SECONDS_PER_TARGET + 300)) nice -n 10 "$BUILD/bin/$target" "$corpus" \
    $(fuzz_options "$target") -max_total_time="$SECONDS_PER_TARGET" -timeout="$TIMEOUT_S" \
    -rss_limit_mb="$RSS_LIMIT_MB" -print_final_stats=1 -artifact_prefix="$artifacts" \
    >"$logfile" 2>&1 || rc=$?
  local last execs secs findings
  last="$(grep -E '^#[0-9]+.*cov: ' "$logfile" | tail -1 || true)"
  execs="$(sed -n 's/^stat::number_of_executed_units: //p' "$logfile" | tail -1)"
  secs=$(($(date +%s) - start))  # a finding ends the run early: this is what really ran
  # libFuzzer prints the count at a clean end only; after a finding, its last status line has it.
  [ -n "$execs" ] || execs="$(sed -n 's/^#\([0-9]*\).*cov: .*/\1/p' <<<"$last")"
  findings="$(ls "$artifacts" | wc -l)"
  [ "$rc" -eq 0 ] || [ "$findings" -gt 0 ] || findings="rc=$rc"
  printf '%-24s %6s %10s %7s %7s %7s %s\n' "$target" "${secs:-?}" "${execs:-?}" \
    "$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")" \
    "$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")" "$(ls "$corpus" | wc -l)" \
    "$findings" >"$BUILD/logs/$target.stats"
  if [ "$rc" -ne 0 ] || [ "$findings" != 0 ]; then
    touch "$BUILD/logs/$target.failed"
    log "$target: FINDINGS in ${artifacts#$ROOT/} (log: ${logfile#$ROOT/})"
    grep -E -m3 '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|.*uncaught exception|.*out-of-memory|.*timeout)' \
      "$logfile" >&2 || true
    return 1
  fi
}

for target in "${TARGETS[@]}"; do
  # At most JOBS targets at once: wait for one to end before starting the next.
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  run_target "$target" &
done
wait

status=0
printf '\n%-24s %6s %10s %7s %7s %7s %s\n' target seconds execs cov ft corpus findings
for target in "${TARGETS[@]}"; do
  cat "$BUILD/logs/$target.stats" 2>/dev/null || echo "$target: no result"
  [ -f "$BUILD/logs/$target.stats" ] && [ ! -f "$BUILD/logs/$target.failed" ] || status=1
done
exit $status
