"""Malformed GGUF input: owl must exit 2 with one `owl: error: ` line naming the file (and the key
or tensor at fault), leave nothing behind in the output folder and leave the input alone. Each
case differs from a valid base file by one defect."""

import os
import struct
import subprocess
from dataclasses import dataclass

import pytest

import gguf_util as gu
import stutil as su

VT, QT = gu.VT, gu.QT
U64_MAX = 2**64 - 1


def base(**kw):
    """The valid base file: three metadata entries and two tensors (alpha F32 4x2, beta F16 8)."""
    b = gu.GGUFBuilder(**kw)
    b.add("general.architecture", VT.STRING, "llama")
    b.add("test.count", VT.UINT32, 3)
    b.add("test.names", VT.ARRAY, (VT.STRING, ["a", "bc"]))
    b.add_tensor("alpha", [4, 2], QT.F32)
    b.add_tensor("beta", [8], QT.F16)
    return b


def base_bytes():
    return base().build()


def header_len():
    """Bytes of magic, version and counts."""
    return 24


def kv_end():
    b = base()
    return header_len() + sum(len(e) for e in b.kv)


def edited(edit):
    """The base file after edit(builder)."""
    def make():
        b = base()
        edit(b)
        return b.build()
    return make


def with_kv(*entries, replace_all=False):
    """Adds (or with replace_all, replaces the entries by) raw encoded entries."""
    def edit(b):
        if replace_all:
            b.kv = []
        b.kv.extend(entries)
    return edited(edit)


def set_tensor(index, **fields):
    def edit(b):
        for k, v in fields.items():
            setattr(b.tensors[index], k, v)
    return edited(edit)


def raw_kv(key, vt, value_bytes):
    return gu.enc_string(key) + struct.pack("<I", vt) + value_bytes


def depth_bomb(depth):
    """An array of arrays of ... of one empty u8 array, nested `depth` deep."""
    inner = struct.pack("<IQ", VT.UINT8, 0)
    blob = struct.pack("<IQ", VT.ARRAY, 1) * (depth - 1) + inner
    return raw_kv("test.bomb", VT.ARRAY, blob)


def truncate_at(pos_fn):
    return lambda: base_bytes()[:pos_fn()]


def patch(offset, data):
    def make():
        blob = bytearray(base_bytes())
        blob[offset:offset + len(data)] = data
        return bytes(blob)
    return make


@dataclass
class Case:
    make: object          # () -> bytes of the bad file
    names: tuple = ()     # key or tensor names stderr must mention (any one of them)


