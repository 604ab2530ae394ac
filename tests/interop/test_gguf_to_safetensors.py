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
CONFIG_KEYS = ["hidden_size", "intermediate_size", "num_hidden_layers",
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


# What transformers' config classes assume when config.json leaves a key out (checked against
# transformers 4.57 / 5.x): such a key may be missing when its value is the default.
TRANSFORMERS_DEFAULTS = {
    "llama": {"tie_word_embeddings": False, "rope_theta": 10000.0},
    "qwen2": {"tie_word_embeddings": False, "rope_theta": 10000.0},
    "qwen3": {"tie_word_embeddings": False, "rope_theta": 10000.0},
    "mistral": {"tie_word_embeddings": False, "rope_theta": 10000.0},
    "gemma": {"tie_word_embeddings": True, "rope_theta": 10000.0},
    "gemma2": {"tie_word_embeddings": True, "rope_theta": 10000.0},
    "gemma3_text": {"tie_word_embeddings": True, "rope_theta": 1000000.0},
    "phi3": {"tie_word_embeddings": False, "rope_theta": 10000.0},
}


# llama.cpp's converter writes Mistral models as architecture "llama", so nothing in the GGUF
# says Mistral: the way back gives the equivalent Llama model.
COMES_BACK_AS = {"mistral": (["LlamaForCausalLM"], "llama")}


def check_config(out_dir, folder):
    path = out_dir / "config.json"
    assert path.is_file(), f"no config.json beside the output: {sorted(os.listdir(out_dir))}"
    got = json.loads(path.read_text())
    want = json.loads((gu.HF_DATA / folder / "config.json").read_text())
    architectures, model_type = COMES_BACK_AS.get(want["model_type"],
                                                  (want["architectures"], want["model_type"]))
    assert (got.get("architectures"), got.get("model_type")) == (architectures, model_type)
    defaults = TRANSFORMERS_DEFAULTS[want["model_type"]]
    for key in CONFIG_KEYS:
        if key not in got and key in defaults:
            assert defaults[key] == want[key], f"config.json lacks {key} ({want[key]})"
            continue
        assert key in got, f"config.json lacks {key}"
        if isinstance(want[key], float):
            # GGUF stores these as f32.
            assert math.isclose(got[key], want[key], rel_tol=1e-6), (key, got[key], want[key])
        else:
            assert got[key] == want[key], (key, got[key], want[key])
    if want.get("rope_scaling"):
        # Llama 3's scaling survives in GGUF only as the rope_freqs tensor; transformers needs
        # the parameters back to rebuild the same frequencies.
        scaling = got.get("rope_scaling") or {}
        for key, value in want["rope_scaling"].items():
            assert key in scaling and (scaling[key] == value or isinstance(value, float) and
                                       math.isclose(scaling[key], value, rel_tol=1e-6)), \
                f"rope_scaling.{key}: {scaling.get(key)!r}, expected {value!r}"
    tied = "lm_head.weight" not in hf_tensors(folder)
    assert got.get("tie_word_embeddings", defaults["tie_word_embeddings"]) == tied, \
        f"tie_word_embeddings: {got.get('tie_word_embeddings')} (the model is {tied=})"


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


FOLDERS = ["tiny-llama", "tiny-llama3", "tiny-qwen2", "tiny-qwen3", "tiny-mistral", "tiny-gemma",
           "tiny-gemma2", "tiny-gemma3", "tiny-phi3"]
# Those whose vocabulary is a byte-level BPE (the rest are SentencePiece).
BYTE_LEVEL = {"tiny-llama3", "tiny-qwen2", "tiny-qwen3"}


def shifted_norm(folder, name):
    """Gemma's RMSNorm weights are stored in GGUF as (weight + 1), computed in F32; taking the
    1 off again in F32 need not give back the exact bits."""
    return folder.startswith("tiny-gemma") and name.endswith("norm.weight")


@pytest.mark.parametrize("folder", FOLDERS)
def test_reference_f16_gguf(owl, tmp_path, folder):
    """llama.cpp's F16 GGUF gives back the HF tensors rounded to F16 (1-D ones were kept F32)."""
    ref = f"{folder}.f16.gguf"
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
        got_values = as_array(dtype, shape, data)
        if shifted_norm(folder, name):
            if not np.allclose(got_values, expected, rtol=0, atol=1e-6):
                bad.append(f"{name}: values differ by up to "
                           f"{np.max(np.abs(got_values - expected))}")
        elif not np.array_equal(got_values, expected):
            bad.append(f"{name}: values differ")
    assert not bad, "\n".join(bad)
    check_config(out_dir, folder)
    # A byte-level BPE comes back as tokenizer.json, a SentencePiece vocabulary as
    # tokenizer.model (test_gguf_to_hf_tokenizer.py loads both with transformers).
    tokenizer = (["tokenizer.json", "tokenizer_config.json"] if folder in BYTE_LEVEL else
                 ["special_tokens_map.json", "tokenizer.model", "tokenizer_config.json"])
    assert sorted(os.listdir(out_dir)) == ["config.json", "model.safetensors", *tokenizer]


@pytest.mark.parametrize("folder", FOLDERS)
def test_f32_round_trip(owl, tmp_path, folder):
    """HF (BF16) -> GGUF F32 -> safetensors gives the HF values exactly, in F32 (Gemma's norms
    to within the rounding of their +1 shift)."""
    src = gu.hf_copy(folder, tmp_path)
    mid_dir = tmp_path / "mid"
    mid = gu.convert(owl, src, mid_dir / "m.gguf", "--dtype", "f32")
    got = convert_to_safetensors(owl, mid, tmp_path / "out")
    want = hf_tensors(folder)
    missing, unexpected = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    assert not (missing or unexpected), f"missing: {missing}; unexpected: {unexpected}"
    bad = []
    for name, w in want.items():
        if got[name][:2] != ("F32", list(w.shape)):
            bad.append(f"{name}: {got[name][:2]}")
            continue
        values = as_array(*got[name])
        same = (np.allclose(values, w, rtol=0, atol=1e-6) if shifted_norm(folder, name)
                else np.array_equal(values, w))
        if not same:
            bad.append(f"{name}: values differ")
    assert not bad, "\n".join(bad)
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


TORCH_NAMES = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}


@pytest.mark.parametrize("dtype", ["f16", "bf16"])
def test_dtype_of_the_weights_is_the_dtype_config_json_declares(owl, tmp_path, dtype):
    """`--dtype` on the way back to Hugging Face: config.json's torch_dtype names what the
    weights became, not what the GGUF held (F32 here)."""
    src = gu.hf_copy("tiny-llama", tmp_path)
    mid = gu.convert(owl, src, tmp_path / "mid" / "m.gguf", "--dtype", "f32")
    out_dir = tmp_path / "out"
    gu.convert(owl, mid, out_dir / "model.safetensors", "--dtype", dtype)
    matrices = {d for d, shape, _ in su.read_reference(out_dir / "model.safetensors").values()
                if len(shape) == 2}
    assert matrices == {dtype.upper()}
    assert json.loads((out_dir / "config.json").read_text())["torch_dtype"] == TORCH_NAMES[dtype]


def test_a_folder_cast_to_f32_says_float32(owl, tmp_path):
    """Hugging Face (BF16) -> safetensors F32 in another folder: the copied config follows."""
    src = gu.hf_copy("tiny-llama", tmp_path)
    out_dir = tmp_path / "out"
    gu.convert(owl, src, out_dir / "model.safetensors", "--dtype", "f32")
    config = json.loads((out_dir / "config.json").read_text())
    assert config["torch_dtype"] == "float32"
