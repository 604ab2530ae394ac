#!/usr/bin/env python3
"""Writes the reference vectors that tests/quant/codec_test.cpp holds owl's block codecs to.

The reference is ggml itself: the shared library libggml-base that the `llama-cpp-python` wheel
builds (pip install llama-cpp-python), called through ctypes. For every type owl quantizes, the
bytes come from `ggml_quantize_chunk` with no importance matrix, which is what llama-quantize
runs, and where the type has one the script checks they equal its `quantize_row_<type>_ref`
(see TYPES for the exceptions). ggml's
`dequantize_row_<type>` then turns those bytes, and a set of random blocks, back into floats,
whose xxh3-128 the manifest records.

Output, in the folder given (default: tests/data/quant/ggml beside this script):
  input.f32        the float inputs, little-endian
  <TYPE>.bin       ggml's quantization of input.f32
  <TYPE>.random    random blocks (finite scales) for the dequantizer check
  imatrix.f32      importance weights, one per column of a row (GRID_TYPES)
  <TYPE>.weighted  ggml's quantization of input.f32 with imatrix.f32 (GRID_TYPES)
  manifest.json    types, files, digests and the ggml version used

Run: python3 tests/data/quant/make_ggml_vectors.py [OUT_DIR]
"""

import ctypes
import json
import pathlib
import sys

import numpy as np
import xxhash

import llama_cpp

SUPERBLOCK = 256
ROWS = 4  # the inputs are quantized as 4 rows, as a tensor would be

# How ggml makes each type's reference bytes without an importance matrix:
#   "chunk+ref"  ggml_quantize_chunk (llama-quantize's call), checked equal to quantize_row_*_ref
#   "ref"        quantize_row_*_ref alone (Q8_1, Q8_K: activation types never stored in files)
#   "chunk"      ggml_quantize_chunk alone (IQ4_NL, IQ4_XS: their _ref functions search less)
#   "none"       owl only dequantizes the type: random blocks alone
# name: (ggml type id, block elements, block bytes, how, byte offsets of f16 fields,
#        byte offsets of f32 fields, ggml has a dequantizer)
TYPES = {
    "Q4_0": (2, 32, 18, "chunk+ref", [0], [], True),
    "Q4_1": (3, 32, 20, "chunk+ref", [0, 2], [], True),
    "Q5_0": (6, 32, 22, "chunk+ref", [0], [], True),
    "Q5_1": (7, 32, 24, "chunk+ref", [0, 2], [], True),
    "Q8_0": (8, 32, 34, "chunk+ref", [0], [], True),
    "Q8_1": (9, 32, 36, "ref", [0, 2], [], False),
    "Q2_K": (10, 256, 84, "chunk+ref", [80, 82], [], True),
    "Q3_K": (11, 256, 110, "chunk+ref", [108], [], True),
    "Q4_K": (12, 256, 144, "chunk+ref", [0, 2], [], True),
    "Q5_K": (13, 256, 176, "chunk+ref", [0, 2], [], True),
    "Q6_K": (14, 256, 210, "chunk+ref", [208], [], True),
    "Q8_K": (15, 256, 292, "ref", [], [0], True),
    "IQ4_NL": (20, 32, 18, "chunk", [0], [], True),
    "IQ4_XS": (23, 256, 136, "chunk", [0], [], True),
    "TQ1_0": (34, 256, 54, "chunk+ref", [52], [], True),
    "TQ2_0": (35, 256, 66, "chunk+ref", [64], [], True),
    "MXFP4": (39, 32, 17, "chunk+ref", [], [], True),
    "NVFP4": (40, 64, 36, "chunk+ref", [], [], True),
    "IQ2_XXS": (16, 256, 66, "none", [0], [], True),
    "IQ2_XS": (17, 256, 74, "none", [0], [], True),
    "IQ3_XXS": (18, 256, 98, "none", [0], [], True),
    "IQ1_S": (19, 256, 50, "none", [0], [], True),
    "IQ3_S": (21, 256, 110, "none", [0], [], True),
    "IQ2_S": (22, 256, 82, "none", [0], [], True),
    "IQ1_M": (29, 256, 56, "none", [], [], True),
    "Q1_0": (41, 128, 18, "chunk+ref", [0], [], True),
    "Q2_0": (42, 64, 18, "chunk+ref", [0], [], True),
}

