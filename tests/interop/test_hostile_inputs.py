"""Hostile inputs, one test per class of attack, at the CLI: one `owl: error:` line, exit 2 (or 64
for a request that cannot be carried out), no output left behind, the input unchanged, and time
and memory bounded by the file's size rather than by what it claims.

The classes: JSON nested to overflow the stack, GGUF arrays that would cost far more memory
than they weigh, an alignment that pads a 10 KB file to gigabytes, escape sequences and invalid
UTF-8 aimed at the terminal, outputs that would replace their own inputs, nested arrays llama.cpp
cannot load, and temporaries left by killed runs."""

import base64
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import gguf_util as gu
import stutil as su

VT, QT = gu.VT, gu.QT
DEPTH = 100_000  # ~200 KB of brackets: enough to overflow any recursive walk of the tree


def run_measured(owl_bin, *args, timeout=60):
    """Runs owl in a child process; returns (returncode, stdout, stderr, seconds, peak RSS MB)."""
    argv = [str(owl_bin)] + [str(a) for a in args]
    code = ("import resource, subprocess, sys, time\n"
            "t = time.monotonic()\n"
            "p = subprocess.run(sys.argv[1:], capture_output=True, stdin=subprocess.DEVNULL)\n"
            "dt = time.monotonic() - t\n"
            "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
            "sys.stdout.buffer.write(repr((p.returncode, p.stdout, p.stderr, dt, rss)).encode())\n")
    out = subprocess.run([sys.executable, "-c", code] + argv, capture_output=True, timeout=timeout)
    return eval(out.stdout.decode())  # noqa: S307 - our own repr of a tuple of bytes and numbers


def save_st(path, arrays):
    """A safetensors file written by the reference package."""
    from safetensors.numpy import save_file
    save_file(arrays, str(path))


def assert_refused(r, exit_code, *words):
    """One error line naming what is wrong, the given exit code."""
    assert r.returncode == exit_code, r.describe()
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("owl: error: "), r.describe()
    for w in words:
        assert w in lines[0], r.describe()


def deep_json(depth=DEPTH, opener="[", closer="]"):
    return opener * depth + closer * depth


# --- 1. deeply nested JSON ------------------------------------------------------------------

@pytest.mark.parametrize("file,content", [
    ("config.json", lambda: '{"architectures": ["LlamaForCausalLM"], "x": ' + deep_json() + "}"),
    ("tokenizer.json", lambda: '{"model": ' + deep_json(DEPTH, '{"a":', "}").replace(
        '{"a":}', '{"a":1}') + "}"),
    ("tokenizer_config.json", lambda: '{"chat_template": ' + deep_json() + "}"),
])
def test_deep_json_in_a_model_folder_is_refused(owl, tmp_path, out_dir, file, content):
    folder = gu.hf_copy("tiny-llama3", tmp_path)  # it has all three files
    (folder / file).write_text(content())
    before = su.dir_snapshot(folder)
    out = out_dir / "m.gguf"
    t = time.monotonic()
    r = owl("convert", folder, "-o", out)
    assert time.monotonic() - t < 20
    assert_refused(r, 2, file, "nests")
    assert not any(out_dir.iterdir())
    assert su.dir_snapshot(folder) == before


def test_deep_json_in_safetensors_metadata_is_refused(owl, in_dir):
    path = in_dir / "m.safetensors"
    header = ('{"__metadata__": {"a": ' + deep_json() + '}, "t": {"dtype": "F32", "shape": [1], '
              '"data_offsets": [0, 4]}}').encode()
    path.write_bytes(len(header).to_bytes(8, "little") + header + bytes(4))
    r = owl("inspect", path)
    assert_refused(r, 2, "m.safetensors", "nests")


def test_deep_json_in_an_index_is_refused(owl, in_dir):
    save_st(in_dir / "a.safetensors", {"t": np.zeros(2, np.float32)})
    index = in_dir / "model.safetensors.index.json"
    index.write_text('{"metadata": ' + deep_json() + ', "weight_map": {"t": "a.safetensors"}}')
    r = owl("inspect", index)
    assert_refused(r, 2, "index.json", "nests")


def test_moderate_nesting_still_reads(owl, in_dir):
    """The limit is far above what real files nest: 40 levels of __metadata__-free JSON in an
    index's metadata are read."""
    save_st(in_dir / "a.safetensors", {"t": np.zeros(2, np.float32)})
    index = in_dir / "model.safetensors.index.json"
    index.write_text('{"metadata": ' + deep_json(40) + ', "weight_map": {"t": "a.safetensors"}}')
    r = owl("inspect", index)
    assert r.returncode == 0, r.describe()


