"""owl convert --dtype f32|f16|bf16 against numpy / ml_dtypes rounding (round to nearest even,
F64 through F32 first as torch does, NaN stays NaN, overflow to inf)."""

import ml_dtypes
import numpy as np
import pytest

import stutil as su

BF16 = np.dtype(ml_dtypes.bfloat16)
NP = {"F64": np.dtype(np.float64), "F32": np.dtype(np.float32), "F16": np.dtype(np.float16),
      "BF16": BF16}
UINT = {8: np.uint64, 4: np.uint32, 2: np.uint16}


def f32_bits(*bits):
    return np.array(bits, dtype=np.uint32).view(np.float32)


def f64_bits(*bits):
    return np.array(bits, dtype=np.uint64).view(np.float64)


def f32_source():
    plain = [0.0, -0.0, 1.0, -1.0, 0.1, -2.5, 3.14159, 65504.0, 65505.0, 65519.99, 65520.0,
             -65520.0, 65536.0, 1e5, -1e5, 1e-8, 6e-8,
             2.0**-24, 2.0**-25, 3 * 2.0**-25, 2.0**-25 * (1 + 2.0**-20), -2.0**-25,
             2.0**-14, 2.0**-14 - 2.0**-24, 2.0**-14 - 2.0**-25,
             1 + 2.0**-11, 1 + 3 * 2.0**-11, 1 + 2.0**-11 + 2.0**-23, -(1 + 2.0**-11),
             1 + 2.0**-8, 1 + 3 * 2.0**-8, 1 + 2.0**-8 + 2.0**-23,
             2.0**-126, 2.0**-133, 3 * 2.0**-134, 2.0**-149, -2.0**-149,
             np.inf, -np.inf, np.nan, -np.nan, 3.4028234663852886e38, -3.4028234663852886e38]
    bits = [0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7FFFFFFF, 0x7F801000, 0x7FA00000,
            0x00000001, 0x80000001, 0x007FFFFF, 0x00008000, 0x00018000, 0x00008001, 0x00010000,
            0x3F808000, 0x3F818000, 0x3F808001, 0x7F7F8000, 0x7F7F7FFF, 0xFF7F8000, 0x7F7FFFFF,
            0x477FF000, 0x477FEFFF, 0x477FF001, 0x33000000, 0x33000001, 0x387FC000, 0x38800000]
    rng = np.random.default_rng(1234)
    normals = (rng.standard_normal(4000) * 10.0 ** rng.uniform(-12, 12, 4000)).astype(np.float32)
    random_bits = rng.integers(0, 2**32, 4000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    return np.concatenate([np.array(plain, dtype=np.float32), f32_bits(*bits), normals,
                           random_bits])


def f64_source():
    plain = [0.0, -0.0, 1.0, -1.0, 0.1, 1e39, -1e39, 1e300, 1e-50, -1e-50, 1e-320,
             2.0**-150, 3 * 2.0**-150, 2.0**-149, 1e-45,
             3.4028235677973366e38, 3.4028234663852886e38, 3.402823567797336e38,
             # Between a f16 (resp. bf16) halfway point and the next f32: rounding straight
             # to f16 goes up, rounding through f32 first lands on the tie and goes to even.
             1 + 2.0**-11 + 2.0**-40, -(1 + 2.0**-11 + 2.0**-40), 1 + 2.0**-8 + 2.0**-40,
             65519.99999999, 65520.0, 2.0**-25 + 2.0**-60,
             np.inf, -np.inf, np.nan]
    bits = [0x7FF0000000000001, 0xFFF0000000000001, 0x7FF8000000000000, 0x7FF0000020000000,
            0x0000000000000001, 0x000FFFFFFFFFFFFF]
    rng = np.random.default_rng(99)
    normals = rng.standard_normal(3000) * 10.0 ** rng.uniform(-40, 40, 3000)
    random_bits = rng.integers(0, 2**64 - 1, 2000, dtype=np.uint64, endpoint=True).view(np.float64)
    return np.concatenate([np.array(plain), f64_bits(*bits), normals, random_bits])


def all_patterns(dtype):
    return np.arange(2**16, dtype=np.uint32).astype(np.uint16).view(dtype)


def sources():
    return {
        "src.f64": f64_source(),
        "src.f32": f32_source(),
        "src.f16": all_patterns(np.float16),
        "src.bf16": all_patterns(BF16),
        "src.f32_scalar": np.array(1 + 2.0**-11, dtype=np.float32).reshape(()),
        "src.f32_empty": np.zeros((0, 4), dtype=np.float32),
        "src.f16_matrix": np.arange(-12, 12, dtype=np.float32).reshape(2, 3, 4).astype(np.float16),
    }


KEPT = {
    "keep.i64": ("I64", [5], np.array([-2**63, -1, 0, 1, 2**63 - 1], dtype=np.int64).tobytes()),
    "keep.bool": ("BOOL", [2, 3], bytes([1, 0, 0, 1, 1, 0])),
    "keep.u8": ("U8", [300], bytes(i % 256 for i in range(300))),
    "keep.i32": ("I32", [3], np.array([7, -7, 2**31 - 1], dtype=np.int32).tobytes()),
    "keep.f8_e4m3": ("F8_E4M3", [16], bytes(range(0, 256, 16))),
    "keep.c64": ("C64", [2], np.array([1 + 2j, -0.5j], dtype=np.complex64).tobytes()),
}

HEADER_NAME = {np.dtype(np.float64): "F64", np.dtype(np.float32): "F32",
               np.dtype(np.float16): "F16", BF16: "BF16"}


def expected(arr, target):
    """What torch gives for arr.to(target): F64 goes to F32 first."""
    with np.errstate(over="ignore", invalid="ignore"):
        if arr.dtype == np.float64 and target != "F32":
            arr = arr.astype(np.float32)
        return arr.astype(NP[target])


def compare(name, src, want, got_bytes):
    got = np.frombuffer(got_bytes, dtype=want.dtype).reshape(want.shape)
    want_nan = np.isnan(want.astype(np.float32) if want.dtype == BF16 else want)
    got_nan = np.isnan(got.astype(np.float32) if got.dtype == BF16 else got)
    u = UINT[want.dtype.itemsize]
    bad = (want_nan != got_nan) | (~want_nan & (want.view(u) != got.view(u)))
    if bad.any():
        idx = np.flatnonzero(bad.reshape(-1))
        ub = UINT[src.dtype.itemsize]
        lines = [f"{name}: {len(idx)} of {bad.size} values differ; first ones:"]
        for i in idx[:8]:
            s = src.reshape(-1)[i]
            lines.append(f"  [{i}] in {float(s)!r} (0x{int(src.reshape(-1).view(ub)[i]):x}) -> "
                         f"want 0x{int(want.reshape(-1).view(u)[i]):x} ({float(want.reshape(-1)[i])!r}), "
                         f"got 0x{int(got.reshape(-1).view(u)[i]):x} ({float(got.reshape(-1)[i])!r})")
        raise AssertionError("\n".join(lines))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_reference_rounding_self_check():
    """The numpy / ml_dtypes conversions the tests rely on round to nearest even, and the
    double-rounding cases really differ from rounding F64 straight to F16 / BF16 (no owl)."""
    x = f32_source()
    u = x.view(np.uint32).astype(np.uint64)
    finite = ~np.isnan(x)
    rne = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    assert np.array_equal(x.astype(BF16).view(np.uint16)[finite], rne[finite])
    assert np.isnan(x.astype(BF16)[~finite].astype(np.float32)).all()
    assert np.isnan(f32_bits(0x7F800001).astype(np.float16)).all()
    v = np.array([1 + 2.0**-11 + 2.0**-40])
    assert v.astype(np.float16).view(np.uint16)[0] == 0x3C01  # straight
    assert expected(v, "F16").view(np.uint16)[0] == 0x3C00    # through F32
    w = np.array([1 + 2.0**-8 + 2.0**-40])
    assert expected(w, "BF16").view(np.uint16)[0] == 0x3F80
    assert w[0] > 1 + 2.0**-8  # above the midpoint of 0x3F80 and 0x3F81: straight RNE goes up


@pytest.fixture(scope="module")
def converted(tmp_path_factory, owl):
    """The source file, converted to each target once."""
    d = tmp_path_factory.mktemp("dtype")
    srcs = sources()
    tensors = {name: (HEADER_NAME[a.dtype], list(a.shape), a.tobytes()) for name, a in srcs.items()}
    tensors.update(KEPT)
    src = d / "src.safetensors"
    su.write_reference(src, tensors, {"format": "pt"})
    out = {}
    for target in ("f32", "f16", "bf16"):
        dst = d / f"to_{target}.safetensors"
        r = owl("convert", src, "-o", dst, "--dtype", target, "--quiet")
        out[target] = (r, dst)
    return srcs, src, out


@pytest.mark.parametrize("target", ["f32", "f16", "bf16"])
@pytest.mark.parametrize("name", list(sources()))
def test_float_conversion(converted, target, name):
    srcs, _, out = converted
    r, dst = out[target]
    assert r.returncode == 0, r.describe()
    got = su.read_reference(dst)
    arr = srcs[name]
    want = expected(arr, target.upper())
    dtype, shape, data = got[name]
    assert dtype == target.upper()
    assert shape == list(arr.shape)
    compare(name, arr, want, data)


@pytest.mark.parametrize("target", ["f32", "f16", "bf16"])
def test_non_float_tensors_untouched(converted, target):
    _, src, out = converted
    r, dst = out[target]
    assert r.returncode == 0, r.describe()
    got = su.read_reference(dst)
    for name, t in KEPT.items():
        assert got[name] == t, name
    assert set(got) == set(su.read_reference(src))


@pytest.mark.parametrize("target", ["f32", "f16", "bf16"])
def test_converted_file_layout(converted, target):
    _, src, out = converted
    r, dst = out[target]
    assert r.returncode == 0, r.describe()
    su.check_reference_layout(dst)
    assert su.file_order(dst) == su.file_order(src)
