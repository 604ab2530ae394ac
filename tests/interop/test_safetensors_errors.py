"""Bad inputs: owl must exit 2 with one `owl: error: ` line naming the file (and the tensor),
leave nothing behind in the output folder and leave the input alone."""

import json
import os
import struct
import subprocess
from dataclasses import dataclass

import pytest

import stutil as su

# A valid base file: two tensors, contiguous, 24 bytes of data.
DATA = bytes(range(24))


def base_header():
    return {
        "alpha": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
        "beta": {"dtype": "I16", "shape": [4], "data_offsets": [16, 24]},
    }


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


@dataclass
class Case:
    build: object          # build(folder) -> input path (the folder holds only the input)
    names: tuple           # the file name(s) stderr must mention: any one of them
    tensors: tuple = ()    # the tensor name(s) stderr must mention: any one of them
    reference_accepts: bool = False  # the reference package reads it (owl is stricter)
    kind: str = "file"


def file_case(blob_fn, tensors=(), reference_accepts=False):
    def build(d, name):
        p = d / name
        blob = blob_fn()
        if callable(blob):
            blob(p)
        else:
            p.write_bytes(blob)
        return p
    return Case(build, (), tuple(tensors), reference_accepts)


def with_header(mutate, data=DATA):
    """A file made from the base header after mutate(header)."""
    def blob():
        h = base_header()
        r = mutate(h)
        h = h if r is None else r
        raw = h if isinstance(h, bytes) else su.header_bytes(h)
        return struct.pack("<Q", len(raw)) + raw + data
    return blob


def raw_header(raw, data=DATA):
    return lambda: struct.pack("<Q", len(raw)) + raw + data


def set_field(tensor, key, value):
    def mutate(h):
        h[tensor][key] = value
    return mutate


def drop_field(tensor, key):
    def mutate(h):
        del h[tensor][key]
    return mutate


def sparse_over_limit():
    n = 100_000_001

    def write(p):
        with open(p, "wb") as f:
            f.write(struct.pack("<Q", n) + b"{}")
            f.truncate(8 + n)
    return write


BASE_JSON = compact(base_header())