CASES = {
    # header
    "empty_file": Case(lambda: b""),
    "truncated_in_magic": Case(truncate_at(lambda: 2)),
    "truncated_in_counts": Case(truncate_at(lambda: 12)),
    "truncated_in_key": Case(truncate_at(lambda: header_len() + 12)),
    "truncated_in_value": Case(truncate_at(lambda: kv_end() - 3)),
    "truncated_in_tensor_info": Case(truncate_at(lambda: kv_end() + 10)),
    "bad_magic": Case(patch(0, b"GGUG")),
    "legacy_ggjt_magic": Case(patch(0, b"tjgg")),
    "version_0": Case(patch(4, struct.pack("<I", 0))),
    "version_1": Case(patch(4, struct.pack("<I", 1))),
    "version_4": Case(patch(4, struct.pack("<I", 4))),
    "version_big_endian_3": Case(patch(4, struct.pack(">I", 3))),
    "tensor_count_2_63": Case(edited(lambda b: setattr(b, "n_tensors", 2**63))),
    "tensor_count_u64_max": Case(edited(lambda b: setattr(b, "n_tensors", U64_MAX))),
    "tensor_count_one_too_many": Case(edited(lambda b: setattr(b, "n_tensors", 3))),
    "metadata_count_huge": Case(edited(lambda b: setattr(b, "n_kv", 2**62))),
    "metadata_count_u64_max": Case(edited(lambda b: setattr(b, "n_kv", U64_MAX))),
    "metadata_count_one_too_many": Case(edited(lambda b: setattr(b, "n_kv", 4))),
    # metadata
    "string_length_beyond_file": Case(with_kv(raw_kv(
        "test.long", VT.STRING, struct.pack("<Q", 1_000_000) + b"short")), ("test.long",)),
    "string_length_u64_max": Case(with_kv(raw_kv(
        "test.long", VT.STRING, struct.pack("<Q", U64_MAX) + b"short")), ("test.long",)),
    "key_length_beyond_file": Case(with_kv(struct.pack("<Q", 1_000_000) + b"test.key")),
    "key_length_u64_max": Case(with_kv(struct.pack("<Q", U64_MAX) + b"test.key")),
    "array_count_huge": Case(with_kv(raw_kv(
        "test.arr", VT.ARRAY, struct.pack("<IQ", VT.UINT8, 2**62) + b"\x01\x02")), ("test.arr",)),
    "array_count_u64_max_of_u64": Case(with_kv(raw_kv(
        "test.arr", VT.ARRAY, struct.pack("<IQ", VT.UINT64, U64_MAX))), ("test.arr",)),
    "array_of_empty_arrays_count_huge": Case(with_kv(raw_kv(
        "test.arr", VT.ARRAY, struct.pack("<IQ", VT.ARRAY, 2**40) +
        struct.pack("<IQ", VT.UINT8, 0))), ("test.arr",)),
    "string_array_count_huge": Case(with_kv(raw_kv(
        "test.arr", VT.ARRAY, struct.pack("<IQ", VT.STRING, 2**62) + gu.enc_string("x"))),
        ("test.arr",)),
    "nested_array_depth_bomb": Case(with_kv(depth_bomb(100_000)), ("test.bomb",)),
    "unknown_value_type": Case(with_kv(raw_kv("test.odd", 13, b"\0" * 8)), ("test.odd",)),
    "unknown_value_type_u32_max": Case(with_kv(raw_kv("test.odd", 0xFFFFFFFF, b"\0" * 8)),
                                       ("test.odd",)),
    "unknown_array_item_type": Case(with_kv(raw_kv(
        "test.odd", VT.ARRAY, struct.pack("<IQ", 99, 1) + b"\0" * 8)), ("test.odd",)),
    "duplicate_key": Case(with_kv(gu.enc_kv("test.count", VT.UINT32, 4)), ("test.count",)),
    "alignment_not_power_of_two": Case(with_kv(gu.enc_kv("general.alignment", VT.UINT32, 48)),
                                       ("general.alignment",)),
    "alignment_zero": Case(with_kv(gu.enc_kv("general.alignment", VT.UINT32, 0)),
                           ("general.alignment",)),
    "alignment_wrong_type": Case(with_kv(gu.enc_kv("general.alignment", VT.STRING, "32")),
                                 ("general.alignment",)),
    # tensor infos
    "tensor_name_length_beyond_file": Case(lambda: base_bytes()[:kv_end()] + struct.pack(
        "<Q", 1_000_000) + b"alpha" + base_bytes()[kv_end() + 13:]),
    "unknown_ggml_type": Case(set_tensor(1, type_id=1000), ("beta",)),
    "unknown_ggml_type_u32_max": Case(set_tensor(1, type_id=0xFFFFFFFF), ("beta",)),
    "removed_ggml_type_q4_2": Case(set_tensor(1, type_id=4), ("beta",)),
    "removed_ggml_type_q4_0_4_4": Case(set_tensor(1, type_id=31), ("beta",)),
    "five_dims": Case(set_tensor(1, ne=[2, 2, 2, 1, 1], data=bytes(16)), ("beta",)),
    "n_dims_65535": Case(set_tensor(1, ne=[8] + [1] * 0xFFFE), ("beta",)),
    "dims_product_overflows_u64": Case(set_tensor(1, ne=[2**32, 2**32, 2]), ("beta",)),
    "dims_product_reaches_i64_max": Case(set_tensor(1, ne=[2**32, 2**31], type_id=QT.I8),
                                         ("beta",)),
    "dim_negative_as_i64": Case(set_tensor(1, ne=[2**63 + 8]), ("beta",)),
    "byte_size_overflows": Case(set_tensor(1, ne=[2**62, 2], type_id=QT.F32), ("beta",)),
    "row_not_a_multiple_of_the_block": Case(set_tensor(1, ne=[33], type_id=QT.Q8_0,
                                                       data=bytes(34)), ("beta",)),
    "duplicate_tensor_name": Case(set_tensor(1, name="alpha"), ("alpha",)),
    # tensor data
    "overlapping_tensors": Case(set_tensor(1, offset=0), ("alpha", "beta")),
    "overlapping_tensors_partly": Case(edited(lambda b: (
        setattr(b.tensors[0], "ne", [16]), setattr(b.tensors[0], "data", bytes(64)),
        setattr(b.tensors[1], "offset", 32))), ("alpha", "beta")),
    "misaligned_offset": Case(set_tensor(1, offset=40), ("beta",)),
    # The data section is alpha (32 bytes), beta (16), padding (16): cut beta's last 8 bytes.
    "tensor_data_past_the_end": Case(lambda: base_bytes()[:-24], ("beta",)),
    "tensor_offset_far_past_the_end": Case(set_tensor(1, offset=2**40, place=False), ("beta",)),
    "tensor_offset_near_u64_max": Case(set_tensor(1, offset=2**64 - 32, place=False),
                                       ("beta",)),
}


def bad_name(case_name):
    return f"bad_{case_name}.gguf"


def build(case_name, in_dir):
    p = in_dir / bad_name(case_name)
    p.write_bytes(CASES[case_name].make())
    return p


