"""Helpers for the GGUF interop tests: the committed fixtures, reading GGUF files with the
reference gguf-py package, a small byte-level GGUF builder for crafted (possibly broken) files,
and running models with llama.cpp through llama-cpp-python."""

import math
import os
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import gguf

import stutil as su

REPO = Path(__file__).resolve().parent.parent.parent
HF_DATA = REPO / "tests" / "data" / "hf"
REFERENCE = HF_DATA / "reference"
STORIES = REPO / "tests" / "data" / "stories260K"

GGUF_MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32

VT = gguf.GGUFValueType
QT = gguf.GGMLQuantizationType

# GGUF value type -> the name owl's JSON (graph.proto Value.type) uses.
VALUE_TYPE_NAME = {
    VT.UINT8: "u8", VT.INT8: "i8", VT.UINT16: "u16", VT.INT16: "i16", VT.UINT32: "u32",
    VT.INT32: "i32", VT.UINT64: "u64", VT.INT64: "i64", VT.FLOAT32: "f32", VT.FLOAT64: "f64",
    VT.BOOL: "bool", VT.STRING: "string", VT.ARRAY: "array",
}
SCALAR_FORMAT = {
    VT.UINT8: "<B", VT.INT8: "<b", VT.UINT16: "<H", VT.INT16: "<h", VT.UINT32: "<I",
    VT.INT32: "<i", VT.UINT64: "<Q", VT.INT64: "<q", VT.FLOAT32: "<f", VT.FLOAT64: "<d",
    VT.BOOL: "<?",
}
UNSIGNED = {VT.UINT8, VT.UINT16, VT.UINT32, VT.UINT64}
SIGNED = {VT.INT8, VT.INT16, VT.INT32, VT.INT64}

# The ggml types of the llama.cpp snapshot owl is written against (Feb 2025): owl must carry all
# of them through a GGUF -> GGUF conversion.
# gguf-py sizes Q8_1 blocks at 40 bytes; ggml's block_q8_1 is two halves and 32 int8, 36 bytes,
# and owl follows ggml. A file gguf-py writes with Q8_1 is not one ggml (or owl) reads the same,
# so Q8_1 is left out of the byte-for-byte round trips (tests/converters/types_test.cpp holds
# owl's Q8_1 size to ggml's).
KNOWN_GGML_TYPES = [t for t in QT if t.value <= 35 and t != QT.Q8_1]
# Types ggml added later: owl may carry them or refuse them cleanly.
NEWER_GGML_TYPES = [t for t in QT if t.value > 35]


def block_size(qtype):
    return gguf.GGML_QUANT_SIZES[qtype][0]


def type_size(qtype):
    return gguf.GGML_QUANT_SIZES[qtype][1]


def row_bytes(qtype, ne0):
    assert ne0 % block_size(qtype) == 0, (qtype, ne0)
    return ne0 // block_size(qtype) * type_size(qtype)


# --- reading with gguf-py -------------------------------------------------------------------

@dataclass
class Entry:
    types: tuple   # gguf-py's flattened types, e.g. ("ARRAY", "STRING")
    value: object  # gguf-py's contents() (nested arrays come flattened)
    raw: bytes     # the entry's bytes in the file: key, type and value


@dataclass
class Tensor:
    type: str      # GGMLQuantizationType name
    shape: list    # row-major, outermost first (GGUF's ne order reversed)
    data: bytes
    offset: int    # from the start of the file


def reader(path):
    return gguf.GGUFReader(str(path))


def metadata(path, r=None):
    """{key: Entry} in file order, without gguf-py's GGUF.* header pseudo-fields."""
    r = r or reader(path)
    out = {}
    for key, f in r.fields.items():
        if key.startswith("GGUF."):
            continue
        raw = b"".join(bytes(p) for p in f.parts)
        out[key] = Entry(tuple(t.name for t in f.types), f.contents(), raw)
    return out


def tensors(path, r=None):
    """{name: Tensor} in file order."""
    r = r or reader(path)
    out = {}
    for t in r.tensors:
        assert t.name not in out, f"{path}: tensor {t.name} listed twice"
        out[t.name] = Tensor(t.tensor_type.name, [int(d) for d in reversed(t.shape)],
                             bytes(np.ascontiguousarray(t.data).view(np.uint8)),
                             int(t.data_offset))
    return out