FILE_CASES = {
    "empty_file": file_case(lambda: b""),
    "shorter_than_8_bytes": file_case(lambda: b"\x08\x00\x00\x00"),
    "header_len_beyond_file": file_case(lambda: struct.pack("<Q", 1000) + b'{"a":1}'),
    "header_len_u64_max": file_case(lambda: struct.pack("<Q", 2**64 - 1) + b"{}      "),
    "header_len_over_100MB": file_case(sparse_over_limit),
    "header_not_object_array": file_case(raw_header(b"[1,2]", b"")),
    "header_not_object_string": file_case(raw_header(b'"abc"   ', b"")),
    "header_invalid_json": file_case(raw_header(BASE_JSON[:-9])),
    "header_trailing_garbage": file_case(raw_header(BASE_JSON + b" x")),
    "header_non_utf8_name": file_case(raw_header(BASE_JSON.replace(b'"beta"', b'"bet\xff"'))),
    "header_non_utf8_metadata": file_case(raw_header(
        b'{"__metadata__":{"k":"v\xc3\x28"},' + BASE_JSON[1:])),
    "missing_dtype": file_case(with_header(drop_field("beta", "dtype")), ["beta"]),
    "missing_shape": file_case(with_header(drop_field("beta", "shape")), ["beta"]),
    "missing_data_offsets": file_case(with_header(drop_field("beta", "data_offsets")), ["beta"]),
    "unknown_dtype": file_case(with_header(set_field("beta", "dtype", "F12")), ["beta"]),
    "dtype_wrong_case": file_case(with_header(set_field("beta", "dtype", "i16")), ["beta"]),
    "dtype_not_string": file_case(with_header(set_field("beta", "dtype", 16)), ["beta"]),
    "entry_not_object": file_case(with_header(lambda h: h.update(beta=[16, 24])), ["beta"]),
    "overlapping_offsets": file_case(
        with_header(set_field("beta", "data_offsets", [8, 16]), DATA[:16]), ["alpha", "beta"]),
    "offsets_past_end": file_case(with_header(lambda h: None, DATA[:20]), ["beta"]),
    "offsets_near_u64_max": file_case(with_header(set_field(
        "beta", "data_offsets", [2**64 - 8, 2**64 - 1])), ["beta"]),
    "start_greater_than_end": file_case(
        with_header(set_field("beta", "data_offsets", [24, 16])), ["beta"]),
    "gap_between_tensors": file_case(
        with_header(set_field("beta", "data_offsets", [20, 28]), DATA + bytes(4)),
        ["alpha", "beta"]),
    "gap_at_start": file_case(with_header(lambda h: {
        "alpha": {"dtype": "F32", "shape": [2, 2], "data_offsets": [4, 20]},
        "beta": {"dtype": "I16", "shape": [4], "data_offsets": [20, 28]}}, DATA + bytes(4)),
        ["alpha"]),
    "data_after_last_tensor": file_case(with_header(lambda h: None, DATA + bytes(8))),
    "byte_count_mismatch": file_case(with_header(set_field("alpha", "shape", [2, 3])), ["alpha"]),
    "byte_count_mismatch_scalar": file_case(with_header(set_field("alpha", "shape", [])),
                                            ["alpha"]),
    "shape_overflows_u64": file_case(with_header(lambda h: {
        "alpha": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
        "beta": {"dtype": "F32", "shape": [2**32, 2**32, 2], "data_offsets": [16, 16]}},
        DATA[:16]), ["beta"]),
    "f4_odd_element_count": file_case(raw_header(su.header_bytes(
        {"gamma": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}}), b"ab"), ["gamma"]),
    "f6_partial_byte": file_case(raw_header(su.header_bytes(
        {"gamma": {"dtype": "F6_E2M3", "shape": [3], "data_offsets": [0, 3]}}), b"abc"),
        ["gamma"]),
    "duplicate_tensor_name": file_case(raw_header(
        b'{"alpha":{"dtype":"I16","shape":[4],"data_offsets":[16,24]},'
        b'"alpha":{"dtype":"F32","shape":[6],"data_offsets":[0,24]}}'), ["alpha"],
        reference_accepts=True),
    "duplicate_metadata_key": file_case(raw_header(
        b'{"__metadata__":{"k":"a","k":"b"},' + BASE_JSON[1:]), reference_accepts=True),
    "negative_dim": file_case(with_header(set_field("alpha", "shape", [-2, -2])), ["alpha"]),
    "negative_dim_one": file_case(with_header(set_field("alpha", "shape", [4, -1])), ["alpha"]),
    "fractional_dim": file_case(with_header(set_field("alpha", "shape", [2, 2.5])), ["alpha"]),
    "float_dim": file_case(raw_header(BASE_JSON.replace(b"[2,2]", b"[2,2.0]")), ["alpha"]),
    "string_dim": file_case(with_header(set_field("alpha", "shape", [2, "2"])), ["alpha"]),
    "shape_not_array": file_case(with_header(set_field("beta", "shape", 4)), ["beta"]),
    "data_offsets_three_items": file_case(
        with_header(set_field("beta", "data_offsets", [16, 24, 24])), ["beta"]),
    "data_offsets_negative": file_case(
        with_header(set_field("beta", "data_offsets", [-8, 24])), ["beta"]),
    "tensor_name_with_control_chars": file_case(with_header(lambda h: {
        "alpha\nowl: error: fake\u001b[31m": {"dtype": "F32", "shape": [2, 3],
                                               "data_offsets": [0, 16]},
        "beta": h["beta"]}), ["alpha"]),
    "header_invalid_json_control_chars": file_case(raw_header(b'{"x\x1b[2J\nowl: error: f')),
    "metadata_value_not_string": file_case(with_header(
        lambda h: {"__metadata__": {"k": 1}, **h})),
    "metadata_not_object": file_case(with_header(lambda h: {"__metadata__": "x", **h})),
}


def write_shard(path, name="w"):
    su.write_reference(path, {name: ("F32", [2], bytes(8))}, {"format": "pt"})


