"""Hugging Face model folders (config.json + sharded safetensors + index), and sharded output."""

import json
import os

import pytest

import gguf_util as gu
import stutil as su

CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 128000,
    "eos_token_id": [128001, 128008, 128009],
    "hidden_act": "silu",
    "hidden_size": 16,
    "initializer_range": 0.02,
    "intermediate_size": 24,
    "max_position_embeddings": 131072,
    "mlp_bias": False,
    "model_type": "llama",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "num_key_value_heads": 2,
    "pad_token_id": 0,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": {
        "factor": 8.0,
        "high_freq_factor": 4.0,
        "low_freq_factor": 1.0,
        "original_max_position_embeddings": 8192,
        "rope_type": "llama3",
    },
    "rope_theta": 500000.0,
    "sliding_window": None,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.45.0",
    "use_cache": True,
    "vocab_size": 32,
    # Not in llama's config: a deeper nesting level, for the flattening.
    "extra_config": {"depth": {"scale": 0.5, "name": "x", "ids": [1, 2]}, "enabled": True},
}


def llama_tensors():
    """{shard index: {name: (dtype, shape, bytes)}} for a tiny 2-layer llama in 3 shards."""
    h, i, kv, v = 16, 24, 8, 32
    seed = iter(range(1000))

    def t(shape, dtype="BF16"):
        return (dtype, shape, su.sample_bytes(dtype, shape, next(seed)))

    def layer(n):
        p = f"model.layers.{n}."
        return {
            p + "input_layernorm.weight": t([h]),
            p + "mlp.down_proj.weight": t([h, i]),
            p + "mlp.gate_proj.weight": t([i, h]),
            p + "mlp.up_proj.weight": t([i, h]),
            p + "post_attention_layernorm.weight": t([h]),
            p + "self_attn.k_proj.weight": t([kv, h]),
            p + "self_attn.o_proj.weight": t([h, h]),
            p + "self_attn.q_proj.weight": t([h, h]),
            p + "self_attn.rotary_emb.inv_freq": t([4], "F32"),
            p + "self_attn.v_proj.weight": t([kv, h]),
        }

    return {
        1: {"model.embed_tokens.weight": t([v, h]), **layer(0)},
        2: layer(1),
        3: {"lm_head.weight": t([v, h]), "model.norm.weight": t([h])},
    }


def flatten_config(obj, prefix="hf.config."):
    for k, val in obj.items():
        if val is None:
            continue
        if isinstance(val, dict):
            yield from flatten_config(val, prefix + k + ".")
        else:
            yield prefix + k, val


def expected_value_type(val):
    if isinstance(val, bool):
        return "bool"
    if isinstance(val, int):
        return "i64"
    if isinstance(val, float):
        return "f64"
    if isinstance(val, str):
        return "string"
    assert isinstance(val, list)
    return "array"


def shard_name(k, n):
    return f"model-{k:05d}-of-{n:05d}.safetensors"


@pytest.fixture
def hf_folder(tmp_path):
    """A folder as transformers' save_pretrained writes it (config + 3 shards + index)."""
    d = tmp_path / "tiny-llama"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(CONFIG, indent=2, sort_keys=True) + "\n")
    shards = llama_tensors()
    weight_map = {}
    total = 0
    for k, tensors in shards.items():
        su.write_reference(d / shard_name(k, 3), tensors, {"format": "pt"})
        for name, (_, _, data) in tensors.items():
            weight_map[name] = shard_name(k, 3)
            total += len(data)
    index = {"metadata": {"total_parameters": sum(su.numel(s) for t in shards.values()
                                                  for _, s, _ in t.values()),
                          "total_size": total},
             "weight_map": weight_map}
    (d / "model.safetensors.index.json").write_text(json.dumps(index, indent=2, sort_keys=True)
                                                    + "\n")
    return d


def all_reference_tensors(folder):
    out = {}
    for f in sorted(folder.glob("*.safetensors")):
        out.update(su.read_reference(f))
    return out


@pytest.mark.parametrize("which", ["folder", "index"])
def test_inspect_folder_format_is_safetensors(owl, hf_folder, which):
    # The contract: GraphDescription.format is "safetensors" for all safetensors inputs.
    src = hf_folder if which == "folder" else hf_folder / "model.safetensors.index.json"
    assert su.inspect(owl, src).get("format") == "safetensors"


def test_inspect_folder(owl, hf_folder):
    desc = su.inspect(owl, hf_folder, "--hash")
    assert desc.get("architecture") == "llama"
    ref = all_reference_tensors(hf_folder)
    got = {t["name"]: t for t in desc["tensors"]}
    assert len(got) == len(desc["tensors"]), "a tensor is listed twice"
    assert set(got) == set(ref)
    for name, (dtype, shape, data) in ref.items():
        t = got[name]
        assert (t.get("type"), su.tensor_shape(t), su.u64(t, "byte_size"), t.get("xxh3_128")) \
            == (dtype, shape, len(data), su.xxh3(data)), name
    assert su.u64(desc, "parameter_count") == sum(su.numel(s) for _, s, _ in ref.values())
    shard_files = [f for f in desc.get("files", []) if f["path"].endswith(".safetensors")]
    assert [os.path.basename(f["path"]) for f in shard_files] == [shard_name(k, 3)
                                                                  for k in (1, 2, 3)]
    for f in shard_files:
        assert su.u64(f, "size") == os.path.getsize(hf_folder / os.path.basename(f["path"]))