def header(path):
    """(version, tensor count, kv count) from the first 24 bytes."""
    with open(path, "rb") as f:
        blob = f.read(24)
    assert blob[:4] == GGUF_MAGIC, f"{path}: magic {blob[:4]!r}"
    return struct.unpack("<IQQ", blob[4:24])


def check_layout(path, alignment=DEFAULT_ALIGNMENT):
    """Asserts what owl's GGUF writer promises: version 3, the given alignment, tensor data
    aligned and inside the file."""
    r = reader(path)
    version, n_tensors, n_kv = header(path)
    assert version == 3, f"{path}: GGUF version {version}"
    assert r.alignment == alignment, f"{path}: alignment {r.alignment}"
    assert r.data_offset % alignment == 0, f"{path}: data section at {r.data_offset}"
    size = os.path.getsize(path)
    for t in r.tensors:
        assert t.data_offset % alignment == 0, f"{path}: {t.name} at {t.data_offset}"
        assert t.data_offset + t.n_bytes <= size, f"{path}: {t.name} past the end"
    assert n_tensors == len(r.tensors)
    assert n_kv == len([k for k in r.fields if not k.startswith("GGUF.")])


def describe_entry(e):
    v = e.value
    if isinstance(v, list) and len(v) > 8:
        v = f"{v[:8]}... ({len(v)} items)"
    return f"{'/'.join(e.types)} {v!r}"


def describe_difference(got, want):
    """What differs between two entries of the same key: types, or the first differing items
    of an array, or the values."""
    if got.types != want.types:
        return f"{describe_entry(got)}, expected {describe_entry(want)}"
    g, w = got.value, want.value
    if isinstance(w, list) and isinstance(g, list):
        if len(g) != len(w):
            return f"{len(g)} items, expected {len(w)}"
        diff = [i for i in range(len(w)) if g[i] != w[i] and not (g[i] != g[i] and w[i] != w[i])]
        shown = ", ".join(f"[{i}] {g[i]!r} (expected {w[i]!r})" for i in diff[:5])
        return f"{len(diff)} items differ: {shown}" if diff else "bytes differ"
    return f"{describe_entry(got)}, expected {describe_entry(want)}"


# --- a typed view of metadata values, nested arrays included --------------------------------

def typed_tree_from_file(path):
    """[(key, typed value)] parsed from the file's bytes, where a typed value is
    ("u32", 7), ("string", "x") or ("array", elem_type, [typed values])."""
    blob = Path(path).read_bytes()
    _, _, n_kv = struct.unpack_from("<IQQ", blob, 4)
    pos = 24
    out = []

    def read_string(pos):
        (n,) = struct.unpack_from("<Q", blob, pos)
        return blob[pos + 8:pos + 8 + n].decode("utf-8"), pos + 8 + n

    def read_value(vt, pos):
        vt = VT(vt)
        if vt == VT.STRING:
            s, pos = read_string(pos)
            return ("string", s), pos
        if vt == VT.ARRAY:
            et, n = struct.unpack_from("<IQ", blob, pos)
            pos += 12
            items = []
            for _ in range(n):
                item, pos = read_value(et, pos)
                items.append(item)
            return ("array", VALUE_TYPE_NAME[VT(et)], items), pos
        fmt = SCALAR_FORMAT[vt]
        (x,) = struct.unpack_from(fmt, blob, pos)
        return (VALUE_TYPE_NAME[vt], x), pos + struct.calcsize(fmt)

    for _ in range(n_kv):
        key, pos = read_string(pos)
        (vt,) = struct.unpack_from("<I", blob, pos)
        value, pos = read_value(vt, pos + 4)
        out.append((key, value))
    return out


def typed_tree_from_inspect(v):
    """The same typed value from a graph.proto Value in owl's JSON."""
    t = v.get("type")
    if t == "array":
        arr = v.get("array_value", {})
        assert set(v) == {"type", "array_value"}, f"array Value with other fields: {v}"
        elem = arr.get("elem_type", "")
        if elem in ("string", "array"):
            return ("array", elem, [typed_tree_from_inspect(i) for i in arr.get("items", [])])
        return ("array", elem, [(elem, x) for x in su.packed_items(arr)])
    x = su.value_of(v)
    unsigned = t in ("u8", "u16", "u32", "u64")
    signed = t in ("i8", "i16", "i32", "i64")
    if unsigned:
        assert "uint_value" in v, f"{t} should be in uint_value: {v}"
    if signed:
        assert "int_value" in v, f"{t} should be in int_value: {v}"
    if t in ("f32", "f64"):
        assert "float_value" in v, f"{t} should be in float_value: {v}"
    return (t, x)


