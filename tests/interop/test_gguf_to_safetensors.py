"""GGUF -> safetensors: Hugging Face tensor names, the Q/K permutation undone, the values of the
original Hugging Face folder, and a config.json beside the file so that transformers can load
the folder."""

import json
import math
import os

import numpy as np
import pytest

import gguf_util as gu
import stutil as su

# config.json keys transformers' LlamaConfig / Qwen2Config need to rebuild the model, which a
# GGUF file carries.
CONFIG_KEYS = ["model_type", "hidden_size", "intermediate_size", "num_hidden_layers",
               "num_attention_heads", "num_key_value_heads", "vocab_size", "rms_norm_eps",
               "rope_theta", "max_position_embeddings"]


def hf_tensors(folder):
    """{name: float32 array} of a committed HF folder (BF16 weights)."""
    out = {}
    for name, (dtype, shape, data) in su.read_reference(gu.HF_DATA / folder /
                                                        "model.safetensors").items():
        assert dtype == "BF16", (name, dtype)
        u = np.frombuffer(data, dtype=np.uint16).astype(np.uint32) << 16
        out[name] = u.view(np.float32).reshape(shape)
    return out


def check_config(out_dir, folder):
    path = out_dir / "config.json"
    assert path.is_file(), f"no config.json beside the output: {sorted(os.listdir(out_dir))}"
    got = json.loads(path.read_text())
    want = json.loads((gu.HF_DATA / folder / "config.json").read_text())
    assert got.get("architectures") == want["architectures"]
    for key in CONFIG_KEYS:
        assert key in got, f"config.json lacks {key}"
        if isinstance(want[key], float):
            # GGUF stores these as f32.
            assert math.isclose(got[key], want[key], rel_tol=1e-6), (key, got[key], want[key])
        else:
            assert got[key] == want[key], (key, got[key], want[key])
    # transformers' Llama and Qwen2 configs default to untied embeddings.
    assert got.get("tie_word_embeddings", False) == want.get("tie_word_embeddings", False)


def convert_to_safetensors(owl, src, out_dir):
    before = su.dir_snapshot(src.parent)
    gu.convert(owl, src, out_dir / "model.safetensors")
    assert su.dir_snapshot(src.parent) == before
    st = out_dir / "model.safetensors"
    su.check_reference_layout(st)
    # transformers (4.x) refuses a file whose metadata names no framework it knows; a file
    # without metadata is fine.
    meta = su.read_metadata(st)
    assert not meta or meta.get("format") in ("pt", "tf", "flax", "mlx"), meta
    return su.read_reference(st)


def as_array(dtype, shape, data):
    np_dtype = {"F32": np.float32, "F16": np.float16}[dtype]
    return np.frombuffer(data, dtype=np_dtype).reshape(shape)


@pytest.mark.parametrize("folder,ref", [("tiny-llama", "tiny-llama.f16.gguf"),
                                        ("tiny-qwen2", "tiny-qwen2.f16.gguf")])
def test_reference_f16_gguf(owl, tmp_path, folder, ref):
    """llama.cpp's F16 GGUF gives back the HF tensors rounded to F16 (1-D ones were kept F32)."""
    src = tmp_path / "src" / ref
    src.parent.mkdir()
    src.write_bytes((gu.REFERENCE / ref).read_bytes())
    out_dir = tmp_path / "out"
    got = convert_to_safetensors(owl, src, out_dir)
    want = hf_tensors(folder)
    missing, unexpected = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    assert not (missing or unexpected), f"missing: {missing}; unexpected: {unexpected}"
    bad = []
    for name, w in want.items():
        dtype, shape, data = got[name]
        expected_dtype = "F32" if w.ndim == 1 else "F16"
        if (dtype, shape) != (expected_dtype, list(w.shape)):
            bad.append(f"{name}: {dtype} {shape}, expected {expected_dtype} {list(w.shape)}")
            continue
        expected = w.astype(np.float32 if expected_dtype == "F32" else np.float16)
        if not np.array_equal(as_array(dtype, shape, data), expected):
            bad.append(f"{name}: values differ")
    assert not bad, "\n".join(bad)
    check_config(out_dir, folder)
    assert sorted(os.listdir(out_dir)) == ["config.json", "model.safetensors"]


@pytest.mark.parametrize("folder", ["tiny-llama", "tiny-qwen2"])
def test_f32_round_trip(owl, tmp_path, folder):
    """HF (BF16) -> GGUF F32 -> safetensors gives the HF values exactly, in F32."""
    src = gu.hf_copy(folder, tmp_path)
    mid_dir = tmp_path / "mid"
    mid = gu.convert(owl, src, mid_dir / "m.gguf", "--dtype", "f32")
    got = convert_to_safetensors(owl, mid, tmp_path / "out")
    want = hf_tensors(folder)
    assert set(got) == set(want)
    bad = [name for name, w in want.items()
           if got[name][:2] != ("F32", list(w.shape))
           or not np.array_equal(as_array(*got[name]), w)]
    assert not bad, f"tensors differ: {bad}"
    check_config(tmp_path / "out", folder)


def test_quantized_gguf(owl, tmp_path):
    """A Q8_0 GGUF: owl either refuses (safetensors has no block types) cleanly, or writes
    float tensors equal to gguf-py's dequantization."""
    src = tmp_path / "src" / "q.gguf"
    src.parent.mkdir()
    src.write_bytes((gu.REFERENCE / "tiny-llama.q8_0.gguf").read_bytes())
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    r = owl("convert", src, "-o", out_dir / "model.safetensors", "--quiet")
    if r.returncode != 0:
        assert r.stderr.startswith("owl: error: ") and r.stderr.count("\n") <= 1, r.describe()
        assert os.listdir(out_dir) == []
        return
    got = su.read_reference(out_dir / "model.safetensors")
    assert set(got) == set(hf_tensors("tiny-llama"))
    r = gu.reader(src)
    ref = {t.name: gu.gguf.quants.dequantize(t.data, t.tensor_type) for t in r.tensors}
    # Only check values that need no un-permuting: the non-attention tensors.
    names = {"token_embd.weight": "model.embed_tokens.weight", "output.weight": "lm_head.weight",
             "blk.0.ffn_down.weight": "model.layers.0.mlp.down_proj.weight"}
    for gguf_name, hf_name in names.items():
        dtype, shape, data = got[hf_name]
        assert dtype in ("F32", "F16", "BF16"), (hf_name, dtype)
        if dtype == "F32":
            assert np.array_equal(as_array(dtype, shape, data), ref[gguf_name]), hf_name
