"""owl inspect and owl convert --dtype keep against files written and read by the reference
safetensors package, for every dtype it knows."""

import os

import pytest

import stutil as su

WRITABLE = su.reference_writable_dtypes()
ALL_DTYPES = WRITABLE + su.HAND_WRITTEN_DTYPES
# The reference also writes dtypes owl's contract does not list (F8_E4M3FNUZ, F8_E5M2FNUZ): they
# get their own per-dtype tests, while the multi-dtype files use the contract's dtypes only, so
# that one gap does not hide everything else.
CONTRACT_WRITABLE = [d for d in WRITABLE if d in su.CONTRACT_DTYPES]
CONTRACT_ALL = [d for d in ALL_DTYPES if d in su.CONTRACT_DTYPES]

META = {"format": "pt", "producer": "interop-test", "note": "h\u00e9llo \u2713 \"q\" \\ \n\t"}


def shapes_for(dtype):
    """Assorted shapes, incl. a scalar and an empty tensor, valid for the dtype's packing."""
    if dtype == "F4":
        return [[0, 4], [6], [3, 6], [2, 2, 4]]
    if dtype in ("F6_E2M3", "F6_E3M2"):
        return [[0, 4], [4], [3, 4], [2, 2, 8]]
    return [[], [0, 4], [7], [3, 5], [2, 3, 4], [1, 1, 1, 2]]


def dtype_tensors(dtype, seed=0):
    return {f"{dtype.lower()}.t{i}": (dtype, shape, su.sample_bytes(dtype, shape, seed * 100 + i))
            for i, shape in enumerate(shapes_for(dtype))}


def write_any(path, tensors, metadata=None):
    if any(d in su.HAND_WRITTEN_DTYPES for d, _, _ in tensors.values()):
        su.write_manual(path, tensors, metadata)
    else:
        su.write_reference(path, tensors, metadata)
    # The file must be one the reference package reads back as written.
    assert su.read_reference(path) == {k: (d, list(s), b) for k, (d, s, b) in tensors.items()}


def check_description(desc, path, expected_meta):
    """Compares owl's description of one .safetensors file with the reference's reading of it."""
    ref = su.read_reference(path)
    order = su.file_order(path)
    assert desc.get("format") == "safetensors"
    got_names = [t["name"] for t in desc.get("tensors", [])]
    assert got_names == order, "tensors must be listed in file (offset) order"
    for t in desc["tensors"]:
        dtype, shape, data = ref[t["name"]]
        assert t.get("type") == dtype, t
        assert su.tensor_shape(t) == shape, t
        assert su.u64(t, "byte_size") == len(data), t
        assert t.get("xxh3_128") == su.xxh3(data), t
    assert su.u64(desc, "parameter_count") == sum(su.numel(s) for _, s, _ in ref.values())
    assert su.u64(desc, "size_on_disk") == os.path.getsize(path)
    files = desc.get("files", [])
    assert [os.path.basename(f["path"]) for f in files] == [os.path.basename(path)]
    assert su.u64(files[0], "size") == os.path.getsize(path)
    # Type totals: one per type, in order of first appearance.
    totals = {}
    for name in order:
        dtype, shape, data = ref[name]
        tt = totals.setdefault(dtype, [0, 0, 0])
        tt[0] += 1
        tt[1] += su.numel(shape)
        tt[2] += len(data)
    got_totals = [(x["type"], su.u64(x, "tensors"), su.u64(x, "elements"), su.u64(x, "bytes"))
                  for x in desc.get("type_totals", [])]
    assert got_totals == [(k, *v) for k, v in totals.items()]
    meta = su.metadata_map(desc)
    st_meta = {k[len("safetensors.metadata."):]: v for k, v in meta.items()
               if k.startswith("safetensors.metadata.")}
    assert set(st_meta) == set(expected_meta)
    for k, v in st_meta.items():
        assert v.get("type") == "string", (k, v)
        assert su.value_of(v) == expected_meta[k], k


def test_reference_dtype_list():
    # Documents what the installed reference writer accepts; the per-dtype tests below cover
    # all of these, plus the F6 types its reader accepts.
    assert set(su.CONTRACT_DTYPES) - set(su.HAND_WRITTEN_DTYPES) <= set(WRITABLE), WRITABLE


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_inspect_each_dtype(owl, in_dir, dtype):
    path = in_dir / f"{dtype}.safetensors"
    write_any(path, dtype_tensors(dtype), {"format": "pt"})
    desc = su.inspect(owl, path, "--hash")
    check_description(desc, path, {"format": "pt"})