def typed_difference(got, want, where=""):
    """None when the typed values are equal (floats compared by their bits, so -0.0 differs from
    0.0 and NaN equals NaN), else a short description of the first difference."""
    if got[0] != want[0]:
        return f"{where} type {got[0]}, expected {want[0]}"
    if got[0] == "array":
        if got[1] != want[1]:
            return f"{where} item type {got[1]}, expected {want[1]}"
        if len(got[2]) != len(want[2]):
            return f"{where} {len(got[2])} items, expected {len(want[2])}"
        for i, (g, w) in enumerate(zip(got[2], want[2])):
            d = typed_difference(g, w, f"{where}[{i}]")
            if d:
                return d
        return None
    if got[0] in ("f32", "f64"):
        fmt = "<f" if got[0] == "f32" else "<d"
        same = struct.pack(fmt, got[1]) == struct.pack(fmt, want[1])
    else:
        same = got[1] == want[1] and type(got[1]) is type(want[1])
    return None if same else f"{where} {got[1]!r}, expected {want[1]!r}"


# --- a byte-level GGUF builder --------------------------------------------------------------

def enc_string(s):
    b = s if isinstance(s, bytes) else s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def enc_value(vt, value):
    """Bytes of a value of GGUF type vt (without the type). Arrays: value = (elem_type, items)."""
    vt = VT(vt)
    if vt == VT.STRING:
        return enc_string(value)
    if vt == VT.ARRAY:
        et, items = value
        return struct.pack("<IQ", et, len(items)) + b"".join(enc_value(et, i) for i in items)
    return struct.pack(SCALAR_FORMAT[vt], value)


def enc_kv(key, vt, value):
    return enc_string(key) + struct.pack("<I", int(vt)) + enc_value(vt, value)


@dataclass
class RawTensor:
    name: str
    ne: list       # GGUF order: innermost first
    type_id: int
    data: bytes
    offset: int = None  # relative to the data section; None: the next aligned position
    place: bool = True  # False: only declared (for offsets past any sane file)


@dataclass
class GGUFBuilder:
    """Writes GGUF bytes from parts, each of which a test may replace to break the file."""
    kv: list = field(default_factory=list)        # encoded entries (bytes)
    tensors: list = field(default_factory=list)   # RawTensor
    version: int = 3
    alignment: int = DEFAULT_ALIGNMENT
    magic: bytes = GGUF_MAGIC
    n_tensors: int = None  # None: the real count
    n_kv: int = None

    def add(self, key, vt, value):
        self.kv.append(enc_kv(key, vt, value))
        return self

    def add_tensor(self, name, ne, type_id, data=None, offset=None):
        if data is None:
            qt = QT(type_id)
            n = math.prod(ne[1:]) * row_bytes(qt, ne[0])
            data = bytes(np.random.default_rng(len(self.tensors)).integers(0, 256, n,
                                                                           dtype=np.uint8))
        self.tensors.append(RawTensor(name, list(ne), int(type_id), data, offset))
        return self

    def layout(self):
        """[(tensor, offset)] with default offsets filled in; and the data section size."""
        pos = 0
        out = []
        end = 0
        for t in self.tensors:
            off = pos if t.offset is None else t.offset
            out.append((t, off))
            if not t.place:
                continue
            end = max(end, off + len(t.data))
            pos = off + len(t.data)
            pos += -pos % self.alignment
        return out, end

    def info_bytes(self):
        b = b""
        for t, off in self.layout()[0]:
            b += enc_string(t.name) + struct.pack("<I", len(t.ne))
            b += b"".join(struct.pack("<Q", d & (2**64 - 1)) for d in t.ne)
            b += struct.pack("<IQ", t.type_id & 0xFFFFFFFF, off)
        return b

    def build(self):
        n_t = len(self.tensors) if self.n_tensors is None else self.n_tensors
        n_kv = len(self.kv) if self.n_kv is None else self.n_kv
        head = self.magic + struct.pack("<IQQ", self.version, n_t, n_kv)
        head += b"".join(self.kv) + self.info_bytes()
        if not self.tensors:
            return head
        head += bytes(-len(head) % self.alignment)
        layout, end = self.layout()
        data = bytearray(end + (-end % self.alignment))
        for t, off in layout:
            if t.place:
                data[off:off + len(t.data)] = t.data
        return head + bytes(data)

    def write(self, path):
        Path(path).write_bytes(self.build())
        return Path(path)