def test_inspect_folder_tensor_order(owl, hf_folder):
    # Shards in order (model-00001, -00002, -00003), each in file (offset) order. Note that the
    # index's weight_map is sorted by name, so lm_head (shard 3) comes first there.
    desc = su.inspect(owl, hf_folder)
    expected = []
    for k in (1, 2, 3):
        expected += su.file_order(hf_folder / shard_name(k, 3))
    assert [t["name"] for t in desc["tensors"]] == expected


def test_inspect_folder_config_metadata(owl, hf_folder):
    meta = su.metadata_map(su.inspect(owl, hf_folder))
    expected = dict(flatten_config(CONFIG))
    got_keys = {k for k in meta if k.startswith("hf.config.")}
    assert got_keys == set(expected), (
        f"missing: {sorted(set(expected) - got_keys)}; unexpected: {sorted(got_keys - set(expected))}")
    for key, val in expected.items():
        v = meta[key]
        assert v.get("type") == expected_value_type(val), (key, v)
        assert su.value_of(v) == val, (key, v)
        assert type(su.value_of(v)) is type(val), (key, v)
        if isinstance(val, list):
            arr = v["array_value"]
            assert arr.get("elem_type") == expected_value_type(val[0]), (key, v)
            if "items" in arr:
                assert [i.get("type") for i in arr["items"]] == [expected_value_type(x) for x in val]
            else:
                assert [type(x) for x in su.packed_items(arr)] == [type(x) for x in val], (key, v)
    # Spot checks that do not go through the generic code above.
    assert meta["hf.config.rope_scaling.factor"] == {"type": "f64", "float_value": 8.0}
    assert meta["hf.config.rms_norm_eps"]["float_value"] == 1e-05
    assert meta["hf.config.rope_theta"]["type"] == "f64"
    assert meta["hf.config.vocab_size"] == {"type": "i64", "int_value": "32"}
    assert meta["hf.config.use_cache"] == {"type": "bool", "bool_value": True}
    assert "hf.config.sliding_window" not in meta
    assert "hf.config.rope_scaling" not in meta
    # Each shard carries {"format": "pt"}.
    assert meta.get("safetensors.metadata.format") == {"type": "string", "string_value": "pt"}


def test_inspect_index_json_path(owl, hf_folder):
    by_folder = su.inspect(owl, hf_folder, "--hash")["tensors"]
    by_index = su.inspect(owl, hf_folder / "model.safetensors.index.json", "--hash")["tensors"]
    assert sorted(by_index, key=lambda t: t["name"]) == sorted(by_folder, key=lambda t: t["name"])


def test_inspect_single_file_folder(owl, tmp_path):
    d = tmp_path / "single"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_layer": 1}))
    tensors = {"wte.weight": ("F32", [4, 2], su.sample_bytes("F32", [4, 2], 1))}
    su.write_reference(d / "model.safetensors", tensors)
    desc = su.inspect(owl, d, "--hash")
    assert desc.get("architecture") == "gpt2"
    assert [t["name"] for t in desc["tensors"]] == ["wte.weight"]
    assert desc["tensors"][0]["xxh3_128"] == su.xxh3(tensors["wte.weight"][2])
    assert su.metadata_map(desc)["hf.config.n_layer"] == {"type": "i64", "int_value": "1"}


@pytest.mark.parametrize("which", ["folder", "index"])
def test_convert_folder_to_single_file(owl, hf_folder, out_dir, which):
    src = hf_folder if which == "folder" else hf_folder / "model.safetensors.index.json"
    before = su.dir_snapshot(hf_folder)
    dst = out_dir / "merged.safetensors"
    r = owl("convert", src, "-o", dst, "--quiet", "--no-provenance")
    assert r.returncode == 0, r.describe()
    assert su.read_reference(dst) == all_reference_tensors(hf_folder)
    su.check_reference_layout(dst)
    if which == "folder":
        # The folder's config.json comes along, so the output folder loads in transformers.
        assert sorted(os.listdir(out_dir)) == ["config.json", "merged.safetensors"]
        # Null entries are dropped (the metadata has no null type); transformers reads a
        # missing key as its default, which for these is None.
        original = {k: v for k, v in json.loads((hf_folder / "config.json").read_text()).items()
                    if v is not None}
        assert json.loads((out_dir / "config.json").read_text()) == original
    else:
        assert sorted(os.listdir(out_dir)) == ["merged.safetensors"]
    assert su.dir_snapshot(hf_folder) == before


