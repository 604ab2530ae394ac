"""PyTorch checkpoints written by real torch (tests/data/pytorch/, see make_fixtures.py there):
owl reads both the zip and the legacy format and its output holds exactly the bytes torch holds
(tensor.contiguous()), under the flattened names, for every dtype, views, shared storages,
parameters, module state dicts and nested dicts; non-tensor values become metadata; a sharded
Hugging Face folder of .bin weights converts like the same folder in safetensors; `owl inspect`
lists the pickle's globals and `owl inspect --scan` passes clean files."""

import json
import shutil
import zipfile
from pathlib import Path

import pytest

import gguf_util as gu
from pickle_util import referenced_globals
import stutil as su

DATA = Path(__file__).resolve().parent.parent / "data" / "pytorch"
HF_LLAMA3 = DATA.parent / "hf" / "tiny-llama3"
SHARDED = DATA / "tiny-llama3-bin"
SINGLE_LEGACY = DATA / "tiny-llama3-legacy"

CASES = ["dtypes", "shapes", "views", "shared", "parameter", "module", "nested"]
FORMATS = ["zip", "legacy"]
CHECKPOINTS = [f"{c}.{f}" for c in CASES for f in FORMATS]

# Metadata keys owl gives a checkpoint's non-tensor values (formats/pytorch/checkpoint.h).
METADATA_PREFIX = "pytorch."

# Keys the two GGUFs of one model may differ in: both derive them from the folder's name.
FROM_FOLDER_NAME = {"general.name", "general.basename", "general.finetune", "general.version",
                    "general.size_label"}


def checkpoint(name):
    return DATA / f"{name}.pt"


def expected(name):
    return DATA / f"{name.split('.')[0]}.expected.safetensors"


def converted(owl, src, dest, *flags):
    before = su.dir_snapshot(src.parent) if src.is_file() else su.dir_snapshot(src)
    r = owl("convert", src, "-o", dest, "--quiet", *flags)
    assert r.returncode == 0, r.describe()
    after = su.dir_snapshot(src.parent) if src.is_file() else su.dir_snapshot(src)
    assert after == before, "owl changed its input"
    return dest


@pytest.fixture(params=CHECKPOINTS)
def case(request, in_dir):
    """(name, a copy of the checkpoint in its own folder)."""
    src = in_dir / checkpoint(request.param).name
    shutil.copy(checkpoint(request.param), src)
    return request.param, src


def test_fixtures_are_small_and_complete():
    total = sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file())
    assert total < 1 << 20, f"tests/data/pytorch holds {total} bytes"
    for name in CHECKPOINTS:
        assert checkpoint(name).is_file() and expected(name).is_file(), name
    # The two formats really are the two formats.
    for c in CASES:
        assert checkpoint(f"{c}.zip").read_bytes()[:4] == b"PK\x03\x04"
        assert checkpoint(f"{c}.legacy").read_bytes()[:2] == b"\x80\x02"


def test_convert_to_safetensors_is_what_torch_holds(owl, case, out_dir):
    name, src = case
    out = converted(owl, src, out_dir / "model.safetensors")
    got = su.read_reference(out)
    want = su.read_reference(expected(name))
    assert sorted(got) == sorted(want), f"tensor names differ:\n{sorted(got)}\n{sorted(want)}"
    for k, (dtype, shape, blob) in want.items():
        assert got[k][0] == dtype, f"{k}: dtype {got[k][0]}, torch holds {dtype}"
        assert got[k][1] == shape, f"{k}: shape {got[k][1]}, torch holds {shape}"
        assert got[k][2] == blob, f"{k}: bytes differ from tensor.contiguous()"
    su.check_reference_layout(out)


def test_every_dtype_and_view_is_covered():
    """The fixtures hold what the issue lists, so the test above covers it."""
    dtypes = {d for d, _, _ in su.read_reference(expected("dtypes")).values()}
    assert dtypes == {"F64", "F32", "F16", "BF16", "I8", "I16", "I32", "I64", "U8", "BOOL"}
    shapes = {k: s for k, (_, s, _) in su.read_reference(expected("shapes")).items()}
    assert shapes["scalar"] == [] and shapes["empty"] == [0] and shapes["empty_2d"] == [3, 0]
    for c, tensors in (("views", 8), ("shared", 5)):
        z = zipfile.ZipFile(checkpoint(f"{c}.zip"))
        storages = [n for n in z.namelist() if "/data/" in n]
        assert len(storages) < tensors == len(su.read_reference(expected(c))), c
    assert "torch._utils._rebuild_parameter" in referenced_globals(
        checkpoint("parameter.zip").read_bytes())


def test_inspect_lists_tensors_values_and_globals(owl, case):
    name, src = case
    desc = su.inspect(owl, src)
    want = su.read_reference(expected(name))
    got = {t["name"]: (t["type"], su.tensor_shape(t)) for t in desc.get("tensors", [])}
    assert got == {k: (d, s) for k, (d, s, _) in want.items()}

    meta = {k: su.value_of(v) for k, v in su.metadata_map(desc).items()}
    values = json.loads(su.read_metadata(expected(name))["non_tensor_values"])
    for k, v in values.items():
        key = METADATA_PREFIX + k
        assert key in meta, f"non-tensor value {k}={v!r} missing from the metadata: {sorted(meta)}"
        assert meta[key] == v, f"{key}: {meta[key]!r}, torch holds {v!r}"

    text = owl("inspect", src)
    assert text.returncode == 0, text.describe()
    for g in referenced_globals(src.read_bytes()):
        assert g in text.stdout, f"owl inspect does not list the global {g}:\n{text.stdout}"