# --- running models with llama.cpp ----------------------------------------------------------

def load_llama(path, **kw):
    from llama_cpp import Llama

    opts = dict(n_ctx=128, n_batch=128, n_threads=2, n_threads_batch=2, logits_all=True,
                verbose=False, seed=1)
    opts.update(kw)
    return Llama(model_path=str(path), **opts)


def logits(llm, tokens):
    """The logits after each prompt token, as llama.cpp computes them."""
    llm.reset()
    llm.eval(tokens)
    return np.array(llm.scores[:len(tokens)], dtype=np.float32)


def check_same_logits(got, want, what):
    assert got.shape == want.shape, (what, got.shape, want.shape)
    diff = float(np.max(np.abs(got - want)))
    # The same bytes run by the same code give the same numbers; leave room only for float
    # noise from a different summation order.
    assert diff <= 1e-4 * max(1.0, float(np.max(np.abs(want)))), \
        f"{what}: logits differ by up to {diff}"


# --- owl ------------------------------------------------------------------------------------

def convert(owl, src, out, *flags):
    """Runs `owl convert SRC -o OUT FLAGS --quiet`, asserts success, returns OUT."""
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    r = owl("convert", src, "-o", out, *flags, "--quiet", "--no-provenance")
    assert r.returncode == 0, r.describe()
    return Path(out)


def hf_copy(name, dest_parent):
    """A copy of tests/data/hf/NAME under dest_parent (same folder name, so that names derived
    from the path match the reference's)."""
    dest = Path(dest_parent) / name
    shutil.copytree(HF_DATA / name, dest)
    return dest


# --- sample files ---------------------------------------------------------------------------

def _rng(seed):
    return np.random.default_rng(seed)


# Metadata with every value type, extreme values and string arrays, as
# (key, value, type, array item type) for gguf-py's GGUFWriter.add_key_value.
SAMPLE_METADATA = [
    ("test.u8", 255, VT.UINT8, None),
    ("test.i8", -128, VT.INT8, None),
    ("test.u16", 65535, VT.UINT16, None),
    ("test.i16", -32768, VT.INT16, None),
    ("test.u32", 2**32 - 1, VT.UINT32, None),
    ("test.i32", -2**31, VT.INT32, None),
    ("test.u64", 2**64 - 1, VT.UINT64, None),
    ("test.i64", -2**63, VT.INT64, None),
    ("test.f32", 3.14159, VT.FLOAT32, None),
    ("test.f32_negative_zero", -0.0, VT.FLOAT32, None),
    ("test.f32_inf", float("inf"), VT.FLOAT32, None),
    ("test.f32_nan", float("nan"), VT.FLOAT32, None),
    ("test.f64", 1e-300, VT.FLOAT64, None),
    ("test.f64_big", -1.7976931348623157e308, VT.FLOAT64, None),
    ("test.bool_true", True, VT.BOOL, None),
    ("test.bool_false", False, VT.BOOL, None),
    ("test.string", "héllo wörld 🦉\nsecond line\ttab \"quoted\" \\", VT.STRING, None),
    ("test.string_nul", "a\0b", VT.STRING, None),
    ("test.array_u8", [0, 1, 255], VT.ARRAY, VT.UINT8),
    ("test.array_i8", [-128, 0, 127], VT.ARRAY, VT.INT8),
    ("test.array_u16", [0, 65535], VT.ARRAY, VT.UINT16),
    ("test.array_i16", [-32768, 32767], VT.ARRAY, VT.INT16),
    ("test.array_u32", [0, 2**32 - 1], VT.ARRAY, VT.UINT32),
    ("test.array_i32", [-2**31, 2**31 - 1], VT.ARRAY, VT.INT32),
    ("test.array_u64", [0, 2**64 - 1], VT.ARRAY, VT.UINT64),
    ("test.array_i64", [-2**63, 2**63 - 1], VT.ARRAY, VT.INT64),
    ("test.array_f32", [1.5, -0.0, float("inf"), float("nan")], VT.ARRAY, VT.FLOAT32),
    ("test.array_f64", [2.5e-310, 1e300], VT.ARRAY, VT.FLOAT64),
    ("test.array_bool", [True, False, True], VT.ARRAY, VT.BOOL),
    ("test.array_string", ["", "a", "ünïcödé", "🦉", "two words"], VT.ARRAY, VT.STRING),
    ("test.array_long", [f"tok{i}" for i in range(1000)], VT.ARRAY, VT.STRING),
]
# Arrays of arrays: GGUF and gguf-py allow them; ggml's own loader refuses them.
NESTED_METADATA = [
    ("test.nested_i32", [[1, 2], [3, 4, 5]], VT.ARRAY, VT.ARRAY),
    ("test.nested_string", [["a"], ["b", "c"]], VT.ARRAY, VT.ARRAY),
    ("test.nested_depth3", [[[1]], [[2, 3], [4]]], VT.ARRAY, VT.ARRAY),
    ("test.nested_f32", [[1.5], [2.5, 3.5]], VT.ARRAY, VT.ARRAY),
]


