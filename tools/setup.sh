# Shared by tools/test.sh and tools/demo.sh: install what a fresh Debian 12 machine lacks, then
# build owl into build/. Source it; it defines functions and runs nothing by itself.

OWL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OWL_BUILD="${OWL_BUILD:-$OWL_ROOT/build}"

# Debian packages the build needs (compilers and cmake, protobuf, zstd, xxHash, CLI11, JSON,
# Catch2, OpenMP) and the Python used by the interop tests.
OWL_APT_PACKAGES=(build-essential cmake pkg-config libprotobuf-dev protobuf-compiler libzstd-dev
  libxxhash-dev libcli11-dev nlohmann-json3-dev catch2 libomp-dev python3 python3-pip time)

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

owl_build() {
  owl_log "building owl into ${OWL_BUILD#$OWL_ROOT/}"
  cmake -S "$OWL_ROOT" -B "$OWL_BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$OWL_BUILD" -j "$(nproc)"
}
