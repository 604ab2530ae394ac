#!/usr/bin/env python3
"""How far two GGUF files' tensors are apart, by name (tensor order and metadata aside): "same
tensors", or how many differ and by how much: for float types, the values that differ and the
most steps (units in the last place) between two of them; for block types, the blocks that differ.
For benchmarks (tools/bench/lora.sh), reading the files through gguf-py's memory maps.

  compare_tensors.py A.gguf B.gguf
"""

import sys
from collections import defaultdict

import numpy as np
import gguf

FLOAT_BITS = {gguf.GGMLQuantizationType.F32: np.int32, gguf.GGMLQuantizationType.F16: np.int16}


def steps_apart(a, b, bits):
    """Units in the last place between equal-signed floats (the order of their bit patterns)."""
    ia, ib = a.view(bits).astype(np.int64), b.view(bits).astype(np.int64)
    return int(np.max(np.abs(ia - ib)))


def main():
    a, b = (gguf.GGUFReader(p) for p in sys.argv[1:3])
    ta, tb = ({t.name: t for t in r.tensors} for r in (a, b))
    only = sorted(ta.keys() ^ tb.keys())
    other = []  # in both, but of another type or shape
    differ = defaultdict(lambda: [0, 0, 0, 0])  # type: tensors, units differing, units, steps
    same = 0
    for name in sorted(ta.keys() & tb.keys()):
        x, y = ta[name], tb[name]
        if x.tensor_type != y.tensor_type or list(x.shape) != list(y.shape):
            other.append(name)
            continue
        xd, yd = np.asarray(x.data), np.asarray(y.data)
        if np.array_equal(xd.view(np.uint8), yd.view(np.uint8)):
            same += 1
            continue
        d = differ[x.tensor_type.name]
        d[0] += 1
        if x.tensor_type in FLOAT_BITS:
            ne = xd.reshape(-1) != yd.reshape(-1)
            d[1] += int(ne.sum())
            d[2] += xd.size
            bits = FLOAT_BITS[x.tensor_type]
            d[3] = max(d[3], steps_apart(xd.reshape(-1)[ne], yd.reshape(-1)[ne], bits))
        else:
            block = gguf.GGML_QUANT_SIZES[x.tensor_type][1]
            xb, yb = (v.view(np.uint8).reshape(-1, block) for v in (xd, yd))
            d[1] += int(np.any(xb != yb, axis=1).sum())
            d[2] += xb.shape[0]
    if not only and not other and not differ:
        print(f"same tensors ({same})")
        return
    parts = [f"{same} tensors the same"]
    for t, (n, units, total, steps) in sorted(differ.items()):
        if t in ("F32", "F16"):
            parts.append(f"{n} {t} tensors differ in {units} of {total} values "
                         f"({units / total:.1e}), at most {steps} ulp apart")
        else:
            parts.append(f"{n} {t} tensors differ in {units} of {total} blocks ({units / total:.1e})")
    if other:
        parts.append(f"{len(other)} of another type or shape, e.g. {other[:3]}")
    if only:
        parts.append(f"{len(only)} not in both, e.g. {only[:3]}")
    print("; ".join(parts))


if __name__ == "__main__":
    main()
