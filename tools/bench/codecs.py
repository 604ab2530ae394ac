#!/usr/bin/env python3
"""Times owl's block quantizers beside ggml's in one run, with and without an importance matrix.

ggml: `ggml_quantize_chunk` from llama-cpp-python's libggml-base (tests/interop/ggml_quant.py),
called in process. owl: the test-only `owl_codec_probe` (tests/codec_probe.cpp), one process per
call, so its times include starting and reading and writing the files; the Q8_0 line shows that
overhead. Both run on one thread. Best of three.

Run: python3 tools/bench/codecs.py [build/bin] [ROWS] [WIDTH]
"""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "interop"))
import ggml_quant  # noqa: E402

TYPES = {"Q8_0": 8, "Q4_0": 2, "Q4_1": 3, "Q5_0": 6, "Q5_1": 7, "Q2_K": 10, "Q3_K": 11,
         "Q4_K": 12, "Q5_K": 13, "Q6_K": 14, "IQ4_NL": 20, "IQ4_XS": 23, "IQ2_XXS": 16,
         "IQ2_XS": 17, "IQ2_S": 22, "IQ3_XXS": 18, "IQ3_S": 21, "IQ1_S": 19, "IQ1_M": 29}


def best_of(runs, fn):
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    bin_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "build" / "bin"
    rows, width = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (1024, 4096)
    probe = bin_dir / "owl_codec_probe"
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((rows, width)) * 0.02).astype(np.float32)
    imatrix = rng.lognormal(0.0, 1.5, width).astype(np.float32)
    tmp = Path(tempfile.mkdtemp())
    (tmp / "x.f32").write_bytes(x.tobytes())
    (tmp / "w.f32").write_bytes(imatrix.tobytes())
    print(f"{rows} rows of {width}, one thread")
    print(f"{'type':8s}{'imatrix':>8s}{'ggml ms':>10s}{'owl ms':>10s}{'owl/ggml':>10s}")
    for name, type_id in TYPES.items():
        for weighted in (False, True):
            if not weighted and ggml_quant.requires_imatrix(type_id):
                continue  # ggml quantizes IQ2_XXS, IQ2_XS and IQ1_S only with an imatrix
            argv = [str(probe), name, str(width), str(tmp / "x.f32"), str(tmp / "out.bin")]
            if weighted:
                argv.append(str(tmp / "w.f32"))
            ggml = best_of(3, lambda: ggml_quant.quantize(type_id, x, imatrix if weighted else None))
            owl = best_of(3, lambda: subprocess.run(argv, check=True))
            print(f"{name:8s}{'yes' if weighted else 'no':>8s}{ggml * 1e3:10.1f}{owl * 1e3:10.1f}"
                  f"{owl / ggml:10.2f}")


if __name__ == "__main__":
    main()