def hf_folder(d, index=None, shards=("model-00001-of-00002.safetensors",), config=True):
    if config is True:
        (d / "config.json").write_text('{"model_type": "llama", "hidden_size": 8}')
    elif config is not None:
        (d / "config.json").write_bytes(config)
    for i, s in enumerate(shards):
        write_shard(d / s, f"t{i}")
    if index is not None:
        (d / "model.safetensors.index.json").write_bytes(
            index if isinstance(index, bytes) else json.dumps(index).encode())


GOOD_INDEX = {"metadata": {"total_size": 16},
              "weight_map": {"t0": "model-00001-of-00002.safetensors",
                             "t1": "model-00002-of-00002.safetensors"}}


def folder_case(make, names, tensors=(), use_index=False):
    def build(d, name):
        f = d / name
        f.mkdir()
        make(f)
        return f / "model.safetensors.index.json" if use_index else f
    return Case(build, tuple(names), tuple(tensors), kind="folder")


def corrupt_shard(f):
    hf_folder(f, GOOD_INDEX, ("model-00001-of-00002.safetensors",
                              "model-00002-of-00002.safetensors"))
    p = f / "model-00002-of-00002.safetensors"
    p.write_bytes(p.read_bytes()[:-3])


FOLDER_CASES = {}
for via_index in (False, True):
    sfx = "_via_index" if via_index else ""
    FOLDER_CASES.update({
        "index_missing_shard" + sfx: folder_case(
            lambda f: hf_folder(f, GOOD_INDEX), ["model-00002-of-00002.safetensors"],
            use_index=via_index),
        "index_not_object" + sfx: folder_case(
            lambda f: hf_folder(f, b"[1, 2]"), ["model.safetensors.index.json"],
            use_index=via_index),
        "index_without_weight_map" + sfx: folder_case(
            lambda f: hf_folder(f, {"metadata": {"total_size": 8}}),
            ["model.safetensors.index.json"], use_index=via_index),
        "index_weight_map_not_object" + sfx: folder_case(
            lambda f: hf_folder(f, {"weight_map": ["t0"]}), ["model.safetensors.index.json"],
            use_index=via_index),
        "index_invalid_json" + sfx: folder_case(
            lambda f: hf_folder(f, b'{"weight_map": {'), ["model.safetensors.index.json"],
            use_index=via_index),
        "index_corrupt_shard" + sfx: folder_case(
            corrupt_shard, ["model-00002-of-00002.safetensors"], use_index=via_index),
    })
FOLDER_CASES.update({
    "folder_without_weights": folder_case(lambda f: hf_folder(f, None, ()), ["bad_folder"]),
    "folder_empty": folder_case(lambda f: None, ["bad_folder"]),
    "folder_config_invalid_json": folder_case(
        lambda f: hf_folder(f, None, ("model.safetensors",), config=b'{"model_type": '),
        ["config.json"]),
})

for name, case in FILE_CASES.items():
    case.names = (f"bad_{name}.safetensors",)

ALL_CASES = {**FILE_CASES, **FOLDER_CASES}


def build_case(case_name, in_dir):
    case = ALL_CASES[case_name]
    if case.kind == "folder":
        return case.build(in_dir, "bad_folder")
    return case.build(in_dir, case.names[0])


def check_error(r, case):
    assert r.returncode == 2, r.describe()
    err = r.stderr
    assert err.startswith("owl: error: "), r.describe()
    assert "\n" not in err.rstrip("\n") and err.count("\n") <= 1, \
        f"stderr should be exactly one line:\n{err}"
    assert any(n in err for n in case.names), f"stderr does not name {case.names}: {err!r}"
    if case.tensors:
        assert any(f"{t}" in err for t in case.tensors), \
            f"stderr does not name tensor {case.tensors}: {err!r}"


@pytest.mark.parametrize("case_name", list(ALL_CASES))
def test_convert_rejects(owl, in_dir, out_dir, case_name):
    case = ALL_CASES[case_name]
    src = build_case(case_name, in_dir)
    before = su.dir_snapshot(in_dir)
    r = owl("convert", src, "-o", out_dir / "out.safetensors")
    check_error(r, case)
    assert os.listdir(out_dir) == [], "files left in the output folder"
    assert su.dir_snapshot(in_dir) == before, "input changed"


