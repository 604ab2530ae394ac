#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs the unit tests (ctest) and the
# interop tests against the reference Python packages (pytest).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

owl_install_apt
owl_install_pip
owl_fetch_models
owl_fetch_llama_cpp_vocabs
owl_build

owl_log "unit tests"
ctest --test-dir "$OWL_BUILD" --output-on-failure -j "$(nproc)"

owl_log "interop tests"
cd "$OWL_ROOT"
OWL_BIN="$OWL_BUILD/bin/owl" python3 -m pytest -q tests/interop
