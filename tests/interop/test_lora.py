"""PEFT LoRA adapters (issue 16), against what other tools make of the same adapters
(tests/data/lora/make_lora_fixtures.py made them with peft 0.21.2):

- `owl convert ADAPTER --base BASE -o a.gguf` equals, key for key and tensor for tensor,
  llama.cpp's convert_lora_to_gguf.py output, and llama.cpp applies it (--lora) to give the
  logits of the merged model;
- `owl merge` equals peft's merge_and_unload() to f32 rounding;
- `owl quantize --lora` in one pass gives the bytes of merge to f16, then quantize.
"""

import hashlib
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import gguf_util as gu

REPO = Path(__file__).resolve().parents[2]
LORA = REPO / "tests/data/lora"
HF = REPO / "tests/data/hf"
BASES = {"llama-r8": "tiny-llama", "qwen2-r4-bin": "tiny-qwen2", "llama-rslora": "tiny-llama"}
LLAMA_HEADS = (4, 2)  # tiny-llama's attention and key/value heads
# The projections' names in a layer, Hugging Face's and GGUF's.
GGUF_NAMES = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
              "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
              "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}


def run_ok(owl, *args):
    r = owl(*args)
    assert r.returncode == 0, r.describe()
    return r


def base_weights(base):
    """The base's tensors as float32, read from the file's header (numpy has no bfloat16)."""
    blob = (HF / base / "model.safetensors").read_bytes()
    n = struct.unpack("<Q", blob[:8])[0]
    out = {}
    for name, e in json.loads(blob[8:8 + n]).items():
        if name == "__metadata__":
            continue
        start, end = e["data_offsets"]
        raw = blob[8 + n + start:8 + n + end]
        if e["dtype"] == "BF16":
            v = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            v = np.frombuffer(raw, {"F32": "<f4", "F16": "<f2"}[e["dtype"]]).astype(np.float32)
        out[name] = v.reshape(e["shape"])
    return out


@pytest.mark.parametrize("name", ["llama-r8", "qwen2-r4-bin"])
def test_adapter_gguf_equals_convert_lora_to_gguf(owl, tmp_path, name):
    out = tmp_path / name / "adapter.gguf"
    out.parent.mkdir()
    # The reference names the adapter after its folder; so does owl.
    run_ok(owl, "convert", LORA / name, "--base", HF / BASES[name], "-o", out, "--quiet",
           "--no-provenance")
    ref = LORA / "reference" / f"{name}.gguf"
    got_md, want_md = gu.metadata(out), gu.metadata(ref)
    assert list(got_md) == list(want_md)
    for key, want in want_md.items():
        assert got_md[key].raw == want.raw, f"{key}: {gu.describe_difference(got_md[key], want)}"
    got, want = gu.tensors(out), gu.tensors(ref)
    assert list(got) == list(want)
    for tname, t in want.items():
        assert (got[tname].type, got[tname].shape) == (t.type, t.shape), tname
        assert got[tname].data == t.data, f"{tname}: bytes differ"
    assert out.read_bytes() == ref.read_bytes()