def test_inspect_all_contract_dtypes_in_one_file(owl, in_dir):
    tensors = {}
    for i, dtype in enumerate(CONTRACT_WRITABLE):
        tensors.update(dtype_tensors(dtype, seed=i))
    path = in_dir / "all.safetensors"
    write_any(path, tensors, META)
    desc = su.inspect(owl, path, "--hash")
    check_description(desc, path, META)


def test_inspect_json_encoding(owl, in_dir):
    """protobuf JSON mapping: 64-bit integers as strings, zero/empty fields omitted,
    xxh3_128 only with --hash."""
    path = in_dir / "enc.safetensors"
    su.write_reference(path, {
        "scalar": ("F32", [], b"\x00\x00\x80\x3f"),
        "empty": ("F16", [0, 4], b""),
        "mat": ("I32", [2, 3], bytes(range(24))),
    })
    desc = su.inspect(owl, path)
    by_name = {t["name"]: t for t in desc["tensors"]}
    assert "shape" not in by_name["scalar"], by_name["scalar"]
    assert by_name["scalar"]["byte_size"] == "4"
    assert by_name["empty"]["shape"] == ["0", "4"]
    assert "byte_size" not in by_name["empty"], by_name["empty"]
    assert by_name["mat"]["shape"] == ["2", "3"]
    assert by_name["mat"]["byte_size"] == "24"
    assert all("xxh3_128" not in t for t in desc["tensors"])
    assert isinstance(desc["parameter_count"], str) and desc["parameter_count"] == "7"
    assert isinstance(desc["size_on_disk"], str)
    assert "metadata" not in desc  # no __metadata__ in this file
    assert "architecture" not in desc  # empty for a lone .safetensors file

    hashed = {t["name"]: t for t in su.inspect(owl, path, "--hash")["tensors"]}
    assert hashed["empty"]["xxh3_128"] == su.xxh3(b"") == "99aa06d3014798d86001c324468d497f"
    assert hashed["mat"]["xxh3_128"] == su.xxh3(bytes(range(24)))
    assert all(len(t["xxh3_128"]) == 32 and t["xxh3_128"] == t["xxh3_128"].lower()
               for t in hashed.values())


# --- round trip ---------------------------------------------------------------------------

def convert(owl, src, dst, *flags):
    r = owl("convert", src, "-o", dst, "--quiet", "--no-provenance", *flags)
    assert r.returncode == 0, r.describe()
    return r


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_roundtrip_each_dtype(owl, in_dir, out_dir, dtype):
    src = in_dir / "f.safetensors"
    write_any(src, dtype_tensors(dtype, seed=3), {"format": "pt"})
    dst = out_dir / "g.safetensors"
    convert(owl, src, dst)
    assert su.read_reference(dst) == su.read_reference(src)
    assert su.read_metadata(dst) == {"format": "pt"}
    su.check_reference_layout(dst)
    assert sorted(os.listdir(out_dir)) == ["g.safetensors"]


def test_roundtrip_all_dtypes_and_metadata(owl, in_dir, out_dir):
    tensors = {}
    for i, dtype in enumerate(CONTRACT_ALL):
        tensors.update(dtype_tensors(dtype, seed=i))
    tensors["na\u00efve/\u540d\u524d \"quoted\""] = ("F32", [2], bytes(8))
    src = in_dir / "f.safetensors"
    su.write_manual(src, tensors, META)
    before = src.read_bytes()
    dst = out_dir / "g.safetensors"
    convert(owl, src, dst, "--dtype", "keep")
    assert src.read_bytes() == before
    assert su.read_reference(dst) == su.read_reference(src)
    assert su.read_metadata(dst) == META
    assert su.file_order(dst) == su.file_order(src)
    su.check_reference_layout(dst)


def test_default_dtype_is_keep(owl, in_dir, out_dir):
    src = in_dir / "f.safetensors"
    su.write_reference(src, {"a": ("F64", [3], bytes(range(24))), "b": ("BF16", [2], b"\x01\x02\x03\x04")})
    convert(owl, src, out_dir / "g.safetensors")
    assert su.read_reference(out_dir / "g.safetensors") == su.read_reference(src)