# --- 2. sharded safetensors with short names (the use-after-free's shape) -------------------

def test_many_shards_of_short_names_read_and_duplicates_are_named(owl, in_dir):
    weight_map = {}
    for s in range(4):
        name = f"s{s}.safetensors"
        tensors = {f"t{s}_{i}": np.full(2, s * 100 + i, np.float32) for i in range(40)}
        save_st(in_dir / name, tensors)
        weight_map.update({k: name for k in tensors})
    index = in_dir / "model.safetensors.index.json"
    index.write_text(json.dumps({"weight_map": weight_map}))
    desc = su.inspect(owl, index)
    assert sorted(t["name"] for t in desc["tensors"]) == sorted(weight_map)
    # A name in two shards is refused, naming it.
    save_st(in_dir / "s3.safetensors", {"t0_5": np.zeros(2, np.float32)})
    weight_map = {k: v for k, v in weight_map.items() if not k.startswith("t3_")}
    weight_map["t0_5"] = "s3.safetensors"
    index.write_text(json.dumps({"weight_map": weight_map}))
    r = owl("inspect", index)
    assert r.returncode == 2 and "t0_5" in r.stderr, r.describe()


# --- 3. memory amplification from GGUF arrays -----------------------------------------------

def big_array_gguf(path, n):
    """A GGUF with one u8 array of n elements, written without building n Python objects."""
    b = gu.GGUFBuilder()
    b.add("general.architecture", VT.STRING, "llama")
    b.kv.append(gu.enc_string("test.blob") + (int(VT.ARRAY)).to_bytes(4, "little") +
                (int(VT.UINT8)).to_bytes(4, "little") + n.to_bytes(8, "little") + bytes(n))
    b.add_tensor("t", [4], QT.F32)
    return b.write(path)


def test_a_20MB_array_costs_about_what_it_weighs(owl, in_dir):
    n = 20_000_000
    path = big_array_gguf(in_dir / "big.gguf", n)
    code, out, err, seconds, rss_mb = run_measured(owl.binary, "inspect", path)
    assert code == 0, err
    assert b"(20000000 u8)" in out
    # The array is 20 MB; the mapped file adds as much again. Before: 3 GB and 79 s.
    assert rss_mb < 150, f"peak RSS {rss_mb:.0f} MB"
    assert seconds < 10, f"{seconds:.1f} s"


def test_an_array_claiming_more_than_the_file_holds_is_refused_early(owl, in_dir):
    b = gu.GGUFBuilder()
    b.kv.append(gu.enc_string("test.lie") + (int(VT.ARRAY)).to_bytes(4, "little") +
                (int(VT.UINT32)).to_bytes(4, "little") + (1 << 40).to_bytes(8, "little") + bytes(64))
    path = b.write(in_dir / "lie.gguf")
    code, out, err, seconds, rss_mb = run_measured(owl.binary, "inspect", path)
    assert code == 2 and b"test.lie" in err and b"more than the file can hold" in err, err
    assert rss_mb < 50


def test_json_of_a_big_array_is_compact_and_complete(owl, in_dir):
    n = 2_000_000
    path = big_array_gguf(in_dir / "big.gguf", n)
    code, out, err, seconds, rss_mb = run_measured(owl.binary, "inspect", path, "--json")
    assert code == 0, err
    meta = su.metadata_map(json.loads(out))
    assert su.value_of(meta["test.blob"]) == [0] * n
    assert rss_mb < 400, f"peak RSS {rss_mb:.0f} MB for a 2 MB array"


# --- 4. alignment ---------------------------------------------------------------------------

@pytest.mark.parametrize("alignment", [1 << 31, 1 << 17, 48])
def test_an_absurd_alignment_is_refused_naming_the_key(owl, in_dir, out_dir, alignment):
    b = gu.GGUFBuilder()
    b.add("general.architecture", VT.STRING, "llama")
    b.add("general.alignment", VT.UINT32, alignment)
    path = b.write(in_dir / "a.gguf")  # no tensors: the data section is empty
    before = path.read_bytes()
    r = owl("convert", path, "-o", out_dir / "b.gguf")
    assert_refused(r, 2, "a.gguf", "general.alignment")
    assert not any(out_dir.iterdir())
    assert path.read_bytes() == before