def check_error(r, case_name):
    assert r.returncode == 2, r.describe()
    err = r.stderr
    assert err.startswith("owl: error: "), r.describe()
    assert err.count("\n") <= 1 and "\n" not in err.rstrip("\n"), \
        f"stderr should be exactly one line:\n{err}"
    assert bad_name(case_name) in err, f"stderr does not name the file: {err!r}"
    names = CASES[case_name].names
    if names:
        assert any(n in err for n in names), f"stderr does not name {names}: {err!r}"


@pytest.mark.parametrize("case_name", list(CASES))
def test_convert_rejects(owl, in_dir, out_dir, case_name):
    src = build(case_name, in_dir)
    before = su.dir_snapshot(in_dir)
    r = owl("convert", src, "-o", out_dir / "out.gguf")
    check_error(r, case_name)
    assert os.listdir(out_dir) == [], "files left in the output folder"
    assert su.dir_snapshot(in_dir) == before, "input changed"


@pytest.mark.parametrize("case_name", list(CASES))
def test_inspect_rejects(owl, in_dir, case_name):
    src = build(case_name, in_dir)
    before = su.dir_snapshot(in_dir)
    check_error(owl("inspect", src, "--json", "--hash"), case_name)
    assert su.dir_snapshot(in_dir) == before, "input changed"


@pytest.mark.parametrize("case_name", ["bad_magic", "duplicate_key", "tensor_data_past_the_end",
                                       "misaligned_offset"])
def test_failed_convert_keeps_existing_output(owl, in_dir, out_dir, case_name):
    src = build(case_name, in_dir)
    dst = out_dir / "out.gguf"
    dst.write_bytes(b"previous output")
    r = owl("convert", src, "-o", dst)
    check_error(r, case_name)
    assert os.listdir(out_dir) == ["out.gguf"]
    assert dst.read_bytes() == b"previous output"


def test_failed_split_convert_leaves_nothing(owl, in_dir, out_dir):
    src = build("tensor_data_past_the_end", in_dir)
    r = owl("convert", src, "-o", out_dir / "out.gguf", "--split-max-tensors", "1")
    check_error(r, "tensor_data_past_the_end")
    assert os.listdir(out_dir) == []


@pytest.mark.parametrize("case_name", ["tensor_name_length_beyond_file", "unknown_value_type",
                                       "string_length_u64_max"])
def test_error_message_is_clean_text(owl, in_dir, case_name):
    """Bytes from a hostile file never reach the terminal raw: one line of valid UTF-8 without
    control characters."""
    src = build(case_name, in_dir)
    raw = subprocess.run([str(owl.binary), "inspect", str(src)], capture_output=True).stderr
    text = raw.decode("utf-8")
    body = text[:-1] if text.endswith("\n") else text
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in body), raw


def test_key_with_control_characters_is_escaped(owl, in_dir):
    # A duplicate key, so that owl names it in its error.
    forged = "test.count\n\x1b[31mowl: error: forged"
    p = in_dir / "bad_key.gguf"
    b = base()
    b.kv[1] = gu.enc_kv(forged, VT.UINT32, 3)
    b.kv.append(gu.enc_kv(forged, VT.UINT32, 4))
    b.write(p)
    r = owl("inspect", p)
    assert r.returncode == 2, r.describe()
    body = r.stderr.rstrip("\n")
    assert "\n" not in body and "\x1b" not in body, repr(r.stderr)


def test_zero_dim_next_to_huge_dims(owl, in_dir, out_dir):
    """[0, 2^62, 2^62] holds no element, so ggml accepts it; a reader that multiplies the dims
    in another order may overflow first. owl either keeps the tensor or refuses the file
    cleanly, naming the tensor."""
    p = edited(lambda b: b.add_tensor("gamma", [0, 2**62, 2**62], QT.F32, b""))()
    src = in_dir / "zero.gguf"
    src.write_bytes(p)
    r = owl("convert", src, "-o", out_dir / "out.gguf", "--quiet")
    if r.returncode == 0:
        got = gu.tensors(out_dir / "out.gguf")
        assert got["gamma"].shape == [2**62, 2**62, 0] and got["gamma"].data == b""
        return
    assert r.returncode == 2 and r.stderr.startswith("owl: error: "), r.describe()
    assert "gamma" in r.stderr and r.stderr.count("\n") <= 1, r.describe()
    assert os.listdir(out_dir) == []


# --- self-checks of the cases (no owl needed) ----------------------------------------------

def test_base_file_is_valid(owl, in_dir, out_dir):
    """The unchanged base file is read by gguf-py and copied by owl: each case above differs
    from it by one defect."""
    p = in_dir / "good.gguf"
    p.write_bytes(base_bytes())
    assert list(gu.tensors(p)) == ["alpha", "beta"]
    assert gu.metadata(p)["test.names"].value == ["a", "bc"]
    r = owl("convert", p, "-o", out_dir / "out.gguf", "--quiet")
    assert r.returncode == 0, r.describe()
    assert gu.tensors(out_dir / "out.gguf").keys() == gu.tensors(p).keys()


def test_cases_differ_from_base():
    good = base_bytes()
    for name, case in CASES.items():
        assert case.make() != good, name
