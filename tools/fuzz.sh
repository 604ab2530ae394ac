#!/usr/bin/env bash
# Fuzzes the PyTorch checkpoint reader with libFuzzer: builds tests/fuzz/ with clang, ASan and
# UBSan into build-fuzz/ (the libraries with -fsanitize=fuzzer-no-link so their coverage
# guides the fuzzer), seeds each target from tests/data/pytorch/, then runs each target in turn
# for SECONDS (default 300) and prints libFuzzer's final stats. A crash, leak, UB report or
# input slower than 5 s stops the run and leaves the input under build-fuzz/artifacts/<target>/.
#
#   tools/fuzz.sh [SECONDS] [TARGET...]   TARGET: fuzz_unpickler, fuzz_zip_checkpoint or
#                                         fuzz_zip_pickle (default: all three, one at a time)
#   OWL_FUZZ_BUILD=dir                    another build folder
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${OWL_FUZZ_BUILD:-$ROOT/build-fuzz}"
SECONDS_PER_TARGET="${1:-300}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(fuzz_unpickler fuzz_zip_checkpoint fuzz_zip_pickle)
DATA="$ROOT/tests/data/pytorch"

# A timeout of 5 s per input and 2 GiB of memory: anything beyond is a finding.
TIMEOUT_S=5
RSS_LIMIT_MB=2048

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

SANITIZERS="address,undefined"
LIB_FLAGS="-fsanitize=fuzzer-no-link,$SANITIZERS -fno-sanitize-recover=all -fno-omit-frame-pointer"
CC=clang CXX=clang++ cmake -S "$ROOT" -B "$BUILD" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOWL_FUZZ=ON -DOWL_BUILD_TESTS=OFF \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  $(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache) \
  -DCMAKE_CXX_FLAGS="$LIB_FLAGS" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=$SANITIZERS" >/dev/null
log "building ${TARGETS[*]} into ${BUILD#$ROOT/}"
cmake --build "$BUILD" -j2 --target "${TARGETS[@]}"

# Every zip checkpoint's data.pkl under tests/data/pytorch, into folder $1.
extract_pickles() {
  python3 - "$DATA" "$1" <<'PY'
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

# Seeds: whole checkpoints for the zip target; pickles for the others (and, for the unpickler,
# the legacy files, which are a run of pickles).
seed_corpus() {
  local target="$1" dir="$2"
  mkdir -p "$dir"
  case "$target" in
    fuzz_zip_checkpoint)
      find "$DATA" -name '*.zip.pt' -size -64k -exec cp -t "$dir" {} +
      find "$DATA/tiny-llama3-bin" -name '*.bin' -size -64k -exec cp -t "$dir" {} + ;;
    fuzz_unpickler)
      find "$DATA" -name '*.legacy.pt' -size -64k -exec cp -t "$dir" {} +
      extract_pickles "$dir" ;;
    fuzz_zip_pickle)
      extract_pickles "$dir" ;;
  esac
}

status=0
for target in "${TARGETS[@]}"; do
  corpus="$BUILD/corpus/$target"
  artifacts="$BUILD/artifacts/$target/"
  mkdir -p "$artifacts"
  [ -d "$corpus" ] || seed_corpus "$target" "$corpus"
  log "$target: ${SECONDS_PER_TARGET}s, corpus ${corpus#$ROOT/} ($(ls "$corpus" | wc -l) inputs)"
  set +e
  "$BUILD/bin/$target" "$corpus" \
    -dict="$ROOT/tests/fuzz/pickle.dict" \
    -max_total_time="$SECONDS_PER_TARGET" -timeout="$TIMEOUT_S" -rss_limit_mb="$RSS_LIMIT_MB" \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts" >"$BUILD/$target.log" 2>&1
  rc=$?
  set -e
  grep -E '^(stat::|INFO: seed corpus|Done|==[0-9]+==ERROR|SUMMARY|artifact_prefix)' \
    "$BUILD/$target.log" || true
  if [ "$rc" -ne 0 ] || ls "$artifacts" | grep -q .; then
    log "$target: FINDINGS in ${artifacts#$ROOT/} (full log: ${BUILD#$ROOT/}/$target.log)"
    status=1
  fi
done
exit $status