def test_a_page_alignment_is_kept(owl, in_dir, out_dir):
    b = gu.GGUFBuilder(alignment=4096)
    b.add("general.alignment", VT.UINT32, 4096)
    b.add_tensor("t", [8], QT.F32)
    path = b.write(in_dir / "a.gguf")
    out = gu.convert(owl, path, out_dir / "b.gguf")
    assert out.read_bytes() == path.read_bytes()


# --- 5. terminal injection ------------------------------------------------------------------

NASTY_KEY = b"test.\x1b[2Jclear"
NASTY_VALUE = b"line one\rover\nwritten \x1b]0;title\x07 \x9b31m \xff\xfe bidi\xe2\x80\xaeevil"
NASTY_NAME = b"w\x1b[31m\xc3"  # a colour code and a cut UTF-8 sequence


def nasty_gguf(path):
    b = gu.GGUFBuilder()
    b.kv.append(gu.enc_string(NASTY_KEY) + (int(VT.STRING)).to_bytes(4, "little") +
                gu.enc_string(NASTY_VALUE))
    b.add_tensor(NASTY_NAME, [4], QT.F32)
    return b.write(path)


def test_inspect_escapes_what_would_reach_the_terminal(owl_bin, in_dir):
    path = nasty_gguf(in_dir / "n.gguf")
    p = subprocess.run([str(owl_bin), "inspect", str(path)], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    for bad in (b"\x1b", b"\r", b"\x07", b"\x9b", b"\xc2\x9b", b"\xff", b"\xe2\x80\xae"):
        assert bad not in out, (bad, out)
    text = out.decode("utf-8")  # all of it is valid UTF-8 now
    assert "test.\\x1b[2Jclear" in text and "\\u{202e}" in text and "w\\x1b[31m\\xc3" in text


def test_inspect_json_keeps_every_byte(owl, in_dir):
    path = nasty_gguf(in_dir / "n.gguf")
    r = owl("inspect", path, "--json")
    assert r.returncode == 0 and r.stderr == "", r.describe()
    desc = json.loads(r.stdout)
    [entry] = desc["metadata"]
    # The key is valid UTF-8 (escape sequences are), the value is not: it comes as bytes.
    assert entry["key"].encode() == NASTY_KEY
    assert base64.b64decode(entry["value"]["bytes_value"]) == NASTY_VALUE
    [t] = desc["tensors"]
    assert base64.b64decode(t["name_bytes"]) == NASTY_NAME and "name" not in t


def test_errors_quoting_hostile_names_are_escaped_and_exit_2(owl, in_dir, out_dir):
    path = nasty_gguf(in_dir / "n.gguf")  # no architecture: cannot go back to Hugging Face
    r = owl("convert", path, "-o", out_dir / "m.safetensors")
    assert_refused(r, 2, "n.gguf", "general.architecture")
    b = gu.GGUFBuilder()
    b.add("general.architecture", VT.STRING, "\x1b[2J\rfalcon")
    r = owl("convert", b.write(in_dir / "f.gguf"), "-o", out_dir / "m.safetensors")
    assert_refused(r, 2, "f.gguf", "general.architecture", "\\x1b[2J\\rfalcon")
    assert "\x1b" not in r.stderr and "\r" not in r.stderr
    assert not any(out_dir.iterdir())


# --- 6. outputs that would replace their inputs ---------------------------------------------

def split_model(owl, folder):
    src = gu.write_gguf_py_sample(folder / "src.gguf")
    gu.convert(owl, src, folder / "m.gguf", "--split-max-tensors", "2")
    src.unlink()
    return sorted(folder.glob("m-*.gguf"))


def test_a_split_model_cannot_be_split_onto_its_own_parts(owl, in_dir):
    parts = split_model(owl, in_dir)
    assert len(parts) > 1
    before = su.dir_snapshot(in_dir)
    r = owl("convert", parts[0], "-o", in_dir / "m.gguf", "--split-max-tensors", "2")
    assert_refused(r, 64, "m-00001-of-", "being read")
    assert su.dir_snapshot(in_dir) == before


def test_a_hard_link_to_an_input_is_the_input(owl, in_dir, out_dir):
    parts = split_model(owl, in_dir)
    os.link(parts[1], out_dir / ("x-00002-of-%05d.gguf" % len(parts)))
    before = su.dir_snapshot(in_dir)
    r = owl("convert", parts[0], "-o", out_dir / "x.gguf", "--split-max-tensors", "2")
    assert_refused(r, 64, "x-00002-of-", "being read")
    assert su.dir_snapshot(in_dir) == before
    assert sorted(p.name for p in out_dir.iterdir()) == ["x-00002-of-%05d.gguf" % len(parts)]


def test_a_sharded_folder_cannot_be_resharded_onto_itself(owl, tmp_path):
    folder = tmp_path / "st"
    folder.mkdir()
    tensors = {f"t{i}": np.full(64, i, np.float32) for i in range(6)}
    save_st(tmp_path / "one.safetensors", tensors)
    gu.convert(owl, tmp_path / "one.safetensors", folder / "model.safetensors", "--shard-size", "600")
    assert (folder / "model.safetensors.index.json").exists()
    before = su.dir_snapshot(folder)
    r = owl("convert", folder / "model.safetensors.index.json", "-o", folder / "model.safetensors",
            "--shard-size", "300")
    assert_refused(r, 64, "being read")
    assert su.dir_snapshot(folder) == before


def test_a_config_json_already_in_the_output_folder_is_replaced_with_a_note(owl, tmp_path, out_dir):
    gguf = gu.convert(owl, gu.hf_copy("tiny-llama", tmp_path), tmp_path / "t.gguf")
    (out_dir / "config.json").write_text("{}")
    r = owl("convert", gguf, "-o", out_dir / "model.safetensors")
    assert r.returncode == 0, r.describe()
    assert "config.json" in r.stderr and "replaced" in r.stderr
    assert json.loads((out_dir / "config.json").read_text())


# --- 7. exit codes for what the input holds -------------------------------------------------

def test_nested_arrays_are_an_input_error_naming_the_key(owl, in_dir, out_dir):
    b = gu.GGUFBuilder()
    b.add("test.nested", VT.ARRAY, (VT.ARRAY, [(VT.UINT8, [1, 2]), (VT.UINT8, [3])]))
    path = b.write(in_dir / "n.gguf")
    r = owl("inspect", path)  # readable: shown as it is
    assert r.returncode == 0 and "test.nested" in r.stdout, r.describe()
    r = owl("convert", path, "-o", out_dir / "o.gguf")
    assert_refused(r, 2, "n.gguf", "test.nested", "nested arrays")
    assert not any(out_dir.iterdir())


# --- 8. leftovers of killed runs ------------------------------------------------------------

def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_a_dead_runs_temporaries_are_removed_and_said(owl, in_dir, out_dir):
    src = gu.write_gguf_py_sample(in_dir / "s.gguf")
    host = socket.gethostname()
    dead = out_dir / f".o.gguf.{dead_pid()}-0badf00d@{host}.owl-tmp"
    dead.write_bytes(bytes(1000))
    alive = out_dir / f".o.gguf.{os.getpid()}-0badf00d@{host}.owl-tmp"  # this test is alive
    alive.write_bytes(b"x")
    elsewhere = out_dir / f".o.gguf.{dead_pid()}-0badf00d@another-{host}.owl-tmp"
    elsewhere.write_bytes(b"x")
    r = owl("convert", src, "-o", out_dir / "o.gguf")
    assert r.returncode == 0, r.describe()
    assert not dead.exists()
    assert alive.exists() and elsewhere.exists()
    assert dead.name in r.stderr and "1000 bytes" in r.stderr


def test_kill_9_leaves_a_temporary_that_the_next_run_removes(owl_bin, owl, in_dir, out_dir):
    # Big enough that the writer is still busy when it is killed.
    b = gu.GGUFBuilder()
    for i in range(8):
        b.add_tensor(f"t{i}", [1 << 22], QT.F32, data=bytes(16 << 20))
    src = b.write(in_dir / "big.gguf")
    p = subprocess.Popen([str(owl_bin), "convert", str(src), "-o", str(out_dir / "o.gguf"),
                          "--dtype", "f16", "-q"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not list(out_dir.glob(".*.owl-tmp")):
        time.sleep(0.005)
    p.send_signal(signal.SIGKILL)
    p.wait()
    left = list(out_dir.glob(".*.owl-tmp"))
    if not left:
        pytest.skip("the conversion finished before it could be killed")
    r = owl("convert", gu.write_gguf_py_sample(in_dir / "s.gguf"), "-o", out_dir / "o.gguf")
    assert r.returncode == 0, r.describe()
    assert not list(out_dir.glob(".*.owl-tmp"))
    assert "removed" in r.stderr and left[0].name in r.stderr