def test_non_tensor_values_have_their_types(owl, in_dir):
    for fmt in FORMATS:
        desc = su.inspect(owl, checkpoint(f"nested.{fmt}"))
        meta = su.metadata_map(desc)
        assert meta["pytorch.epoch"]["type"] == "i64", meta["pytorch.epoch"]
        assert su.value_of(meta["pytorch.epoch"]) == 3
        assert meta["pytorch.lr"]["type"] == "f64", meta["pytorch.lr"]
        assert su.value_of(meta["pytorch.lr"]) == 0.1
        assert su.value_of(meta["pytorch.name"]) == "x"


def test_scan_passes_clean_checkpoints(owl, case):
    _, src = case
    r = owl("inspect", "--scan", src)
    assert r.returncode == 0, r.describe()


@pytest.mark.parametrize("suffix", ["", ".ckpt", ".safetensors.bak", ".txt"])
def test_format_is_recognised_by_its_bytes(owl, in_dir, out_dir, suffix):
    """The container is known by its magic bytes, whatever the file is called."""
    for fmt in FORMATS:
        src = in_dir / f"weights-{fmt}{suffix}"
        shutil.copy(checkpoint(f"dtypes.{fmt}"), src)
        out = converted(owl, src, out_dir / f"{fmt}.safetensors")
        assert su.read_reference(out) == su.read_reference(expected("dtypes"))


# --- a sharded Hugging Face folder of .bin weights ------------------------------------------

def test_sharded_folder_is_sharded():
    index = json.loads((SHARDED / "pytorch_model.bin.index.json").read_text())
    assert len(set(index["weight_map"].values())) == 2
    assert not list(SHARDED.glob("*.safetensors"))


@pytest.mark.parametrize("folder", [SHARDED, SINGLE_LEGACY], ids=lambda p: p.name)
def test_bin_folder_to_safetensors(owl, tmp_path, folder):
    src = tmp_path / folder.name
    shutil.copytree(folder, src)
    out = converted(owl, src, tmp_path / "model.safetensors")
    assert su.read_reference(out) == su.read_reference(HF_LLAMA3 / "model.safetensors")


@pytest.mark.parametrize("folder", [SHARDED, SINGLE_LEGACY], ids=lambda p: p.name)
def test_bin_folder_to_gguf_as_safetensors_folder(owl, tmp_path, folder):
    """A .bin folder (sharded zip, or one legacy file) and the safetensors folder it was made
    from give the same GGUF, which gguf-py loads."""
    src = tmp_path / folder.name
    shutil.copytree(folder, src)
    # Without the record: it names the inputs, which differ; the rest of the metadata may not.
    from_bin = converted(owl, src, tmp_path / "bin.gguf", "--dtype", "f16", "--no-provenance")
    from_st = converted(owl, gu.hf_copy("tiny-llama3", tmp_path), tmp_path / "st.gguf",
                        "--dtype", "f16", "--no-provenance")
    gu.check_layout(from_bin)
    r = gu.reader(from_bin)  # gguf-py loads it
    assert len(r.tensors) == len(gu.reader(from_st).tensors)
    got, want = gu.tensors(from_bin), gu.tensors(from_st)
    assert list(got) == list(want)
    for k, t in want.items():
        assert (got[k].type, got[k].shape, got[k].data) == (t.type, t.shape, t.data), k
    mb, ms = gu.metadata(from_bin), gu.metadata(from_st)
    keys = (set(mb) | set(ms)) - FROM_FOLDER_NAME
    for k in sorted(keys):
        assert k in mb and k in ms, f"{k} only in {'bin' if k in mb else 'safetensors'} GGUF"
        assert (mb[k].types, mb[k].value) == (ms[k].types, ms[k].value), \
            f"{k}: {gu.describe_difference(mb[k], ms[k])}"


def test_sharded_index_naming_a_missing_shard_is_refused(owl, tmp_path):
    src = tmp_path / "tiny-llama3-bin"
    shutil.copytree(SHARDED, src)
    (src / "pytorch_model-00002-of-00002.bin").unlink()
    r = owl("convert", src, "-o", tmp_path / "out.safetensors", "--quiet")
    assert r.returncode == 2, r.describe()
    assert "pytorch_model-00002-of-00002.bin" in r.stderr, r.describe()
    assert not (tmp_path / "out.safetensors").exists()


def test_sharded_index_disagreeing_with_a_shard_is_refused(owl, tmp_path):
    src = tmp_path / "tiny-llama3-bin"
    shutil.copytree(SHARDED, src)
    index_path = src / "pytorch_model.bin.index.json"
    index = json.loads(index_path.read_text())
    shards = sorted(set(index["weight_map"].values()))
    moved = next(k for k, v in index["weight_map"].items() if v == shards[0])
    index["weight_map"][moved] = shards[1]
    index_path.write_text(json.dumps(index))
    r = owl("convert", src, "-o", tmp_path / "out.safetensors", "--quiet")
    assert r.returncode == 2, r.describe()
    assert moved in r.stderr, r.describe()
    assert not (tmp_path / "out.safetensors").exists()
