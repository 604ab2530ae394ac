#!/usr/bin/env python3
"""Run as: python3 tests/data/pytorch/make_malicious.py (any Python 3.9+, no torch); writes
tests/data/pytorch/malicious/, hostile and broken checkpoints that owl must refuse without
executing anything. Nothing here ever unpickles: every pickle is assembled opcode by opcode.

The payloads that would run a command if torch.load()ed them run `touch <marker>`; the committed
files use the marker /tmp/owl_pwned_<name>. The interop tests import this module and build the
same files with a marker under their own tmp_path (build_all(marker_for)), so the proof that
nothing ran does not depend on a shared /tmp path.

Every payload comes in both containers: <name>.zip.pt (torch's zip layout, entries stored and
64-byte aligned as torch writes them) and <name>.legacy.pt (magic number, protocol, sys info,
the pickle, storage keys, storages). Broken containers (not a checkpoint, truncated, sizes that
disagree, hostile nesting) have one file each. build_all() gives, for each file, its bytes and
the global owl must name when it refuses it (None for the broken ones). Files over
COMMIT_MAX_BYTES (the 100k-deep nestings) are built by the tests but not committed.
"""

import struct
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "malicious"

# --- pickle opcodes (protocol 2, plus the later ones a hostile file may use) -------------------

PROTO2 = b"\x80\x02"
MARK, STOP, TUPLE, REDUCE, BUILD = b"(", b".", b"t", b"R", b"b"
EMPTY_DICT, EMPTY_LIST, EMPTY_TUPLE = b"}", b"]", b")"
SETITEM, SETITEMS, APPEND, APPENDS, LIST = b"s", b"u", b"a", b"e", b"l"
TUPLE1, TUPLE2, TUPLE3 = b"\x85", b"\x86", b"\x87"
NEWFALSE, NEWTRUE, NONE = b"\x89", b"\x88", b"N"
BINPERSID = b"Q"
STACK_GLOBAL, MEMOIZE = b"\x93", b"\x94"
DUP = b"2"


def glob(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def ustr(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def short_ustr(s):  # SHORT_BINUNICODE (protocol 4)
    b = s.encode()
    return b"\x8c" + bytes([len(b)]) + b


def i32(v):
    return b"J" + struct.pack("<i", v)


def i64(v):  # LONG1, two's complement little-endian
    n = (v.bit_length() + 8) // 8
    return b"\x8a" + bytes([n]) + v.to_bytes(n, "little", signed=True)


def integer(v):
    return i32(v) if -(1 << 31) <= v < (1 << 31) else i64(v)


def tup(*items):
    return MARK + b"".join(items) + TUPLE


def binput(i):
    return b"q" + bytes([i])


def binget(i):
    return b"h" + bytes([i])


def call(module, name, *args):
    """module.name(*args) through GLOBAL + REDUCE, the way __reduce__ pickles it."""
    return glob(module, name) + tup(*args) + REDUCE


def pickle_of(body):
    return PROTO2 + body + STOP


def tensor(storage_class, key, numel, offset, size, stride, legacy=False):
    """torch._utils._rebuild_tensor_v2(persistent storage, offset, size, stride, False,
    OrderedDict()), as torch.save writes it."""
    pid = [ustr("storage"), glob("torch", storage_class), ustr(key), ustr("cpu"), integer(numel)]
    if legacy:
        pid.append(NONE)
    return (glob("torch._utils", "_rebuild_tensor_v2") +
            tup(tup(*pid) + BINPERSID, integer(offset), tup(*map(integer, size)),
                tup(*map(integer, stride)), NEWFALSE, call("collections", "OrderedDict")) +
            REDUCE)


def state_dict(items):
    return EMPTY_DICT + MARK + b"".join(ustr(k) + v for k, v in items) + SETITEMS


# --- containers -------------------------------------------------------------------------------

ZIP_ALIGN = 64
ZIP_VERSION = 20
DOS_DATE_1980 = 0x21  # 1980-01-01, as torch's writer stores every entry


def zip_archive(entries, declared_sizes=None):
    """A zip of stored entries, data 64-byte aligned through an 'FB' padding extra field as
    torch's writer does. declared_sizes={name: n} lies about an entry's size in both headers."""
    declared_sizes = declared_sizes or {}
    out, central = bytearray(), bytearray()
    for name, data in entries:
        nb = name.encode()
        header_end = len(out) + 30 + len(nb) + 4
        pad = (-header_end) % ZIP_ALIGN
        extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad
        crc = zlib.crc32(data)
        size = declared_sizes.get(name, len(data))
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, ZIP_VERSION, 0, 0, 0, DOS_DATE_1980, crc,
                           size, size, len(nb), len(extra)) + nb + extra + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, ZIP_VERSION, ZIP_VERSION, 0, 0,
                               0, DOS_DATE_1980, crc, size, size, len(nb), 0, 0, 0, 0, 0,
                               offset) + nb
    cd_offset = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central),
                       cd_offset, 0)
    return bytes(out)