# For files the reference writer made with no or one metadata entry the header is fully
# determined, so owl's output must be the very same bytes.
BYTE_IDENTICAL_CASES = {
    "no_metadata": None,
    "one_entry": {"format": "pt"},
    "one_entry_escapes": {"note": "h\u00e9llo \u2713 \"q\" \\ \n\t\u0001 \u007f"},
}


@pytest.mark.parametrize("case", list(BYTE_IDENTICAL_CASES))
def test_roundtrip_byte_identical(owl, in_dir, out_dir, case):
    tensors = {}
    for i, dtype in enumerate(CONTRACT_WRITABLE):
        tensors.update(dtype_tensors(dtype, seed=10 + i))
    tensors["model.layers.0.self_attn.q_proj.weight"] = ("BF16", [8, 8],
                                                         su.sample_bytes("BF16", [8, 8], 99))
    src = in_dir / "f.safetensors"
    su.write_reference(src, tensors, BYTE_IDENTICAL_CASES[case])
    dst = out_dir / "g.safetensors"
    convert(owl, src, dst)
    a, b = src.read_bytes(), dst.read_bytes()
    if a != b:
        _, ha, _ = su.read_header(src)
        _, hb, _ = su.read_header(dst)
        i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
        raise AssertionError(
            f"output differs from input: sizes {len(a)} vs {len(b)}, first difference at byte "
            f"{i}\ninput header:  {ha[:600]!r}\noutput header: {hb[:600]!r}")


def test_roundtrip_empty_metadata_object(owl, in_dir, out_dir):
    # The reference writer given metadata={} writes "__metadata__":{}; reading it back gives {}.
    src = in_dir / "f.safetensors"
    su.write_reference(src, {"x": ("U8", [3], b"abc")}, {})
    dst = out_dir / "g.safetensors"
    convert(owl, src, dst)
    assert su.read_reference(dst) == su.read_reference(src)
    assert su.read_metadata(dst) == {}
    su.check_reference_layout(dst)


def test_roundtrip_nonreference_layout(owl, in_dir, out_dir):
    """A valid file laid out differently (unpadded header, pretty JSON, fields in another order,
    keys not in offset order, __metadata__ last) is rewritten in the reference layout."""
    header = (b'{\n  "b": {"data_offsets": [6, 10], "shape": [2], "dtype": "I16"},\n'
              b'  "a": {"shape": [3], "dtype": "U16", "data_offsets": [0, 6]},\n'
              b'  "__metadata__": {"k": "v"}\n}')
    assert len(header) % 8 != 0
    src = in_dir / "odd.safetensors"
    su.raw_file(src, header, bytes(range(10)))
    ref = su.read_reference(src)  # the reference package accepts it
    dst = out_dir / "g.safetensors"
    convert(owl, src, dst)
    assert su.read_reference(dst) == ref
    assert su.read_metadata(dst) == {"k": "v"}
    assert su.file_order(dst) == ["a", "b"]
    su.check_reference_layout(dst)
    assert [t["name"] for t in su.inspect(owl, src)["tensors"]] == ["a", "b"]


def test_convert_output_overwrites_existing_file(owl, in_dir, out_dir):
    src = in_dir / "f.safetensors"
    su.write_reference(src, {"x": ("F32", [2], bytes(8))}, {"format": "pt"})
    dst = out_dir / "g.safetensors"
    dst.write_bytes(b"old content that is longer than the new file" * 100)
    convert(owl, src, dst)
    assert dst.read_bytes() == src.read_bytes()
    assert sorted(os.listdir(out_dir)) == ["g.safetensors"]


def test_convert_quiet_prints_nothing(owl, in_dir, out_dir):
    src = in_dir / "f.safetensors"
    su.write_reference(src, {"x": ("F32", [2], bytes(8))})
    r = convert(owl, src, out_dir / "g.safetensors")
    assert r.stdout == "" and r.stderr == "", r.describe()


@pytest.mark.parametrize("meta", [None, {"format": "pt"}, META])
def test_layout_checker_accepts_reference_output(in_dir, meta):
    # Self-check of the helper the tests apply to owl's output (needs no owl).
    path = in_dir / "ref.safetensors"
    tensors = {}
    for i, dtype in enumerate(WRITABLE):
        tensors.update(dtype_tensors(dtype, seed=i))
    su.write_reference(path, tensors, meta)
    su.check_reference_layout(path)
