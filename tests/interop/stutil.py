"""Helpers for the interop tests: writing files with the reference safetensors package, crafting
raw (possibly broken) files, reading files back, and reading `owl inspect --json` output."""

import json
import math
import os
import struct
from pathlib import Path

import numpy as np
import xxhash
from safetensors import _safetensors_rust as st

# Header dtype name -> the dtype name the reference package's TensorSpec takes.
SPEC_DTYPE = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
    "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2", "F8_E8M0": "float8_e8m0fnu",
    "F8_E4M3FNUZ": "float8_e4m3fnuz", "F8_E5M2FNUZ": "float8_e5m2fnuz",
    "F4": "float4_e2m1fn_x2", "C64": "complex64",
    "I8": "int8", "I16": "int16", "I32": "int32", "I64": "int64",
    "U8": "uint8", "U16": "uint16", "U32": "uint32", "U64": "uint64", "BOOL": "bool",
}

# Dtypes the reference reader accepts but its writer (TensorSpec) does not: written by hand here.
HAND_WRITTEN_DTYPES = ["F6_E2M3", "F6_E3M2"]

# Bits per element of each header dtype.
DTYPE_BITS = {
    "F64": 64, "F32": 32, "F16": 16, "BF16": 16, "F8_E4M3": 8, "F8_E5M2": 8, "F8_E8M0": 8,
    "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "F6_E2M3": 6, "F6_E3M2": 6, "F4": 4, "C64": 64,
    "I8": 8, "I16": 16, "I32": 32, "I64": 64, "U8": 8, "U16": 16, "U32": 32, "U64": 64,
    "BOOL": 8,
}

# The dtypes owl's contract lists.
CONTRACT_DTYPES = ["F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3",
                   "F6_E3M2", "F4", "C64", "I8", "I16", "I32", "I64", "U8", "U16", "U32", "U64",
                   "BOOL"]


def reference_writable_dtypes():
    """The header dtypes the installed reference package's writer accepts, found by asking it."""
    buf = np.zeros(16, dtype=np.uint8)
    ok = []
    for header_name, spec_name in SPEC_DTYPE.items():
        try:
            spec = st.TensorSpec(dtype=spec_name, shape=[2], data_ptr=buf.ctypes.data, data_len=2)
        except Exception:
            continue
        assert spec.dtype == header_name, (spec_name, spec.dtype)
        ok.append(header_name)
    return ok


def numel(shape):
    return math.prod(shape) if shape else 1


def nbytes(dtype, shape):
    bits = numel(shape) * DTYPE_BITS[dtype]
    assert bits % 8 == 0, (dtype, shape)
    return bits // 8


def sample_bytes(dtype, shape, seed):
    """Deterministic bytes for a tensor; BOOL gets 0/1 only."""
    rng = np.random.default_rng(seed)
    n = nbytes(dtype, shape)
    if dtype == "BOOL":
        return rng.integers(0, 2, size=n, dtype=np.uint8).tobytes()
    return rng.integers(0, 256, size=n, dtype=np.uint8).tobytes()


def write_reference(path, tensors, metadata=None):
    """Writes `tensors` ({name: (header_dtype, shape, bytes)}) with the reference writer."""
    keep = []
    specs = {}
    for name, (dtype, shape, data) in tensors.items():
        arr = np.frombuffer(bytearray(data) if data else bytearray(1), dtype=np.uint8)
        keep.append(arr)
        spec_shape = list(shape)
        if dtype == "F4":  # the writer takes the packed storage shape and doubles the last dim
            spec_shape[-1] //= 2
        specs[name] = st.TensorSpec(dtype=SPEC_DTYPE[dtype], shape=spec_shape,
                                    data_ptr=arr.ctypes.data, data_len=len(data))
    st.serialize_file(specs, str(path), metadata)
    del keep


def header_bytes(header, pad=True):
    """Compact JSON like the reference writer, padded with spaces to a multiple of 8."""
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return text


def raw_file(path, header, data=b"", pad=True):
    """Writes a safetensors file from a header (dict, or raw bytes used as is) and data bytes."""
    h = header if isinstance(header, bytes) else header_bytes(header, pad)
    Path(path).write_bytes(struct.pack("<Q", len(h)) + h + data)