def zip_checkpoint(pkl, storages=(), declared_sizes=None, prefix="archive"):
    entries = [(f"{prefix}/data.pkl", pkl)]
    entries += [(f"{prefix}/data/{k}", v) for k, v in storages]
    entries.append((f"{prefix}/version", b"3\n"))
    return zip_archive(entries, {f"{prefix}/{k}": v for k, v in (declared_sizes or {}).items()})


LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001


def legacy_sys_info():
    items = [(ustr("protocol_version"), integer(LEGACY_PROTOCOL)),
             (ustr("little_endian"), NEWTRUE),
             (ustr("type_sizes"), EMPTY_DICT + MARK + ustr("short") + integer(2) + ustr("int") +
              integer(4) + ustr("long") + integer(4) + SETITEMS)]
    return pickle_of(EMPTY_DICT + MARK + b"".join(k + v for k, v in items) + SETITEMS)


def legacy_checkpoint(pkl, storages=(), magic_pickle=None):
    """storages: [(key, numel, bytes)] written in key order after the list of keys."""
    out = magic_pickle if magic_pickle is not None else pickle_of(i64(LEGACY_MAGIC))
    out += pickle_of(integer(LEGACY_PROTOCOL)) + legacy_sys_info() + pkl
    keys = sorted(k for k, _, _ in storages)
    out += pickle_of(EMPTY_LIST + MARK + b"".join(ustr(k) for k in keys) + APPENDS)
    by_key = {k: (n, b) for k, n, b in storages}
    for k in keys:
        n, b = by_key[k]
        out += struct.pack("<q", n) + b
    return out


# --- payloads ---------------------------------------------------------------------------------

FLOATS6 = struct.pack("<6f", 1, 2, 3, 4, 5, 6)


def persid_call(touch, legacy):
    """A tensor whose persistent id names `posix.system(touch)` where the storage class goes."""
    pid = [ustr("storage"), call("posix", "system", ustr(touch)), ustr("0"), ustr("cpu"),
           integer(6)] + ([NONE] if legacy else [])
    return (glob("torch._utils", "_rebuild_tensor_v2") +
            tup(tup(*pid) + BINPERSID, integer(0), tup(integer(6)), tup(integer(1)), NEWFALSE,
                call("collections", "OrderedDict")) + REDUCE)


