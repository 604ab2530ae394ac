"""`owl merge` against llama.cpp's own merge, `llama-export-lora` (issue 16), on the fixture
adapters of tests/data/lora (made with peft 0.21.2), converted to GGUF LoRAs by owl (which
test_lora.py checks byte for byte against convert_lora_to_gguf.py).

llama-export-lora reads the base GGUF, turns each adapted weight into f32, adds
scale * (alpha / rank) * B A (ggml's f32 matrix product; scale from --lora-scaled FILE:SCALE,
1 for --lora; rank from B's shape) and casts the sum to F32 for an F32 base, else to F16. Untouched
tensors are copied as they are, and general.file_type is set to F16 whatever the output holds.
owl merges the same adapters from the PEFT folders into the Hugging Face base, a band of rows at a
time in f32, and rounds once to the --dtype. Compared like for like (the same base values: the
bf16 fixtures for f32; for f16, a Hugging Face copy of the base already rounded to f16, so that
both merge the same f16 weights):

- f32: every merged weight equals llama.cpp's to f32 rounding (only the order of the rank-long
  sums differs); untouched tensors and all metadata but general.file_type are identical;
- f16: merged weights are equal but where the two f32 sums straddle an f16 rounding boundary:
  there they are neighbouring f16 values, and owl's f32 merge lies on the boundary between them;
- llama.cpp's merge in turn equals peft's merge_and_unload() to f32 rounding, rsLoRA and
  per-module rank/alpha included (owl folds those into B when it writes the GGUF LoRA).

The tool comes from $OWL_LLAMA_CPP_TOOLS (tools/setup.sh builds it).
"""

import json
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file

import gguf_util as gu
from test_lora import (BASES, GGUF_NAMES, HF, LORA, base_weights, permute_rows,
                       rslora_without_lm_head, run_ok)
from test_quantize_imatrix import THREADS, run_tool

F32_RTOL = 1e-6  # max |owl - llama.cpp| / max |llama.cpp| per merged weight


@pytest.fixture(scope="module")
def adapters(owl, tmp_path_factory):
    """{fixture name: (PEFT folder, GGUF LoRA)} for the adapters llama.cpp can take."""
    tmp = tmp_path_factory.mktemp("adapters")
    out = {}
    for name in ("llama-r8", "qwen2-r4-bin", "llama-rslora"):
        folder = rslora_without_lm_head(tmp) if name == "llama-rslora" else LORA / name
        gguf_path = tmp / f"{name}.gguf"
        run_ok(owl, "convert", folder, "--base", HF / BASES[name], "-o", gguf_path, "--quiet",
               "--no-provenance")
        out[name] = (folder, gguf_path)
    return out


def f16_base(owl, base, dest_parent):
    """A Hugging Face copy of tests/data/hf/BASE with its weights rounded to f16 by owl."""
    folder = dest_parent / base
    folder.mkdir(parents=True)
    for f in (HF / base).iterdir():
        if f.name != "model.safetensors":
            shutil.copy(f, folder / f.name)
    run_ok(owl, "convert", HF / base, "-o", folder / "model.safetensors", "--dtype", "f16",
           "--quiet", "--no-provenance")
    return folder


def as_f32(t):
    dtype = {"F32": "<f4", "F16": "<f2"}[t.type]
    return np.frombuffer(t.data, dtype).astype(np.float32).reshape(t.shape)


def check_f16_straddles(got, want, exact, name):
    """got and want (F16) differ only where `exact` (the f32 sum) lies on the rounding boundary
    between them, up to the f32 rounding of that sum. Returns how many elements differ."""
    g, w = (np.frombuffer(t.data, "<f2").reshape(t.shape) for t in (got, want))
    differ = g.view(np.uint16) != w.view(np.uint16)
    if not differ.any():
        return 0
    lo = np.minimum(g[differ], w[differ]).astype(np.float64)
    hi = np.maximum(g[differ], w[differ]).astype(np.float64)
    assert np.all(np.nextafter(lo.astype(np.float16), np.float16(np.inf)) == hi), \
        f"{name}: values more than one f16 step apart"
    # export-lora sums B·A in ggml's order, owl in its own: the two f32 sums differ by a few
    # roundings of the terms, which can be far larger than an ulp of a result that cancels. So the
    # bound is a small fraction of the f16 step rather than of the value.
    x = exact[differ].astype(np.float64)
    off = np.abs(x - (lo + hi) / 2)
    assert np.all(off <= (hi - lo) / 64), \
        f"{name}: differs {np.max(off / (hi - lo)):.2e} f16 steps away from a rounding boundary"
    return int(differ.sum())


def gguf_name(hf_name):
    """model.layers.N.self_attn.q_proj.weight -> blk.N.attn_q.weight (None for others)."""
    parts = hf_name.split(".")
    module = ".".join(parts[3:-1])
    if parts[:2] != ["model", "layers"] or module not in GGUF_NAMES:
        return None
    return f"blk.{parts[2]}.{GGUF_NAMES[module]}.weight"