def write_manual(path, tensors, metadata=None):
    """Writes tensors in the given order with the reference layout, without the reference writer
    (for dtypes its writer refuses)."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    data = b""
    for name, (dtype, shape, blob) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    raw_file(path, header, data)


def read_reference(path):
    """{name: (dtype, shape, bytes)} as the reference package reads the file."""
    out = {}
    for name, t in st.deserialize(Path(path).read_bytes()):
        out[name] = (t["dtype"], list(t["shape"]), bytes(t["data"]))
    return out


def read_metadata(path):
    """The __metadata__ map as the reference package reads it."""
    with st.safe_open(str(path), framework="numpy") as f:
        return f.metadata() or {}


class Pairs(list):
    """A JSON object as its (key, value) pairs, in file order."""


def read_header(path):
    """(header length, raw header bytes, header parsed with key order kept)."""
    blob = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    raw = blob[8:8 + n]
    return n, raw, json.loads(raw, object_pairs_hook=Pairs)


def file_order(path):
    """Tensor names of a file sorted by data offset."""
    _, _, pairs = read_header(path)
    entries = [(dict(v)["data_offsets"][0], k) for k, v in pairs if k != "__metadata__"]
    return [k for _, k in sorted(entries)]


def check_reference_layout(path):
    """Asserts the header is laid out as the reference writer lays it out: compact JSON,
    "__metadata__" first, tensors in offset order, each {"dtype","shape","data_offsets"},
    contiguous data from 0, padded with spaces to a multiple of 8 bytes."""
    n, raw, pairs = read_header(path)
    assert n % 8 == 0, f"{path}: header length {n} is not a multiple of 8"
    body = raw.rstrip(b" ")
    assert raw[len(body):] == b" " * (n - len(body)), f"{path}: header not padded with spaces"
    assert n - len(body) < 8, f"{path}: {n - len(body)} bytes of padding (expected < 8)"
    keys = [k for k, _ in pairs]
    if "__metadata__" in keys:
        assert keys[0] == "__metadata__", f"{path}: __metadata__ is not the first key: {keys}"
    offsets = []
    for k, v in pairs:
        if k == "__metadata__":
            continue
        fields = [f for f, _ in v]
        assert fields == ["dtype", "shape", "data_offsets"], f"{path}: {k}: field order {fields}"
        offsets.append(dict(v)["data_offsets"])
    assert offsets == sorted(offsets), f"{path}: tensors not in offset order"
    pos = 0
    for start, end in offsets:
        assert start == pos, f"{path}: data not contiguous at {start} (expected {pos})"
        pos = end
    assert os.path.getsize(path) == 8 + n + pos, f"{path}: file size does not match the header"
    rebuilt = json.dumps(_pairs_to_ordered(pairs), separators=(",", ":"),
                         ensure_ascii=False).encode()
    assert body == rebuilt, f"{path}: header is not compact JSON:\n{body!r}\nvs\n{rebuilt!r}"


def _pairs_to_ordered(x):
    if isinstance(x, Pairs):
        return {k: _pairs_to_ordered(v) for k, v in x}
    if isinstance(x, list):
        return [_pairs_to_ordered(v) for v in x]
    return x


def xxh3(data):
    return xxhash.xxh3_128_hexdigest(bytes(data))


def dir_snapshot(d):
    """{relative path: (size, xxh3 of the content)} of every file under d."""
    snap = {}
    for root, dirs, files in os.walk(d):
        for f in files + [x for x in dirs if os.path.islink(os.path.join(root, x))]:
            p = os.path.join(root, f)
            h = xxhash.xxh3_128()
            with open(p, "rb") as fh:
                while chunk := fh.read(1 << 24):
                    h.update(chunk)
            snap[os.path.relpath(p, d)] = (os.path.getsize(p), h.hexdigest())
    return snap


# --- owl inspect --json -------------------------------------------------------------------

def u64(msg, field):
    """A 64-bit field of protobuf's JSON mapping: a decimal string, omitted when zero."""
    if field not in msg:
        return 0
    v = msg[field]
    assert isinstance(v, str), f"{field} should be a JSON string (protobuf JSON mapping): {v!r}"
    return int(v)


def tensor_shape(t):
    shape = t.get("shape", [])
    assert all(isinstance(d, str) for d in shape), f"shape dims should be JSON strings: {shape}"
    return [int(d) for d in shape]


def metadata_map(desc):
    out = {}
    for e in desc.get("metadata", []):
        assert e["key"] not in out, f"metadata key listed twice: {e['key']}"
        out[e["key"]] = e.get("value", {})
    return out


def value_of(v):
    """The Python value of a pb Value in JSON form (strict about which oneof field is used)."""
    oneof = [k for k in ("int_value", "uint_value", "float_value", "bool_value", "string_value",
                         "array_value") if k in v]
    assert len(oneof) == 1, f"Value should have exactly one value field set: {v}"
    field = oneof[0]
    x = v[field]
    if field in ("int_value", "uint_value"):
        assert isinstance(x, str), f"64-bit {field} should be a JSON string: {v}"
        return int(x)
    if field == "float_value":
        if isinstance(x, str):
            return float(x.replace("Infinity", "inf"))
        return float(x)
    if field == "array_value":
        if x.get("elem_type") in ("string", "array"):
            return [value_of(i) for i in x.get("items", [])]
        return packed_items(x)
    return x


# Where graph.proto packs each number and bool array, by element type.
PACKED_FIELD = {"u8": "ints", "i8": "ints", "u16": "ints", "i16": "ints", "u32": "ints",
                "i32": "ints", "i64": "ints", "u64": "uints", "f32": "floats", "f64": "floats",
                "bool": "bools"}


def packed_items(arr):
    """The Python values of a number or bool ArrayValue (strict about which field holds them)."""
    elem = arr.get("elem_type")
    field = PACKED_FIELD[elem]
    others = [k for k in ("items", "ints", "uints", "floats", "bools") if k != field and k in arr]
    assert not others, f"{elem} array with fields {others}: {arr}"
    xs = arr.get(field, [])
    if field in ("ints", "uints"):
        assert all(isinstance(x, str) for x in xs), f"64-bit {field} should be JSON strings: {arr}"
        return [int(x) for x in xs]
    if field == "floats":
        return [float(x.replace("Infinity", "inf")) if isinstance(x, str) else float(x) for x in xs]
    return list(xs)


def inspect(owl, path, *flags):
    r = owl("inspect", path, "--json", *flags)
    assert r.returncode == 0, r.describe()
    try:
        # Integers in the description are strings (protobuf's JSON mapping), so every bare
        # number is a float value; reading them as floats keeps the sign of a -0 float.
        return json.loads(r.stdout, parse_int=float)
    except json.JSONDecodeError as e:
        raise AssertionError(f"owl inspect --json printed invalid JSON ({e}):\n{r.stdout[:3000]}")
