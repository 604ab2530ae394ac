"""The provenance record (issue 14), on by default: a Hugging Face folder quantized to Q4_K_M carries it (input
SHA-256s checked with hashlib, tensor xxh3-128s with the xxhash package, keys read with gguf-py
and the safetensors package); `owl verify` passes on it, names the one tensor whose byte was
flipped, re-derives the file bit for bit from its source, and names the output tensors that
depend on a changed source tensor. The tensor data stay llama-quantize's, byte for byte. An
importance matrix is recorded by its path and SHA-256."""

import hashlib
import json
import shutil
import struct
import subprocess
import sys

import pytest
import xxhash
from safetensors import safe_open

import gguf_util as gu

SYNTH = gu.REPO.parent / "shared" / "tools" / "make_synth_llama.py"
SHAPE = ["--hidden", "256", "--layers", "2", "--ffn", "512", "--heads", "4", "--kv", "1",
         "--vocab", "512", "--dtype", "f16"]
COMMIT = "0123456789abcdef0123456789abcdef01234567"
RECORD_MISMATCH, NOT_REPRODUCED = 3, 4


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def record(path):
    """The owl.provenance.* keys of a GGUF, as gguf-py reads them."""
    meta = gu.metadata(path)
    return {k[len("owl.provenance."):]: e.value for k, e in meta.items()
            if k.startswith("owl.provenance.")}


@pytest.fixture(scope="module")
def work(owl, tmp_path_factory):
    """A model in a Hugging Face cache layout, and its Q4_K_M."""
    tmp = tmp_path_factory.mktemp("prov")
    snap = tmp / "hub" / "models--TestOrg--tiny" / "snapshots" / COMMIT
    subprocess.run([sys.executable, str(SYNTH), str(snap), *SHAPE], check=True,
                   capture_output=True)
    out = tmp / "tiny.Q4_K_M.gguf"
    r = owl("quantize", snap, "-o", out, "-t", "Q4_K_M", "--quiet")
    assert r.returncode == 0, r.describe()
    return {"tmp": tmp, "snap": snap, "q4": out}


def test_quantized_file_carries_the_record(work):
    rec = record(work["q4"])
    assert rec["command"] == "quantize"
    assert json.loads(rec["options"]) == ["--type=Q4_K_M"]
    assert rec["hf_repo"] == "TestOrg/tiny" and rec["hf_commit"] == COMMIT
    assert rec["relation"] == "quantized"
    inputs = {f["name"]: f for f in json.loads(rec["inputs"])}
    assert "model.safetensors" in inputs and "config.json" in inputs
    for name, f in inputs.items():
        assert f["sha256"] == sha256(work["snap"] / name), name
        assert f["size"] == (work["snap"] / name).stat().st_size
    hashes = json.loads(rec["tensors_xxh3"])
    tensors = gu.tensors(work["q4"])
    assert list(hashes) == list(tensors)
    for name, t in tensors.items():
        assert hashes[name] == xxhash.xxh3_128_hexdigest(t.data), name
    digest = hashlib.sha256(b"".join(n.encode() + b"\0" + h.encode() + b"\n"
                                     for n, h in hashes.items())).hexdigest()
    assert rec["tensors_digest"] == digest
    manifest = json.loads(work["q4"].with_name(work["q4"].name + ".manifest.json").read_text())
    assert manifest["provenance"]["hf_repo"] == "TestOrg/tiny"
    assert {f["path"]: f["sha256"] for f in manifest["provenance"]["inputs"]} == {
        n: f["sha256"] for n, f in inputs.items()}
    assert {t["name"]: t["xxh3_128"] for t in manifest["tensors"]} == hashes


def test_tensor_data_are_llama_quantizes(owl, work):
    f16 = gu.convert(owl, work["snap"], work["tmp"] / "f16.gguf", "--no-provenance")
    assert not record(f16)
    assert not (work["tmp"] / "f16.gguf.manifest.json").exists()
    want = gu.tensors(gu.llama_quantize(f16, work["tmp"] / "llama.gguf", "Q4_K_M"))
    got = gu.tensors(work["q4"])
    assert list(got) == list(want)
    for name in want:
        assert (got[name].type, got[name].data) == (want[name].type, want[name].data), name


def test_the_record_is_deterministic(owl, work, tmp_path):
    again = tmp_path / "again.gguf"
    r = owl("quantize", work["snap"], "-o", again, "-t", "Q4_K_M", "--quiet", "--threads", "1")
    assert r.returncode == 0, r.describe()
    assert again.read_bytes() == work["q4"].read_bytes()


def test_verify_passes_and_prints_the_lineage(owl, work):
    r = owl("verify", work["q4"])
    assert r.returncode == 0, r.describe()
    assert "TestOrg/tiny" in r.stdout and COMMIT in r.stdout
    r = owl("verify", work["q4"], "--source", work["snap"], "--json")
    assert r.returncode == 0, r.describe()
    report = json.loads(r.stdout)
    assert report["ok"] and report["source"]["ok"] and report["record"]["tensors"] > 0


