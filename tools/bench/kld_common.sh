# Sourced by the bench scripts that score quantized files with llama.cpp's own
# llama-perplexity --kl-divergence against a reference: sets up the reference (MODEL expanded to
# F32), llama-imatrix's matrix over the calibration text and the reference logits, and defines
# score NAME FILE SECONDS PARAMS, which prints one Markdown row:
# | file | size | bpw | mean KLD | p99 KLD | top-1 | PPL | time |.
# Expects: root, model, work; kld_arguments sets the rest.

owl="${OWL_BIN:-$root/build/bin/owl}"
tools="${OWL_LLAMA_CPP_TOOLS:-$HOME/.cache/owl/llama-cpp-0.3.36-tools/bin}"

# CALIB EVAL CHUNKS THREADS, each empty for its default: calibration GPL-3 + GPL-2 + LGPL-2.1,
# evaluation GFDL-1.3 + Apache-2.0 + MPL-2.0 (Debian's /usr/share/common-licenses), 20 chunks of
# 512, 2 threads.
kld_arguments() {
  local lic=/usr/share/common-licenses
  if [[ -n "$1" ]]; then calib="$1"; else
    calib="$work/calib.txt"; cat "$lic/GPL-3" "$lic/GPL-2" "$lic/LGPL-2.1" >"$calib"; fi
  if [[ -n "$2" ]]; then eval_text="$2"; else
    eval_text="$work/eval.txt"; cat "$lic/GFDL-1.3" "$lic/Apache-2.0" "$lic/MPL-2.0" >"$eval_text"; fi
  chunks="${3:-20}"
  threads="${4:-2}"
}

# stdbuf: llama-perplexity's closing statistics are lost from a buffered pipe at exit.
seconds() { python3 -c "import time;print(time.monotonic())"; }
elapsed() { python3 -c "print(f'{$(seconds) - $1:.1f}')"; }

# Each step is skipped when its output is there already: a script given a kept work folder
# (WORK=DIR) carries on where it stopped.
kld_setup() {
  # Without owl's record: llama-quantize copies every key of its input, so a record in the
  # reference would make its files differ from owl's (which drop a stale record) in metadata.
  [[ -s "$work/ref.gguf" ]] ||
    "$owl" quantize "$model" -o "$work/ref.gguf" -t F32 --allow-requantize --no-provenance --quiet
  [[ -s "$work/imatrix.gguf" ]] ||
    "$tools/llama-imatrix" -m "$work/ref.gguf" -f "$calib" -o "$work/imatrix.gguf" -c 512 \
      -t "$threads" --no-ppl >"$work/imatrix.log" 2>&1
  [[ -s "$work/base.log" ]] || {
    stdbuf -o0 -e0 "$tools/llama-perplexity" -b 512 -m "$work/ref.gguf" -f "$eval_text" -c 512 \
      --chunks "$chunks" -t "$threads" --kl-divergence-base "$work/base.kld" \
      >"$work/base.log.part" 2>&1
    mv "$work/base.log.part" "$work/base.log"
  }
}

# kld_figures LOG: llama-perplexity's "MEAN_KLD P99_KLD TOP1_PERCENT PPL" from its log (nan where
# missing). The closing statistics are sometimes lost at exit even unbuffered: the last chunk's
# row holds the same running means (PPL, ln ratio, KLD, delta p, same top p); p99 is then nan.
kld_figures() {
  python3 - "$1" <<'PY'
import re, sys
log = open(sys.argv[1]).read()
def grab(pattern):
    m = re.search(pattern, log, re.M)
    return float(m.group(1)) if m else float("nan")
mean = grab(r"Mean\s+KLD:\s+([-\d.e]+)")
p99 = grab(r"99\.0%\s+KLD:\s+([-\d.e]+)")
top1 = grab(r"Same top p:\s+([-\d.e]+)")
ppl = grab(r"Mean\s+PPL\(Q\)\s*:\s+([-\d.e]+)")
rows = re.findall(r"^\s*\d+\s+([\d.]+) ±\s+[\d.]+\s+[-\d.]+ ±\s+[\d.]+\s+([\d.]+) ±\s+[\d.]+"
                  r"\s+[\d.]+ ±\s+[\d.]+ %\s+([\d.]+) ±", log, re.M)
if mean != mean and rows:
    ppl, mean, top1 = (float(v) for v in rows[-1])
print(mean, p99, top1, ppl)
PY
}

# The mean KLD alone, for scripts that need the number.
mean_kld_of() {  # LOG
  kld_figures "$1" | cut -d' ' -f1
}

kld_run() {  # NAME FILE: writes $work/NAME.log (kept from an earlier run of the same FILE)
  [[ -s "$work/$1.log" && "$work/$1.log" -nt "$2" ]] && return 0
  stdbuf -o0 -e0 "$tools/llama-perplexity" -b 512 -m "$2" -f "$eval_text" -c 512 --chunks "$chunks" \
    -t "$threads" --kl-divergence-base "$work/base.kld" --kl-divergence >"$work/$1.log.part" 2>&1
  mv "$work/$1.log.part" "$work/$1.log"
}

score() {  # NAME FILE TIME PARAMS (TIME printed as given)
  kld_run "$1" "$2"
  local mean p99 top1 ppl size
  read -r mean p99 top1 ppl < <(kld_figures "$work/$1.log")
  size=$(stat -c %s "$2")
  python3 -c "import sys; m, p, t, q, size, params = map(float, sys.argv[1:7])
print(f'| {sys.argv[7]} | {int(size):,} B | {8 * size / params:.3f} | {m:.5f} | {p:.4f} | {t:.2f}% '
      f'| {q:.3f} | {sys.argv[8]} |')" "$mean" "$p99" "$top1" "$ppl" "$size" "$4" "$1" "$3"
}

model_params() {
  "$owl" inspect "$work/ref.gguf" --json | python3 -c \
    "import json,sys;print(json.load(sys.stdin)['parameter_count'])" 2>/dev/null || echo 0
}