def payloads(marker):
    """{name: (pickle body builder(legacy) -> bytes, the global owl must name)}. Each body is a
    state dict with one honest tensor (storage '0', 6 floats) and the payload somewhere."""
    touch = f"touch {marker}"
    honest = lambda legacy: ("w", tensor("FloatStorage", "0", 6, 0, [2, 3], [3, 1], legacy))

    def with_payload(payload, key="evil"):
        return lambda legacy: state_dict([honest(legacy), (key, payload)])

    getattr_chain = call("builtins", "getattr", call("builtins", "__import__", ustr("os")),
                         ustr("system")) + tup(ustr(touch)) + REDUCE
    exec_chain = (call("builtins", "getattr", call("builtins", "__import__", ustr("builtins")),
                       ustr("exec")) + tup(ustr(f"import os; os.system({touch!r})")) + REDUCE)
    nested = (EMPTY_DICT + MARK + ustr("layers") + EMPTY_LIST + MARK + integer(1) +
              EMPTY_DICT + ustr("cfg") + tup(ustr("a"), call("posix", "system", ustr(touch))) +
              SETITEM + APPENDS + SETITEMS)
    return {
        "os_system": (with_payload(call("os", "system", ustr(touch))), "os.system"),
        "posix_system": (with_payload(call("posix", "system", ustr(touch))), "posix.system"),
        "builtins_eval": (with_payload(call("builtins", "eval",
                                            ustr(f"__import__('os').system({touch!r})"))),
                          "builtins.eval"),
        "builtin_py2_eval": (with_payload(call("__builtin__", "eval",
                                               ustr(f"__import__('os').system({touch!r})"))),
                             "__builtin__.eval"),
        "subprocess_popen": (with_payload(call("subprocess", "Popen",
                                               EMPTY_LIST + MARK + ustr("touch") + ustr(marker) +
                                               APPENDS)), "subprocess.Popen"),
        "getattr_chain": (with_payload(getattr_chain), "builtins.getattr"),
        "getattr_exec": (with_payload(exec_chain), "builtins.getattr"),
        "nested_container": (lambda legacy: state_dict([honest(legacy), ("model", nested)]),
                             "posix.system"),
        # The same call reached through other opcodes than GLOBAL + REDUCE.
        "stack_global": (with_payload(short_ustr("posix") + MEMOIZE + short_ustr("system") +
                                      MEMOIZE + STACK_GLOBAL + tup(ustr(touch)) + REDUCE),
                         "posix.system"),
        "inst_opcode": (with_payload(MARK + ustr(touch) + b"iposix\nsystem\n"), "posix.system"),
        "obj_opcode": (with_payload(MARK + glob("posix", "system") + ustr(touch) + b"o"),
                       "posix.system"),
        # The storage class in a tensor's persistent id is a call.
        "persid_global": (lambda legacy: state_dict([honest(legacy),
                                                     ("x", persid_call(touch, legacy))]),
                          "posix.system"),
        # BUILD on an allowed object with a callable hidden in its state.
        "build_state": (lambda legacy: call("collections", "OrderedDict") + EMPTY_DICT +
                        ustr("x") + call("posix", "system", ustr(touch)) + SETITEM + BUILD,
                        "posix.system"),
        # An allowed name under a module that only looks like torch's.
        "lookalike_module": (with_payload(call("torch._utils.os", "system", ustr(touch))),
                             "torch._utils.os.system"),
    }


def hostile(marker_for):
    """{file name: (bytes, global owl must name)} for every payload in both containers."""
    out = {}
    for name in payloads("unused"):
        body, refused = payloads(marker_for(name))[name]
        out[f"{name}.zip.pt"] = (zip_checkpoint(pickle_of(body(False)), [("0", FLOATS6)]),
                                 refused)
        out[f"{name}.legacy.pt"] = (legacy_checkpoint(pickle_of(body(True)),
                                                      [("0", 6, FLOATS6)]), refused)
    # The legacy header's own pickles are pickles too.
    touch = f"touch {marker_for('legacy_magic')}"
    out["legacy_magic.legacy.pt"] = (legacy_checkpoint(
        pickle_of(state_dict([("w", tensor("FloatStorage", "0", 6, 0, [6], [1], True))])),
        [("0", 6, FLOATS6)], magic_pickle=pickle_of(call("posix", "system", ustr(touch)))),
        "posix.system")
    return out


# --- broken containers and hostile structure ------------------------------------------------

def honest_zip(items, storages):
    return zip_checkpoint(pickle_of(state_dict(items)), storages)


