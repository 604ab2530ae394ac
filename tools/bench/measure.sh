# Sourced by the benchmark scripts: run a command under /usr/bin/time -v and report its wall
# time, CPU time (user + system) and peak resident memory. Sets MEASURED_WALL, MEASURED_CPU
# (seconds) and MEASURED_RSS_MB.
measure() {
  local label="$1"; shift
  local log
  log="$(mktemp)"
  if ! /usr/bin/time -v "$@" 2>"$log" >/dev/null; then
    echo "FAILED: $*" >&2
    tail -5 "$log" >&2
    rm -f "$log"
    return 1
  fi
  MEASURED_WALL=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$log")
  MEASURED_RSS_MB=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$log")
  MEASURED_CPU=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$log")
  rm -f "$log"
  printf '%-40s %8.2f s wall %8.2f s cpu %8s MB\n' "$label" "$MEASURED_WALL" "$MEASURED_CPU" "$MEASURED_RSS_MB"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }

# bench_work_dir NAME: sets `work` to $WORK (created, kept: a rerun can reuse what is there) or
# to a fresh folder under $TMPDIR that is removed when the script exits.
bench_work_dir() {
  if [[ -n "${WORK:-}" ]]; then
    work="$WORK"
    mkdir -p "$work"
  else
    work="$(mktemp -d "${TMPDIR:-/tmp}/owl-$1-XXXX")"
    trap 'rm -rf "$work"' EXIT
  fi
}