@pytest.mark.parametrize("flags", [(), ("--json", "--hash")], ids=["plain", "json_hash"])
@pytest.mark.parametrize("case_name", list(ALL_CASES))
def test_inspect_rejects(owl, in_dir, case_name, flags):
    case = ALL_CASES[case_name]
    src = build_case(case_name, in_dir)
    before = su.dir_snapshot(in_dir)
    r = owl("inspect", src, *flags)
    check_error(r, case)
    assert su.dir_snapshot(in_dir) == before, "input changed"


@pytest.mark.parametrize("case_name", ["header_non_utf8_name", "header_non_utf8_metadata",
                                       "tensor_name_with_control_chars",
                                       "header_invalid_json_control_chars"])
def test_error_message_is_clean_text(owl, in_dir, case_name):
    """Names and JSON excerpts from an untrusted header are echoed escaped: the message stays one
    line of valid UTF-8 with no control characters (no terminal escapes, no forged lines)."""
    src = build_case(case_name, in_dir)
    for args in (("inspect", src), ("convert", src, "-o", in_dir / "never.safetensors")):
        argv = [str(a) for a in args]
        raw = subprocess.run([str(owl.binary)] + argv, capture_output=True).stderr
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise AssertionError(f"owl {argv[0]}: stderr is not valid UTF-8 ({e}): {raw!r}")
        body = text[:-1] if text.endswith("\n") else text
        assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in body), \
            f"owl {argv[0]}: control characters in stderr: {raw!r}"


@pytest.mark.parametrize("case_name", [n for n in ("byte_count_mismatch", "gap_between_tensors",
                                                   "header_invalid_json", "index_missing_shard")])
def test_failed_convert_keeps_existing_output(owl, in_dir, out_dir, case_name):
    src = build_case(case_name, in_dir)
    dst = out_dir / "out.safetensors"
    dst.write_bytes(b"previous output")
    (out_dir / "out.safetensors.index.json").write_bytes(b"previous index")
    r = owl("convert", src, "-o", dst, "--shard-size", "1KB")
    check_error(r, ALL_CASES[case_name])
    assert sorted(os.listdir(out_dir)) == ["out.safetensors", "out.safetensors.index.json"]
    assert dst.read_bytes() == b"previous output"
    assert (out_dir / "out.safetensors.index.json").read_bytes() == b"previous index"


# --- self-checks of the cases (no owl needed) ----------------------------------------------

def test_base_file_is_valid(owl, in_dir, out_dir):
    """The unmutated base file is read by the reference and by owl: the cases above differ from
    it by one defect each."""
    p = in_dir / "good.safetensors"
    su.raw_file(p, base_header(), DATA)
    assert su.read_reference(p)["beta"] == ("I16", [4], DATA[16:])
    r = owl("convert", p, "-o", out_dir / "out.safetensors", "--quiet")
    assert r.returncode == 0, r.describe()
    assert su.read_reference(out_dir / "out.safetensors") == su.read_reference(p)


def test_good_folders_are_valid(owl, tmp_path):
    d = tmp_path / "good"
    d.mkdir()
    hf_folder(d, GOOD_INDEX, ("model-00001-of-00002.safetensors",
                              "model-00002-of-00002.safetensors"))
    for src in (d, d / "model.safetensors.index.json"):
        r = owl("inspect", src, "--json")
        assert r.returncode == 0, r.describe()
        assert sorted(t["name"] for t in json.loads(r.stdout)["tensors"]) == ["t0", "t1"]


@pytest.mark.parametrize("case_name", list(FILE_CASES))
def test_reference_agrees_file_is_bad(in_dir, case_name):
    case = FILE_CASES[case_name]
    p = build_case(case_name, in_dir)
    if case.reference_accepts:
        su.read_reference(p)  # still a well-formed file for the reference
        return
    with pytest.raises(Exception):
        su.read_reference(p)