def _float_tensors():
    r = _rng(1)
    return [
        ("f32_1d_odd", r.standard_normal(7).astype(np.float32)),
        ("f32_2d", r.standard_normal((3, 5)).astype(np.float32)),
        ("f32_3d", r.standard_normal((2, 3, 4)).astype(np.float32)),
        ("f16_4d", r.standard_normal((2, 1, 3, 32)).astype(np.float16)),
        ("f64", r.standard_normal((2, 3)).astype(np.float64)),
        ("i8", r.integers(-128, 128, (4, 9), dtype=np.int8)),
        ("i16", r.integers(-2**15, 2**15, (3, 3), dtype=np.int16)),
        ("i32", r.integers(-2**31, 2**31, (5,), dtype=np.int32)),
        ("i64", r.integers(-2**63, 2**63 - 1, (2, 2), dtype=np.int64)),
    ]


# Types gguf-py can quantize itself.
GGUF_PY_QUANTIZED = [QT.Q4_0, QT.Q4_1, QT.Q5_0, QT.Q5_1, QT.Q8_0, QT.TQ1_0, QT.TQ2_0]


def write_gguf_py_sample(path, meta=SAMPLE_METADATA):
    """A file written by gguf-py's GGUFWriter: the given metadata and tensors of the float and
    integer types, BF16, the types gguf-py quantizes, and K-quant blocks of random bytes."""
    w = gguf.GGUFWriter(str(path), arch="llama")
    for key, value, vt, sub in meta:
        w.add_key_value(key, value, vt, sub)
    for name, arr in _float_tensors():
        w.add_tensor(name, arr)
    bf16 = _rng(2).integers(0, 2**16, (4, 16), dtype=np.uint16)
    w.add_tensor("bf16", bf16, raw_dtype=QT.BF16)
    for qt in GGUF_PY_QUANTIZED:
        cols = max(64, block_size(qt))
        data = gguf.quants.quantize(_rng(qt.value).standard_normal((3, cols)).astype(np.float32),
                                    qt)
        w.add_tensor(f"quant_{qt.name.lower()}", data, raw_dtype=qt)
    for qt in (QT.Q4_K, QT.Q6_K):
        blob = _rng(qt.value).integers(0, 256, (2, row_bytes(qt, 512)), dtype=np.uint8)
        w.add_tensor(f"random_{qt.name.lower()}", blob, raw_dtype=qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return Path(path)


def write_edge_sample(path):
    """Values gguf-py's writer refuses to write but GGUF allows: empty strings and arrays; and a
    tensor name of 63 bytes (ggml's longest)."""
    b = GGUFBuilder()
    b.add("general.architecture", VT.STRING, "llama")
    b.add("edge.empty_string", VT.STRING, "")
    b.add("edge.empty_array_u8", VT.ARRAY, (VT.UINT8, []))
    b.add("edge.empty_array_string", VT.ARRAY, (VT.STRING, []))
    b.add_tensor("n" * 63, [32, 2], QT.F32)
    b.add_tensor("after_long_name", [5], QT.F16)
    return b.write(path)


def write_one_type(path, qtype, rows=3):
    """A file with one tensor of qtype holding random bytes (ggml does not look at them)."""
    cols = 2 * block_size(qtype)
    b = GGUFBuilder()
    b.add("general.architecture", VT.STRING, "llama")
    b.add_tensor(f"t_{qtype.name.lower()}", [cols, rows], qtype)
    b.add_tensor("tail", [3], QT.F32)
    return b.write(path)


def write_wide_llama(path):
    """A 1-layer llama with 256-wide rows (the K-quants' block), made from the tiny-llama
    reference's metadata and random F16 weights, for llama.cpp's quantizer."""
    h, ffn, heads, kv, vocab = 256, 256, 4, 2, 512
    hd = h // heads
    override = {
        "llama.block_count": (VT.UINT32, 1), "llama.embedding_length": (VT.UINT32, h),
        "llama.feed_forward_length": (VT.UINT32, ffn),
        "llama.attention.head_count": (VT.UINT32, heads),
        "llama.attention.head_count_kv": (VT.UINT32, kv),
        "llama.attention.key_length": (VT.UINT32, hd),
        "llama.attention.value_length": (VT.UINT32, hd),
        "llama.rope.dimension_count": (VT.UINT32, hd),
        "general.name": (VT.STRING, "Wide Llama"),
    }
    b = GGUFBuilder()
    for key, e in metadata(REFERENCE / "tiny-llama.f16.gguf").items():
        if key == "general.size_label":
            continue
        if key in override:
            b.add(key, *override[key])
        else:
            b.kv.append(e.raw)
    r = _rng(5)

    def f16(*shape):
        return (0.05 * r.standard_normal(shape)).astype(np.float16).tobytes()

    def f32_norm(n):
        return (1 + 0.1 * r.standard_normal(n)).astype(np.float32).tobytes()

    # ne order: innermost (row length) first.
    b.add_tensor("token_embd.weight", [h, vocab], QT.F16, f16(vocab, h))
    b.add_tensor("blk.0.attn_norm.weight", [h], QT.F32, f32_norm(h))
    b.add_tensor("blk.0.attn_q.weight", [h, h], QT.F16, f16(h, h))
    b.add_tensor("blk.0.attn_k.weight", [h, kv * hd], QT.F16, f16(kv * hd, h))
    b.add_tensor("blk.0.attn_v.weight", [h, kv * hd], QT.F16, f16(kv * hd, h))
    b.add_tensor("blk.0.attn_output.weight", [h, h], QT.F16, f16(h, h))
    b.add_tensor("blk.0.ffn_norm.weight", [h], QT.F32, f32_norm(h))
    b.add_tensor("blk.0.ffn_gate.weight", [h, ffn], QT.F16, f16(ffn, h))
    b.add_tensor("blk.0.ffn_up.weight", [h, ffn], QT.F16, f16(ffn, h))
    b.add_tensor("blk.0.ffn_down.weight", [ffn, h], QT.F16, f16(h, ffn))
    b.add_tensor("output_norm.weight", [h], QT.F32, f32_norm(h))
    b.add_tensor("output.weight", [h, vocab], QT.F16, f16(vocab, h))
    return b.write(path)


def llama_quantize(src, dst, ftype_name):
    """Quantizes with llama.cpp's own llama_model_quantize (ftype_name: "Q4_K_M", ...)."""
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{ftype_name}")
    params.nthread = 2
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), params)
    assert rc == 0, f"llama_model_quantize({src}, {ftype_name}) returned {rc}"
    return Path(dst)


