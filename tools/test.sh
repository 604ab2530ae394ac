#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs the unit tests (ctest) and the
# interop tests against the reference Python packages (pytest).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

owl_install_apt
owl_install_pip
owl_fetch_models
owl_fetch_llama_cpp_vocabs
owl_build_llama_cpp_tools
owl_build

owl_log "unit tests (about 20 s)"
owl_timed ctest --test-dir "$OWL_BUILD" --output-on-failure -j "$(nproc)"

owl_log "interop tests (about 7 min on 2 cores; each dot is a test that passed)"
cd "$OWL_ROOT"
OWL_BIN="$OWL_BUILD/bin/owl" OWL_LLAMA_CPP_TOOLS="$OWL_LLAMA_CPP_TOOLS" owl_timed "$OWL_PYTHON" -m pytest -q tests/interop

# The unit tests again, built by clang with ASan and UBSan (any report fails the test), in
# build-asan/; the same build holds the fuzz targets, so clang compiles owl once.
owl_log "unit tests under ASan and UBSan (clang, build-asan/; building takes about 6 min on 2 cores)"
OWL_FUZZ_BUILD="$OWL_ROOT/build-asan" OWL_FUZZ_ALSO_BUILD=owl_tests owl_timed "$OWL_ROOT/tools/fuzz.sh" 0
UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}" \
  LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$OWL_ROOT/tests/fuzz/lsan.supp}" \
  owl_timed ctest --test-dir "$OWL_ROOT/build-asan" --output-on-failure -j "$(nproc)"

# In CI (CI=true) or when OWL_FUZZ_SECONDS is set: every fuzz target for that long (60 s in CI),
# two at a time; any finding fails the suite.
if [ -n "${OWL_FUZZ_SECONDS:-}" ] || [ "${CI:-}" = true ]; then
  owl_log "fuzzing every parser, ${OWL_FUZZ_SECONDS:-60} s each, two at a time"
  OWL_FUZZ_BUILD="$OWL_ROOT/build-asan" owl_timed "$OWL_ROOT/tools/fuzz.sh" "${OWL_FUZZ_SECONDS:-60}"
fi