def broken():
    """{file name: bytes} that owl must refuse with an input error, no global involved. A few
    are pickles Python itself would read (a memo index far beyond the memo's size, a bare int):
    owl refuses them as over its memo limit and as holding no tensor."""
    f32 = lambda key, numel, off, size, stride: tensor("FloatStorage", key, numel, off, size,
                                                       stride)
    valid = honest_zip([("w", f32("0", 6, 0, [2, 3], [3, 1]))], [("0", FLOATS6)])
    valid_legacy = legacy_checkpoint(pickle_of(state_dict(
        [("w", tensor("FloatStorage", "0", 6, 0, [2, 3], [3, 1], True))])), [("0", 6, FLOATS6)])
    deep_marks = PROTO2 + MARK * 100_000 + NONE + STOP
    deep_lists = PROTO2 + MARK * 100_000 + LIST * 100_000 + STOP
    deep_dicts = (PROTO2 + ustr("k") + binput(0) + (EMPTY_DICT + binget(0)) * 100_000 + NONE +
                  SETITEM * 100_000 + STOP)
    deep_tuples = PROTO2 + EMPTY_TUPLE + TUPLE1 * 100_000 + STOP
    deep_appends = PROTO2 + EMPTY_LIST * 100_000 + APPEND * 99_999 + STOP
    # DUP + TUPLE3 with no memo: each step triples the tree a walk sees (3^40 leaves from 120
    # bytes), and each int leaf would become a metadata entry.
    shared_tuples = (PROTO2 + EMPTY_DICT + ustr("w") + integer(1) + (DUP + DUP + TUPLE3) * 40 +
                     SETITEM + STOP)
    self_list = PROTO2 + EMPTY_LIST + binput(0) + binget(0) + APPEND + STOP
    self_dict = (PROTO2 + EMPTY_DICT + binput(0) + ustr("model") + binget(0) + SETITEM + STOP)
    return {
        # Not checkpoints at all: recognised by magic bytes, never the extension.
        "7z_archive.bin": b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(range(256)) * 4,
        "random_bytes.bin": bytes((i * 7919 + 13) % 251 for i in range(4096)),
        "empty.bin": b"",
        "text.pt": b"version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n",
        "zip_not_checkpoint.pt": zip_archive([("hello.txt", b"hello\n"),
                                              ("dir/readme.md", b"# not a model\n")]),
        # Sizes and views that disagree with the bytes there are.
        "storage_short.zip.pt": honest_zip([("w", f32("0", 24, 0, [4, 6], [6, 1]))],
                                           [("0", FLOATS6)]),
        "storage_long.zip.pt": honest_zip([("w", f32("0", 6, 0, [2, 3], [3, 1]))],
                                          [("0", FLOATS6 * 4)]),
        "storage_short.legacy.pt": legacy_checkpoint(pickle_of(state_dict(
            [("w", tensor("FloatStorage", "0", 24, 0, [24], [1], True))])), [("0", 6, FLOATS6)]),
        "storage_record_short.legacy.pt": legacy_checkpoint(pickle_of(state_dict(
            [("w", tensor("FloatStorage", "0", 6, 0, [6], [1], True))])), [("0", 24, FLOATS6)]),
        "view_past_end.zip.pt": honest_zip([("w", f32("0", 6, 4, [4], [1]))], [("0", FLOATS6)]),
        "view_stride_past_end.zip.pt": honest_zip([("w", f32("0", 6, 0, [2, 2], [1, 5]))],
                                                  [("0", FLOATS6)]),
        "view_huge_stride.zip.pt": honest_zip([("w", f32("0", 6, 0, [2, 2], [1, 1 << 62]))],
                                              [("0", FLOATS6)]),
        "view_numel_overflow.zip.pt": honest_zip(
            [("w", f32("0", 6, 0, [1 << 32, 1 << 32, 1 << 32], [0, 0, 0]))], [("0", FLOATS6)]),
        "view_negative_size.zip.pt": honest_zip([("w", f32("0", 6, 0, [-1], [1]))],
                                                [("0", FLOATS6)]),
        "view_negative_offset.zip.pt": honest_zip([("w", f32("0", 6, -2, [2], [1]))],
                                                  [("0", FLOATS6)]),
        "view_negative_stride.zip.pt": honest_zip([("w", f32("0", 6, 5, [3], [-1]))],
                                                  [("0", FLOATS6)]),
        "storage_numel_overflow.zip.pt": honest_zip([("w", f32("0", 1 << 62, 0, [6], [1]))],
                                                    [("0", FLOATS6)]),
        "missing_storage.zip.pt": honest_zip([("w", f32("7", 6, 0, [6], [1]))], [("0", FLOATS6)]),
        "storage_key_traversal.zip.pt": honest_zip([("w", f32("../../version", 6, 0, [6], [1]))],
                                                   [("0", FLOATS6)]),
        "zip_entry_size_lies.zip.pt": zip_checkpoint(
            pickle_of(state_dict([("w", f32("0", 6, 0, [6], [1]))])), [("0", FLOATS6)],
            declared_sizes={"data/0": 1 << 31}),
        "zip_cd_offset_past_end.zip.pt": _cd_offset(valid, 1 << 30),
        "zip_eocd_counts_lie.zip.pt": _eocd_count(valid, 0xFFFF),
        # Truncated at every layer.
        "truncated_half.zip.pt": valid[: len(valid) // 2],
        "truncated_tail.zip.pt": valid[:-5],
        "truncated_half.legacy.pt": valid_legacy[: len(valid_legacy) // 2],
        "truncated_storage.legacy.pt": valid_legacy[:-3],
        "truncated_pickle.zip.pt": zip_checkpoint(
            pickle_of(state_dict([("w", f32("0", 6, 0, [6], [1]))]))[:-20], [("0", FLOATS6)]),
        "truncated_string.zip.pt": zip_checkpoint(PROTO2 + b"X" + struct.pack("<I", 0xFFFFFFF0) +
                                                  b"abc", [("0", FLOATS6)]),
        "truncated_long4.zip.pt": zip_checkpoint(PROTO2 + b"\x8b" + struct.pack("<i", 0x7FFFFFFF) +
                                                 b"\x01", []),
        "no_stop.zip.pt": zip_checkpoint(PROTO2 + EMPTY_DICT, []),
        # The unpickler's own limits.
        "deep_marks.zip.pt": zip_checkpoint(deep_marks, []),
        "deep_lists.zip.pt": zip_checkpoint(deep_lists, []),
        "deep_dicts.zip.pt": zip_checkpoint(deep_dicts, []),
        "deep_tuples.zip.pt": zip_checkpoint(deep_tuples, []),
        "deep_appends.zip.pt": zip_checkpoint(deep_appends, []),
        "deep_lists.legacy.pt": legacy_checkpoint(deep_lists, []),
        "huge_memo_put.zip.pt": zip_checkpoint(PROTO2 + EMPTY_DICT + b"r" +
                                               struct.pack("<I", 0xFFFFFFFF) + STOP, []),
        "huge_memo_get.zip.pt": zip_checkpoint(PROTO2 + b"j" + struct.pack("<I", 0xFFFFFFF0) +
                                               STOP, []),
        "memo_get_unset.zip.pt": zip_checkpoint(PROTO2 + binget(3) + STOP, []),
        "shared_tuples.zip.pt": zip_checkpoint(shared_tuples, []),
        "shared_tuples.legacy.pt": legacy_checkpoint(shared_tuples, []),
        "self_list.zip.pt": zip_checkpoint(self_list, []),
        "self_dict.zip.pt": zip_checkpoint(self_dict, []),
        "stack_underflow.zip.pt": zip_checkpoint(PROTO2 + SETITEMS + STOP, []),
        "unknown_opcode.zip.pt": zip_checkpoint(PROTO2 + b"\xff" + STOP, []),
        "bad_protocol.zip.pt": zip_checkpoint(b"\x80\x09" + EMPTY_DICT + STOP, []),
        "not_a_dict.zip.pt": zip_checkpoint(pickle_of(integer(42)), []),
    }


def _cd_offset(zip_bytes, offset):
    eocd = zip_bytes.rfind(b"PK\x05\x06")
    return zip_bytes[:eocd + 16] + struct.pack("<I", offset) + zip_bytes[eocd + 20:]


def _eocd_count(zip_bytes, count):
    eocd = zip_bytes.rfind(b"PK\x05\x06")
    return zip_bytes[:eocd + 8] + struct.pack("<HH", count, count) + zip_bytes[eocd + 12:]


def payload_of(file_name):
    """The payload name a hostile file's marker is made from: "posix_system.zip.pt" ->
    "posix_system"."""
    return file_name.split(".")[0]


def default_marker(name):
    return f"/tmp/owl_pwned_{name}"


def build_all(marker_for=default_marker):
    """{file name: (bytes, global owl must name or None)}."""
    files = {name: (data, refused) for name, (data, refused) in hostile(marker_for).items()}
    files.update({name: (data, None) for name, data in broken().items()})
    return files


# Files larger than this (the 100k-deep nestings) are left out of the committed folder to keep
# it small; the tests build every file afresh with build_all().
COMMIT_MAX_BYTES = 64 * 1024


def main():
    OUT.mkdir(exist_ok=True)
    for old in OUT.iterdir():
        old.unlink()
    for name, (data, _) in sorted(build_all().items()):
        if len(data) <= COMMIT_MAX_BYTES:
            (OUT / name).write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