# Hugging Face folders under tests/data/hf and the GGUFs llama.cpp's converter made of them.
REFERENCE_CASES = {
    # id: (folder, reference file, owl flags)
    "llama-f16": ("tiny-llama", "tiny-llama.f16.gguf", ["--dtype", "f16"]),
    "llama-default-dtype": ("tiny-llama", "tiny-llama.f16.gguf", []),
    "llama-q8_0": ("tiny-llama", "tiny-llama.q8_0.gguf", ["--dtype", "q8_0"]),
    "qwen2-f16": ("tiny-qwen2", "tiny-qwen2.f16.gguf", ["--dtype", "f16"]),
    "llama3-f16": ("tiny-llama3", "tiny-llama3.f16.gguf", ["--dtype", "f16"]),
    "qwen3-f16": ("tiny-qwen3", "tiny-qwen3.f16.gguf", ["--dtype", "f16"]),
    "mistral-f16": ("tiny-mistral", "tiny-mistral.f16.gguf", ["--dtype", "f16"]),
    "gemma-f16": ("tiny-gemma", "tiny-gemma.f16.gguf", ["--dtype", "f16"]),
    "gemma2-f16": ("tiny-gemma2", "tiny-gemma2.f16.gguf", ["--dtype", "f16"]),
    "gemma3-f16": ("tiny-gemma3", "tiny-gemma3.f16.gguf", ["--dtype", "f16"]),
    "phi3-f16": ("tiny-phi3", "tiny-phi3.f16.gguf", ["--dtype", "f16"]),
    # tests/data/hf/make_phi3_fixtures.py: LongRoPE's factors as tensors, partial rotary, GQA.
    "phi3-longrope-f16": ("tiny-phi3-longrope", "tiny-phi3-longrope.f16.gguf", ["--dtype", "f16"]),
    # Mixtures of experts (tests/data/hf/make_moe_fixtures.py): the experts stacked per layer.
    "mixtral-f16": ("tiny-mixtral", "tiny-mixtral.f16.gguf", ["--dtype", "f16"]),
    "qwen2moe-f16": ("tiny-qwen2moe", "tiny-qwen2moe.f16.gguf", ["--dtype", "f16"]),
    "qwen3moe-f16": ("tiny-qwen3moe", "tiny-qwen3moe.f16.gguf", ["--dtype", "f16"]),
    "olmoe-f16": ("tiny-olmoe", "tiny-olmoe.f16.gguf", ["--dtype", "f16"]),
    "granitemoe-f16": ("tiny-granitemoe", "tiny-granitemoe.f16.gguf", ["--dtype", "f16"]),
    "granitemoeshared-f16": ("tiny-granitemoeshared", "tiny-granitemoeshared.f16.gguf",
                             ["--dtype", "f16"]),
    # DeepSeek (tests/data/hf/make_deepseek_fixtures.py): MLA's kv_b_proj cut per head, and an
    # FP8 checkpoint's block scales multiplied in.
    "deepseek2-f16": ("tiny-deepseek2", "tiny-deepseek2.f16.gguf", ["--dtype", "f16"]),
    "deepseek3-f16": ("tiny-deepseek3", "tiny-deepseek3.f16.gguf", ["--dtype", "f16"]),
    "deepseek3-fp8-f16": ("tiny-deepseek3-fp8", "tiny-deepseek3-fp8.f16.gguf", ["--dtype", "f16"]),
    # gpt-oss (tests/data/hf/make_gptoss_llama4_fixtures.py): experts MXFP4 as released, repacked
    # without decoding; and as transformers saves them, bf16 [experts, in, out].
    "gptoss-f16": ("tiny-gptoss", "tiny-gptoss.f16.gguf", ["--dtype", "f16"]),
    "gptoss-bf16-f16": ("tiny-gptoss-bf16", "tiny-gptoss-bf16.f16.gguf", ["--dtype", "f16"]),
    # Llama 4's text model: MoE every second layer, shared expert, [experts, in, out] experts.
    "llama4-f16": ("tiny-llama4", "tiny-llama4.f16.gguf", ["--dtype", "f16"]),
    # Llama4ForConditionalGeneration: its text model, the vision tower left out.
    "llama4-multimodal-f16": ("tiny-llama4-multimodal", "tiny-llama4-multimodal.f16.gguf",
                              ["--dtype", "f16"]),
    # EmbeddingGemma (tests/data/hf/make_embeddinggemma_fixture.py): Gemma3TextModel, no LM
    # head, pooling from its sentence-transformers modules.
    "embeddinggemma-f16": ("tiny-embeddinggemma", "tiny-embeddinggemma.f16.gguf",
                           ["--dtype", "f16"]),
}