def permute_rows(w, heads):
    """Llama's q/k row order in GGUF (convert_hf_to_gguf's permute)."""
    rows = w.shape[0]
    return (w.reshape(heads, 2, rows // heads // 2, *w.shape[1:]).swapaxes(1, 2)
            .reshape(w.shape))


def rslora_without_lm_head(dest_parent):
    """A copy of llama-rslora under dest_parent without the lm_head it saves whole
    (modules_to_save), which a GGUF LoRA cannot hold: the adapter llama.cpp's tools can take."""
    adapter = Path(dest_parent) / "llama-rslora"
    shutil.copytree(LORA / "llama-rslora", adapter)
    weights = load_file(str(adapter / "adapter_model.safetensors"))
    del weights["base_model.model.lm_head.weight"]
    save_file(weights, str(adapter / "adapter_model.safetensors"))
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    cfg["modules_to_save"] = None
    (adapter / "adapter_config.json").write_text(json.dumps(cfg))
    return adapter


def test_rslora_and_patterns_fold_into_b(owl, tmp_path):
    """llama.cpp scales every pair by the file's alpha / rank. An adapter with rsLoRA and
    per-module rank and alpha (peft scales each module its own way) must still give peft's
    deltas: alpha / rank * B A from owl's GGUF equals merge_and_unload()'s W' - W."""
    adapter = rslora_without_lm_head(tmp_path)
    out = tmp_path / "a.gguf"
    run_ok(owl, "convert", adapter, "--base", HF / "tiny-llama", "-o", out, "--quiet")
    r = gu.reader(out)
    alpha = float(r.fields["adapter.lora.alpha"].contents())
    t = {x.name: np.array(x.data) for x in r.tensors}
    merged = load_file(str(LORA / "reference/llama-rslora.merged.safetensors"))
    base = base_weights("tiny-llama")
    checked = 0
    for layer in range(2):
        for hf, gg in GGUF_NAMES.items():
            if f"blk.{layer}.{gg}.weight.lora_a" not in t:
                continue
            name = f"model.layers.{layer}.{hf}.weight"
            a, b = t[f"blk.{layer}.{gg}.weight.lora_a"], t[f"blk.{layer}.{gg}.weight.lora_b"]
            delta = alpha / a.shape[0] * (b.astype(np.float64) @ a.astype(np.float64))
            want = merged[name].astype(np.float64) - base[name].astype(np.float64)
            if gg in ("attn_q", "attn_k"):
                want = permute_rows(want, LLAMA_HEADS[gg == "attn_k"])
            assert np.max(np.abs(delta - want)) <= 1e-6 * np.max(np.abs(want)) + 1e-7, name
            checked += 1
    assert checked == 8


def test_llama_cpp_applies_owl_adapter(owl, tmp_path):
    """llama.cpp with owl's adapter on the f32 base gives the logits of owl's merged model, and
    the same as with the reference adapter."""
    base = tmp_path / "base.gguf"
    run_ok(owl, "convert", HF / "tiny-llama", "-o", base, "--dtype", "f32", "--quiet")
    merged = tmp_path / "merged.gguf"
    run_ok(owl, "merge", HF / "tiny-llama", "--lora", LORA / "llama-r8", "-o", merged,
           "--dtype", "f32", "--quiet")
    adapter = tmp_path / "llama-r8" / "a.gguf"
    adapter.parent.mkdir()
    run_ok(owl, "convert", LORA / "llama-r8", "--base", HF / "tiny-llama", "-o", adapter, "-q")
    tokens = [1, 300, 42, 17, 255, 99, 4, 400]
    with_owl = gu.logits(gu.load_llama(base, lora_path=str(adapter)), tokens)
    with_ref = gu.logits(gu.load_llama(base, lora_path=str(LORA / "reference/llama-r8.gguf")),
                         tokens)
    plain = gu.logits(gu.load_llama(base), tokens)
    merged_logits = gu.logits(gu.load_llama(merged), tokens)
    assert np.array_equal(with_owl, with_ref)
    gu.check_same_logits(with_owl, merged_logits, "base + adapter vs merged")
    assert np.max(np.abs(with_owl - plain)) > 1e-2, "the adapter changed nothing"


@pytest.mark.parametrize("name", ["llama-r8", "qwen2-r4-bin", "llama-rslora"])
def test_merge_equals_peft_merge_and_unload(owl, tmp_path, name):
    out = tmp_path / "merged" / "model.safetensors"
    out.parent.mkdir()
    run_ok(owl, "merge", HF / BASES[name], "--lora", LORA / name, "-o", out, "--dtype", "f32",
           "--quiet")
    got = load_file(str(out))
    want = load_file(str(LORA / "reference" / f"{name}.merged.safetensors"))
    base = base_weights(BASES[name])
    worst = 0.0
    for k, w in want.items():
        # Only the sum order of B A differs from torch's: a few f32 ulps of the weight.
        err = np.max(np.abs(got[k] - w)) / np.max(np.abs(w))
        worst = max(worst, float(err))
        assert err < 1e-6, f"{k}: relative error {err}"
    for k, b in base.items():
        if k not in want:
            assert np.array_equal(got[k], b), f"{k} changed but peft left it alone"
    print(f"{name}: max relative error against peft {worst:.2e}")


def test_merge_quantize_one_pass_equals_merge_then_quantize(owl, tmp_path):
    one = tmp_path / "one.gguf"
    run_ok(owl, "quantize", HF / "tiny-llama", "--lora", LORA / "llama-r8", "-o", one,
           "-t", "Q4_K_M", "--quiet", "--no-provenance")
    # Two steps, through an f16 folder named as the base (general.name comes from it).
    folder = tmp_path / "two" / "tiny-llama"
    folder.mkdir(parents=True)
    run_ok(owl, "merge", HF / "tiny-llama", "--lora", LORA / "llama-r8", "-o",
           folder / "model.safetensors", "--dtype", "f16", "--quiet")
    for f in ("tokenizer.model", "tokenizer_config.json"):
        shutil.copy(HF / "tiny-llama" / f, folder / f)
    two = tmp_path / "two.gguf"
    run_ok(owl, "quantize", folder, "-o", two, "-t", "Q4_K_M", "--quiet", "--no-provenance")
    assert one.read_bytes() == two.read_bytes()
    plain = tmp_path / "plain.gguf"
    run_ok(owl, "quantize", HF / "tiny-llama", "-o", plain, "-t", "Q4_K_M", "--quiet",
           "--no-provenance")
    assert plain.read_bytes() != one.read_bytes()


@pytest.mark.parametrize("args, message", [
    (["convert", LORA / "dora", "--base", HF / "tiny-llama"], "DoRA adapter (use_dora)"),
    (["convert", LORA / "llama-r8"], "--base"),
    (["convert", LORA / "llama-rslora", "--base", HF / "tiny-llama"], "modules_to_save"),
    (["merge", HF / "tiny-mistral", "--lora", LORA / "llama-r8"], "does not fit"),
    (["merge", HF / "reference/tiny-llama.f16.gguf", "--lora", LORA / "llama-r8"], "not GGUF"),
    (["merge", HF / "tiny-llama", "--lora", LORA / "missing"], "no such folder"),
    (["quantize", HF / "tiny-llama", "--lora", HF / "tiny-llama", "-t", "Q8_0"],
     "not a PEFT adapter"),
])
def test_refusals_name_the_problem(owl, tmp_path, args, message):
    out = tmp_path / "out.gguf"
    r = owl(*args, "-o", out)
    assert r.returncode != 0, r.describe()
    assert message in r.stderr, r.describe()
    assert len(r.stderr.strip().splitlines()) == 1, r.describe()
    assert not out.exists() and list(tmp_path.iterdir()) == []


def provenance(path):
    return {k[len("owl.provenance."):]: e.value for k, e in gu.metadata(path).items()
            if k.startswith("owl.provenance.")}


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.mark.parametrize("command", ["merge", "quantize", "adapter"])
def test_provenance_names_base_and_adapter(owl, tmp_path, command):
    out = tmp_path / "out.gguf"
    adapter = LORA / "llama-r8"
    args = {"merge": ["merge", HF / "tiny-llama", "--lora", adapter],
            "quantize": ["quantize", HF / "tiny-llama", "--lora", adapter, "-t", "Q8_0"],
            "adapter": ["convert", adapter, "--base", HF / "tiny-llama"]}[command]
    run_ok(owl, *args, "-o", out, "--quiet", "--provenance")
    rec = provenance(out)
    assert rec["relation"] == ("adapter" if command == "adapter" else "merge")
    inputs = {Path(f["name"]).name: f["sha256"] for f in json.loads(rec["inputs"])}
    for f in (adapter / "adapter_config.json", adapter / "adapter_model.safetensors",
              HF / "tiny-llama/config.json"):
        assert inputs.get(f.name) == sha256(f), (f.name, sorted(inputs))
    if command != "adapter":
        assert inputs["model.safetensors"] == sha256(HF / "tiny-llama/model.safetensors")


@pytest.mark.parametrize("command", ["merge", "quantize", "adapter"])
def test_verify_rederives_from_base_and_adapter(owl, tmp_path, command):
    """owl verify --source re-derives a merged model from its base and the recorded adapter, and
    a converted adapter from its folder and the recorded base; a changed adapter weight is named
    as a changed input, with the tensors it changes."""
    adapter = tmp_path / "llama-r8"
    shutil.copytree(LORA / "llama-r8", adapter)
    args, source = {"merge": (["merge", HF / "tiny-llama", "--lora", adapter], HF / "tiny-llama"),
                    "quantize": (["quantize", HF / "tiny-llama", "--lora", adapter, "-t", "Q8_0"],
                                 HF / "tiny-llama"),
                    "adapter": (["convert", adapter, "--base", HF / "tiny-llama"], adapter)}[command]
    out = tmp_path / "out.gguf"
    run_ok(owl, *args, "-o", out, "--quiet", "--provenance")
    r = owl("verify", out, "--source", source, "--json")
    assert r.returncode == 0, r.describe()
    assert json.loads(r.stdout)["source"]["ok"]

    weights = load_file(str(adapter / "adapter_model.safetensors"))
    weights[f"{Q0}.lora_B.weight"] = weights[f"{Q0}.lora_B.weight"] * 2
    save_file(weights, str(adapter / "adapter_model.safetensors"))
    r = owl("verify", out, "--source", source, "--json")
    assert r.returncode == 4, r.describe()
    report = json.loads(r.stdout)["source"]
    assert [Path(f).name for f in report["inputs_differ"]] == ["adapter_model.safetensors"]
    changed = ["blk.0.attn_q.weight.lora_b"] if command == "adapter" else ["blk.0.attn_q.weight"]
    assert report["differ"] == changed


def broken_adapter(tmp_path, edit_weights=None, edit_config=None):
    """A copy of llama-r8 with its weights or config changed."""
    adapter = tmp_path / "broken"
    shutil.copytree(LORA / "llama-r8", adapter)
    weights = load_file(str(adapter / "adapter_model.safetensors"))
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    if edit_weights:
        edit_weights(weights)
        save_file(weights, str(adapter / "adapter_model.safetensors"))
    if edit_config:
        edit_config(cfg)
        (adapter / "adapter_config.json").write_text(json.dumps(cfg))
    return adapter


Q0 = "base_model.model.model.layers.0.self_attn.q_proj"


@pytest.mark.parametrize("edit_weights, edit_config, message", [
    (lambda w: w.pop(f"{Q0}.lora_B.weight"), None, "has lora_A but no lora_B"),
    (None, lambda c: c.update(r=4), "has rank 8 but adapter_config.json gives it 4"),
    (lambda w: w.update({f"{Q0}.lora_B.weight": w[f"{Q0}.lora_B.weight"][:, :4].copy()}), None,
     "does not chain"),
    (lambda w: w.update({f"{Q0}.lora_magnitude_vector": np.ones(64, np.float32)}), None,
     "neither a LoRA matrix"),
    (lambda w: w.update({f"{Q0}.lora_A.weight": w[f"{Q0}.lora_A.weight"].astype(np.int32)}),
     None, "must be F32, F16 or BF16"),
    (None, lambda c: c.update(peft_type="IA3"), "IA3 adapter"),
])
def test_broken_adapters_are_refused(owl, tmp_path, edit_weights, edit_config, message):
    adapter = broken_adapter(tmp_path, edit_weights, edit_config)
    for args in (["convert", adapter, "--base", HF / "tiny-llama"],
                 ["merge", HF / "tiny-llama", "--lora", adapter]):
        out = tmp_path / "out.gguf"
        r = owl(*args, "-o", out)
        assert r.returncode != 0 and message in r.stderr, r.describe()
        assert len(r.stderr.strip().splitlines()) == 1 and not out.exists(), r.describe()