def test_a_flipped_byte_names_its_tensor(owl, work, tmp_path):
    bad = tmp_path / "bad.gguf"
    shutil.copy(work["q4"], bad)
    t = gu.tensors(bad)["blk.1.ffn_down.weight"]
    data = bytearray(bad.read_bytes())
    data[t.offset + 100] ^= 0x01
    bad.write_bytes(bytes(data))
    r = owl("verify", bad, "--json")
    assert r.returncode == RECORD_MISMATCH, r.describe()
    assert json.loads(r.stdout)["record"]["differ"] == ["blk.1.ffn_down.weight"]


def test_a_changed_source_byte_names_the_dependent_tensors(owl, work, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(work["snap"], src)
    weights = src / "model.safetensors"
    with safe_open(str(weights), "np") as f:
        assert "model.layers.0.mlp.up_proj.weight" in f.keys()
    # The byte sits in the header's data section: find the tensor's offsets in the header.
    raw = bytearray(weights.read_bytes())
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    begin, _ = header["model.layers.0.mlp.up_proj.weight"]["data_offsets"]
    raw[8 + n + begin + 1] ^= 0x40  # the high byte of the first f16: a different value
    weights.write_bytes(bytes(raw))
    r = owl("verify", work["q4"], "--source", src, "--json")
    assert r.returncode == NOT_REPRODUCED, r.describe()
    report = json.loads(r.stdout)
    assert report["record"]["ok"]
    assert report["source"]["differ"] == ["blk.0.ffn_up.weight"]
    assert report["source"]["inputs_differ"] == ["model.safetensors"]


def test_safetensors_record_in_metadata(owl, work, tmp_path):
    out = tmp_path / "model.safetensors"
    r = owl("convert", work["snap"], "-o", out, "--dtype", "bf16", "--quiet")
    assert r.returncode == 0, r.describe()
    with safe_open(str(out), "np") as f:
        meta = f.metadata()
        hashes = json.loads(meta["owl.provenance.tensors_xxh3"])
        for name in f.keys():
            assert name in hashes
    assert meta["owl.provenance.command"] == "convert"
    assert json.loads(meta["owl.provenance.options"]) == ["--dtype=bf16"]
    r = owl("verify", out, "--source", work["snap"])
    assert r.returncode == 0, r.describe()


def test_no_provenance_removes_the_manifest_an_earlier_run_left(owl, work, tmp_path):
    """The manifest beside a file describes that file: a run that replaces the file without a
    record removes the earlier run's, and says so."""
    out = tmp_path / "replaced.gguf"
    manifest = out.with_name(out.name + ".manifest.json")
    r = owl("convert", work["snap"], "-o", out, "--quiet")
    assert r.returncode == 0, r.describe()
    assert manifest.exists()
    r = owl("convert", work["snap"], "-o", out, "--no-provenance")
    assert r.returncode == 0, r.describe()
    assert not manifest.exists()
    assert f"removed {manifest}" in r.stderr
    assert not record(out)


def test_a_file_without_a_record_is_an_input_error(owl, work, tmp_path):
    plain = gu.convert(owl, work["snap"], tmp_path / "plain.gguf", "--no-provenance")
    r = owl("verify", plain)
    assert r.returncode == 2 and "no owl provenance record" in r.stderr


def write_dat_imatrix(path, tensors):
    """llama-imatrix's legacy .dat: weights of one for every 2-D tensor (its input width)."""
    rows = [(name, t.shape[-1]) for name, t in tensors.items() if len(t.shape) == 2]
    out = [struct.pack("<i", len(rows))]
    for name, width in rows:
        out += [struct.pack("<i", len(name)), name.encode(), struct.pack("<ii", 1, width),
                struct.pack(f"<{width}f", *([1.0] * width))]
    out += [struct.pack("<ii", 1, len("story.txt")), b"story.txt"]
    path.write_bytes(b"".join(out))
    return path


def test_an_imatrix_is_recorded_with_its_sha256(owl, work, tmp_path):
    imatrix = write_dat_imatrix(tmp_path / "imatrix.dat", gu.tensors(work["q4"]))
    out = tmp_path / "q4-imatrix.gguf"
    r = owl("quantize", work["snap"], "-o", out, "-t", "Q4_K_M", "--imatrix", imatrix, "--quiet")
    assert r.returncode == 0, r.describe()
    rec = record(out)
    assert f"--imatrix={imatrix}" in json.loads(rec["options"])
    inputs = {f["name"]: f for f in json.loads(rec["inputs"])}
    assert inputs[str(imatrix)]["sha256"] == sha256(imatrix)
    assert inputs[str(imatrix)]["size"] == imatrix.stat().st_size
    r = owl("verify", out, "--source", work["snap"])
    assert r.returncode == 0, r.describe()