def peft_in_gguf_order(name):
    """peft's merge_and_unload() of fixture NAME: {GGUF name: merged weight, rows in GGUF order}."""
    cfg = json.loads((HF / BASES[name] / "config.json").read_text())
    heads = {"attn_q": cfg["num_attention_heads"], "attn_k": cfg["num_key_value_heads"]}
    out = {}
    for k, w in load_file(str(LORA / "reference" / f"{name}.merged.safetensors")).items():
        g = gguf_name(k)
        if g is None:
            continue
        kind = g.split(".")[2]
        if cfg["model_type"] == "llama" and kind in heads:
            w = permute_rows(w, heads[kind])
        out[g] = w
    return out


CASES = {
    # id: (fixture, dtype, scales: one --lora per scale)
    "llama-r8-f32": ("llama-r8", "f32", [1.0]),
    "llama-r8-f16": ("llama-r8", "f16", [1.0]),
    "qwen2-r4-bin-f32": ("qwen2-r4-bin", "f32", [1.0]),
    "qwen2-r4-bin-f16": ("qwen2-r4-bin", "f16", [1.0]),
    "llama-rslora-f32": ("llama-rslora", "f32", [1.0]),
    # Two adapters (llama-export-lora wants the same tensors in each), scaled.
    "llama-r8-twice-scaled-f32": ("llama-r8", "f32", [0.5, -1.25]),
    "llama-r8-twice-scaled-f16": ("llama-r8", "f16", [0.5, -1.25]),
}


@pytest.mark.parametrize("case", CASES)
def test_merge_equals_llama_export_lora(owl, tmp_path, adapters, case):
    name, dtype, scales = CASES[case]
    folder, adapter = adapters[name]
    base = HF / BASES[name] if dtype == "f32" else f16_base(owl, BASES[name], tmp_path / "f16")
    base_gguf = gu.convert(owl, base, tmp_path / "base.gguf", "--dtype", dtype)

    ref = tmp_path / "ref.gguf"
    lora_args = []
    for s in scales:
        lora_args += ["--lora", adapter] if s == 1 else ["--lora-scaled", f"{adapter}:{s}"]
    run_tool("llama-export-lora", "-m", base_gguf, *lora_args, "-o", ref, "-t", THREADS)

    specs = [str(folder) if s == 1 else f"{folder}:{s}" for s in scales]
    merge = ["merge", base, *[a for s in specs for a in ("--lora", s)], "--quiet",
             "--no-provenance"]
    got = tmp_path / "owl.gguf"
    run_ok(owl, *merge, "-o", got, "--dtype", dtype)

    # Metadata: the base's, but llama-export-lora always says F16.
    got_md, ref_md, base_md = gu.metadata(got), gu.metadata(ref), gu.metadata(base_gguf)
    assert ref_md["general.file_type"].value == 1
    assert got_md["general.file_type"].value == base_md["general.file_type"].value
    assert set(got_md) == set(ref_md)
    for key, want in ref_md.items():
        if key != "general.file_type":
            assert got_md[key].raw == want.raw, \
                f"{key}: {gu.describe_difference(got_md[key], want)}"

    # Tensors by name (llama-export-lora writes them in name order).
    got_t, ref_t = gu.tensors(got), gu.tensors(ref)
    adapted = {n[:-len(".lora_a")] for n in gu.tensors(adapter) if n.endswith(".lora_a")}
    assert set(got_t) == set(ref_t) and adapted <= set(ref_t)
    exact = None
    if dtype == "f16":
        f32 = tmp_path / "owl.f32.gguf"
        run_ok(owl, *merge, "-o", f32, "--dtype", "f32")
        exact = {n: as_f32(t) for n, t in gu.tensors(f32).items() if n in adapted}
    worst, straddles, elements = 0.0, 0, 0
    for tname, want in ref_t.items():
        g = got_t[tname]
        assert (g.type, g.shape) == (want.type, want.shape), tname
        if tname not in adapted:
            assert g.data == want.data, f"{tname}: not adapted, but the bytes differ"
        elif dtype == "f32":
            w = as_f32(want)
            err = float(np.max(np.abs(as_f32(g) - w)) / np.max(np.abs(w)))
            assert err <= F32_RTOL, f"{tname}: relative error {err:.2e}"
            worst = max(worst, err)
        else:
            assert want.type == "F16", tname
            straddles += check_f16_straddles(g, want, exact[tname], tname)
            elements += int(np.prod(want.shape))
    if dtype == "f32":
        print(f"{case}: max relative error against llama-export-lora {worst:.2e}")
    else:
        print(f"{case}: {straddles} of {elements} merged f16 values one step apart")
        assert straddles <= elements // 1000, "too many to be f32 rounding"

    # llama.cpp's merge against peft's (made from the bf16 base at scale 1).
    if scales == [1.0]:
        peft = peft_in_gguf_order(name)
        assert set(peft) == adapted
        for tname, w in peft.items():
            r = as_f32(ref_t[tname])
            if dtype == "f32":
                err = float(np.max(np.abs(r - w)) / np.max(np.abs(w)))
                assert err <= F32_RTOL, f"{tname}: llama.cpp vs peft, relative error {err:.2e}"
            else:
                # peft's f32 weight rounded to f16, within one f16 step.
                step = np.abs(np.spacing(w.astype(np.float16)).astype(np.float32))
                assert np.all(np.abs(r - w) <= step), f"{tname}: llama.cpp f16 vs peft"