# The grid i-quants, whose quantizers owl has: ggml_quantize_chunk with imatrix.f32, and without
# an importance matrix where ggml has that path (it refuses IQ2_XXS, IQ2_XS and IQ1_S). They are
# "none" above so that the random blocks keep their count and the generator its sequence.
GRID_TYPES = {"IQ2_XXS": False, "IQ2_XS": False, "IQ2_S": True, "IQ3_XXS": True, "IQ3_S": True,
              "IQ1_S": False, "IQ1_M": True}  # name: has an unweighted path


def symbol(name: str) -> str:
    """ggml's spelling of a type in function names: q4_0, q2_K, iq4_xs."""
    return name.lower().replace("_k", "_K")


def ggml_base() -> ctypes.CDLL:
    lib = pathlib.Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"
    return ctypes.CDLL(str(lib))


def make_input(rng: np.random.Generator) -> np.ndarray:
    """Super-blocks of 256 floats, each a pattern that has broken a quantizer somewhere."""
    n = SUPERBLOCK

    def normal(scale):
        return rng.standard_normal(n) * scale

    def per_group_scale(group, spread):
        return np.repeat(np.exp(rng.standard_normal(n // group) * spread), group)

    blocks = [
        normal(1.0),
        normal(0.02) * per_group_scale(32, 1.0),  # weights whose scale drifts per group
        normal(0.02) * per_group_scale(16, 0.7),
        rng.standard_t(3, n) * 0.03,  # heavy tails, as real weight rows have
        np.zeros(n),
        np.full(n, 0.5),
        np.full(n, -3.0),
        -np.abs(normal(1.0)),  # negative only
        np.abs(normal(1.0)) + 0.1,  # positive only, offset from zero
        normal(1e-7),  # tiny, but above ggml's all-zero threshold
        np.concatenate([normal(1e-39)[: n // 2], normal(1e-17)[: n // 2]]),  # denormal, below it
        np.where(np.arange(n) == 77, 1000.0, normal(0.01)),  # one huge outlier
        rng.integers(-8, 9, n).astype(np.float64),  # integers: ties in every rounding
        rng.integers(-16, 17, n) / 2.0,  # halves
        normal(3e5),  # scales beyond f16's range
        np.where(rng.random(n) < 0.8, 0.0, normal(1.0)),  # sparse
    ]
    # Groups of 32 that differ inside one super-block: what a k-quant sees mid-row.
    mixed = []
    for k in range(n // 32):
        g = [
            np.zeros(32),
            np.full(32, 2.5),
            np.where(np.arange(32) == 5, -4.0, 0.0),
            -np.abs(rng.standard_normal(32)),
            np.abs(rng.standard_normal(32)),
            np.tile([1.0, -1.0], 16),
            np.linspace(-1.0, 1.0, 32),
            rng.standard_normal(32) * 5,
        ][k]
        mixed.append(g)
    blocks.append(np.concatenate(mixed))
    blocks.append(rng.uniform(-1.0, 1.0, n))
    blocks.append(rng.uniform(0.5, 1.0, n) * np.where(rng.random(n) < 0.5, -1, 1))
    blocks.append(normal(0.05) + 0.2)  # offset: the min matters
    x = np.concatenate(blocks).astype(np.float32)
    assert x.size % (ROWS * SUPERBLOCK) == 0
    return x


def chunk(lib, name, x, imatrix=None):
    """ggml_quantize_chunk of x as ROWS rows, with one importance weight a column or none."""
    type_id, block_elems, block_bytes, _, _, _, _ = TYPES[name]
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                        ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_init.argtypes = [ctypes.c_int]
    lib.ggml_quantize_init(type_id)
    out = np.zeros(x.size // block_elems * block_bytes, dtype=np.uint8)
    written = lib.ggml_quantize_chunk(type_id, x.ctypes.data, out.ctypes.data, 0, ROWS, x.size // ROWS,
                                      None if imatrix is None else imatrix.ctypes.data)
    assert written == out.size, (name, written, out.size)
    return out


def quantize(lib, name, x):
    type_id, block_elems, block_bytes, how, _, _, _ = TYPES[name]
    n = x.size
    results = []
    if "ref" in how.split("+"):
        out = np.zeros(n // block_elems * block_bytes, dtype=np.uint8)
        ref = getattr(lib, f"quantize_row_{symbol(name)}_ref")
        ref.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
        ref.restype = None
        ref(x.ctypes.data, out.ctypes.data, n)
        results.append(out)
    if "chunk" in how.split("+"):
        lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                            ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
        lib.ggml_quantize_chunk.restype = ctypes.c_size_t
        out = np.zeros(n // block_elems * block_bytes, dtype=np.uint8)
        written = lib.ggml_quantize_chunk(type_id, x.ctypes.data, out.ctypes.data, 0, ROWS, n // ROWS, None)
        assert written == out.size, (name, written, out.size)
        results.append(out)
    assert all(np.array_equal(r, results[0]) for r in results), \
        f"{name}: ggml_quantize_chunk differs from the _ref function"
    return results[0]


def dequantize_digest(lib, name, blocks: np.ndarray) -> str:
    _, block_elems, block_bytes, _, _, _, _ = TYPES[name]
    n = blocks.size // block_bytes * block_elems
    y = np.zeros(n, dtype=np.float32)
    fn = getattr(lib, f"dequantize_row_{symbol(name)}")
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    fn.restype = None
    fn(blocks.ctypes.data, y.ctypes.data, n)
    return xxhash.xxh3_128_hexdigest(y.tobytes())


def random_blocks(rng, name, count) -> np.ndarray:
    """Random bytes with each scale field made finite: any quant pattern, no NaN scales."""
    _, _, block_bytes, _, f16_fields, f32_fields, _ = TYPES[name]
    raw = rng.integers(0, 256, (count, block_bytes), dtype=np.uint8)
    for off in f16_fields:
        h = raw[:, off].astype(np.uint16) | (raw[:, off + 1].astype(np.uint16) << 8)
        exponent = rng.integers(0, 31, count, dtype=np.uint16)  # 31 would be inf or NaN
        h = (h & 0x83FF) | (exponent << 10)
        raw[:, off] = h & 0xFF
        raw[:, off + 1] = h >> 8
    for off in f32_fields:
        f = (rng.standard_normal(count) * 0.01).astype(np.float32)
        raw[:, off:off + 4] = f.view(np.uint8).reshape(count, 4)
    return raw.reshape(-1)


def main():
    out_dir = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).parent / "ggml"
    out_dir.mkdir(parents=True, exist_ok=True)
    lib = ggml_base()
    rng = np.random.default_rng(20240917)
    x = make_input(rng)
    (out_dir / "input.f32").write_bytes(x.astype("<f4").tobytes())
    manifest = {
        "reference": f"libggml-base from llama-cpp-python {llama_cpp.__version__} "
                     "(ggml_quantize_chunk without imatrix, quantize_row_*_ref, dequantize_row_*)",
        "generator": "tests/data/quant/make_ggml_vectors.py",
        "input": "input.f32",
        "elements": int(x.size),
        "rows": ROWS,
        "types": {},
    }
    for name, (_, _, _, how, _, _, dequantizable) in TYPES.items():
        entry = {}
        if how != "none":
            q = quantize(lib, name, x)
            (out_dir / f"{name}.bin").write_bytes(q.tobytes())
            entry["quantized"] = f"{name}.bin"
            if dequantizable:
                entry["dequantized_xxh3_128"] = dequantize_digest(lib, name, q)
        if dequantizable:
            rnd = random_blocks(rng, name, 64 if how == "none" else 16 if TYPES[name][1] >= 256 else 64)
            (out_dir / f"{name}.random").write_bytes(rnd.tobytes())
            entry["random"] = f"{name}.random"
            entry["random_dequantized_xxh3_128"] = dequantize_digest(lib, name, rnd)
        manifest["types"][name] = entry

    # Positive weights with a tenth of them zero, from a generator of their own.
    imatrix = np.random.default_rng(20251203).gamma(1.0, 1.0, x.size // ROWS).astype(np.float32)
    imatrix[np.random.default_rng(20251204).random(imatrix.size) < 0.1] = 0
    (out_dir / "imatrix.f32").write_bytes(imatrix.astype("<f4").tobytes())
    manifest["imatrix"] = "imatrix.f32"
    for name, unweighted in GRID_TYPES.items():
        entry = manifest["types"][name]
        if unweighted:
            q = chunk(lib, name, x)
            (out_dir / f"{name}.bin").write_bytes(q.tobytes())
            entry["quantized"] = f"{name}.bin"
            entry["dequantized_xxh3_128"] = dequantize_digest(lib, name, q)
        q = chunk(lib, name, x, imatrix)
        (out_dir / f"{name}.weighted").write_bytes(q.tobytes())
        entry["weighted"] = f"{name}.weighted"
        entry["weighted_dequantized_xxh3_128"] = dequantize_digest(lib, name, q)
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    total = sum(p.stat().st_size for p in out_dir.iterdir())
    print(f"wrote {len(manifest['types'])} types, {total} bytes, to {out_dir}")


if __name__ == "__main__":
    main()