def check_sharded_output(out_dir, stem, expected_tensors, limit, extra_files=()):
    """Checks OUT-0000k-of-0000N.safetensors + OUT.safetensors.index.json; returns N."""
    index_path = out_dir / f"{stem}.safetensors.index.json"
    assert index_path.is_file(), sorted(os.listdir(out_dir))
    assert not (out_dir / f"{stem}.safetensors").exists(), "unsharded output written too"
    index = json.loads(index_path.read_text())
    shard_files = sorted(f for f in os.listdir(out_dir) if f.endswith(".safetensors"))
    n = len(shard_files)
    assert shard_files == [f"{stem}-{k:05d}-of-{n:05d}.safetensors" for k in range(1, n + 1)]
    assert sorted(os.listdir(out_dir)) == sorted(shard_files + [index_path.name, *extra_files])
    weight_map = index["weight_map"]
    assert set(weight_map.values()) == set(shard_files)
    seen = {}
    for f in shard_files:
        tensors = su.read_reference(out_dir / f)
        su.check_reference_layout(out_dir / f)
        assert tensors, f"empty shard {f}"
        size = sum(len(b) for _, _, b in tensors.values())
        assert size <= limit or len(tensors) == 1, f"{f} holds {size} bytes > {limit}"
        for name, t in tensors.items():
            assert name not in seen, f"{name} in two shards"
            seen[name] = t
            assert weight_map.get(name) == f, name
    assert seen == expected_tensors
    assert set(weight_map) == set(expected_tensors)
    total = index["metadata"]["total_size"]
    assert isinstance(total, int) and total == sum(len(b) for _, _, b in seen.values())
    return n


def test_convert_folder_sharded(owl, hf_folder, out_dir):
    ref = all_reference_tensors(hf_folder)
    total = sum(len(b) for _, _, b in ref.values())
    limit = 3000
    assert total > 3 * limit
    r = owl("convert", hf_folder, "-o", out_dir / "out.safetensors", "--shard-size", "3KB",
            "--quiet", "--no-provenance")
    assert r.returncode == 0, r.describe()
    n = check_sharded_output(out_dir, "out", ref, limit, extra_files=["config.json"])
    assert n >= 4
    # owl reads its own sharded output back.
    desc = su.inspect(owl, out_dir / "out.safetensors.index.json", "--hash")
    assert {t["name"]: t["xxh3_128"] for t in desc["tensors"]} == \
        {k: su.xxh3(b) for k, (_, _, b) in ref.items()}


SHARD_UNIT_CASES = [
    # 10 tensors of 101,000 bytes; the margins are far larger than any header.
    ("200KB", 10), ("200KiB", 5), ("204800B", 5), ("1MB", 2), ("1MiB", 1), ("1GB", 1),
    ("1GiB", 1), ("5GB", 1),
]


@pytest.mark.parametrize("size,shards", SHARD_UNIT_CASES)
def test_shard_size_units(owl, in_dir, out_dir, size, shards):
    tensors = {f"t{k:02d}": ("U8", [101000], su.sample_bytes("U8", [101000], k))
               for k in range(10)}
    src = in_dir / "big.safetensors"
    su.write_reference(src, tensors)
    r = owl("convert", src, "-o", out_dir / "model.safetensors", "--shard-size", size, "--quiet",
            "--no-provenance")
    assert r.returncode == 0, r.describe()
    if shards == 1:
        assert sorted(os.listdir(out_dir)) == ["model.safetensors"]
        assert su.read_reference(out_dir / "model.safetensors") == su.read_reference(src)
    else:
        limit = {"200KB": 200000, "200KiB": 204800, "204800B": 204800, "1MB": 1000000}[size]
        assert check_sharded_output(out_dir, "model", su.read_reference(src), limit) == shards


@pytest.mark.parametrize("size", ["-1KB", "12XB", "KB", "1.5.3MB", ""])
def test_bad_shard_size(owl, in_dir, out_dir, size):
    src = in_dir / "f.safetensors"
    su.write_reference(src, {"x": ("U8", [4], b"abcd")})
    r = owl("convert", src, "-o", out_dir / "g.safetensors", "--shard-size", size)
    assert r.returncode != 0, r.describe()
    assert os.listdir(out_dir) == []


def test_an_unsupported_architecture_is_named_before_its_tokenizer_is_read(owl, tmp_path):
    """all-MiniLM's BertModel with its WordPiece tokenizer: the error is the architecture (in
    config.json), not the tokenizer owl would have read first."""
    src = gu.hf_copy("tiny-llama3", tmp_path)
    config = json.loads((src / "config.json").read_text())
    config.update(architectures=["BertModel"], model_type="bert")
    (src / "config.json").write_text(json.dumps(config))
    tok = json.loads((src / "tokenizer.json").read_text())
    tok["model"] = {"type": "WordPiece", "vocab": {"[UNK]": 0, "a": 1}, "unk_token": "[UNK]",
                    "continuing_subword_prefix": "##", "max_input_chars_per_word": 100}
    (src / "tokenizer.json").write_text(json.dumps(tok))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    r = owl("convert", src, "-o", out_dir / "m.gguf")
    assert r.returncode == 2, r.describe()
    assert r.stderr.startswith(f"owl: error: {src / 'config.json'}: unsupported architecture "
                               '"BertModel"'), r.stderr
    assert os.listdir(out_dir) == []
