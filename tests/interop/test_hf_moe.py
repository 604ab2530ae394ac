"""Mixtures of experts, end to end. Conversion of the transformers-written fixtures is compared with
the reference converter's files in test_gguf_hf_reference.py and run by llama.cpp in
test_gguf_llama_cpp_runs.py (their REFERENCE_CASES include the MoE folders); here:

- `owl quantize` writes llama-quantize's file byte for byte on those MoE GGUFs (3-D expert tensors
  quantized per expert, routers kept F32, the expert-count rules for attention), from the
  reference's f16 GGUF and from the Hugging Face folder in one pass;
- the same on a wider synthetic Qwen2-MoE checkpoint whose rows are whole K-quant blocks, so that
  Q2_K..Q6_K are taken by the experts themselves rather than their fallbacks; and with an
  importance matrix llama-imatrix computed on it (per-expert sums and token counts), for k-quant
  and i-quant mixes;
- converting (and quantizing) a checkpoint with 4x the experts takes no more memory: the stacks are
  streamed one expert after another from the input files."""

import json
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gguf_util as gu
from test_quantize_llama_cpp import check_same_file, llama_quantize, owl_quantize
import test_quantize_imatrix as qi

MOE_FOLDERS = ["tiny-mixtral", "tiny-qwen2moe", "tiny-qwen3moe", "tiny-olmoe", "tiny-granitemoe",
               "tiny-granitemoeshared",
               "tiny-gptoss", "tiny-gptoss-bf16", "tiny-llama4",
               # test_hf_deepseek.py has DeepSeek's own (MLA, FP8, the forward).
               "tiny-deepseek2", "tiny-deepseek3"]
# The fixtures' rows are 64 or 128 wide: K-quant mixes fall back per tensor as llama.cpp does.
MIXES = ["Q4_K_M", "Q8_0", "Q2_K", "Q4_0", "Q6_K", "IQ4_XS", "MXFP4_MOE"]
# gpt-oss as released: its experts are MXFP4 already, and both tools requantize them to another
# type only when asked to.
PACKED = {"tiny-gptoss"}


def requantize(folder):
    return (dict(allow_requantize=True), ["--allow-requantize"]) if folder in PACKED else ({}, [])


@pytest.mark.parametrize("mix", MIXES)
@pytest.mark.parametrize("folder", MOE_FOLDERS)
def test_reference_moe_gguf_quantizes_as_llama_cpp(owl, tmp_path, folder, mix):
    src = gu.REFERENCE / f"{folder}.f16.gguf"
    theirs, ours = requantize(folder)
    want = llama_quantize(src, tmp_path / "llama.gguf", mix, **theirs)
    got = owl_quantize(owl, src, tmp_path / "owl.gguf", mix, *ours)
    check_same_file(got, want)


@pytest.mark.parametrize("folder", MOE_FOLDERS)
def test_moe_folder_in_one_pass_gives_llama_cpp_file(owl, tmp_path, folder):
    # Convert and quantize at once, against the reference converter followed by llama-quantize.
    src = gu.hf_copy(folder, tmp_path / "src")
    theirs, ours = requantize(folder)
    want = llama_quantize(gu.REFERENCE / f"{folder}.f16.gguf", tmp_path / "llama.gguf", "Q4_K_M",
                          **theirs)
    got = owl_quantize(owl, src, tmp_path / "owl.gguf", "Q4_K_M", *ours)
    check_same_file(got, want)


# --- synthetic checkpoints, in transformers' Qwen2-MoE layout ----------------------------------

def bf16(a):
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def qwen2moe_specs(cfg):
    """[(name, shape)] of a Qwen2MoeForCausalLM checkpoint, sorted as safetensors writes them."""
    h, v, n = cfg["hidden_size"], cfg["vocab_size"], cfg["num_experts"]
    heads, kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd, ff, sff = h // heads, cfg["moe_intermediate_size"], cfg["shared_expert_intermediate_size"]
    specs = [("lm_head.weight", (v, h)), ("model.embed_tokens.weight", (v, h)),
             ("model.norm.weight", (h,))]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        specs += [(p + "input_layernorm.weight", (h,)), (p + "post_attention_layernorm.weight", (h,)),
                  (p + "mlp.gate.weight", (n, h)), (p + "mlp.shared_expert_gate.weight", (1, h)),
                  (p + "mlp.shared_expert.gate_proj.weight", (sff, h)),
                  (p + "mlp.shared_expert.up_proj.weight", (sff, h)),
                  (p + "mlp.shared_expert.down_proj.weight", (h, sff))]
        for e in range(n):
            specs += [(p + f"mlp.experts.{e}.gate_proj.weight", (ff, h)),
                      (p + f"mlp.experts.{e}.up_proj.weight", (ff, h)),
                      (p + f"mlp.experts.{e}.down_proj.weight", (h, ff))]
        for proj, rows in (("q", heads * hd), ("k", kv * hd), ("v", kv * hd)):
            specs += [(p + f"self_attn.{proj}_proj.weight", (rows, h)),
                      (p + f"self_attn.{proj}_proj.bias", (rows,))]
        specs.append((p + "self_attn.o_proj.weight", (h, heads * hd)))
    return sorted(specs)


def write_qwen2moe(folder, seed, **sizes):
    """A Qwen2-MoE folder with random bf16 weights (norms near 1), written one tensor at a time,
    and tiny-qwen2's tokenizer."""
    folder.mkdir(parents=True)
    cfg = json.loads((gu.HF_DATA / "tiny-qwen2moe" / "config.json").read_text())
    cfg.update(sizes)
    (folder / "config.json").write_text(json.dumps(cfg, indent=2))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).write_bytes((gu.HF_DATA / "tiny-qwen2moe" / name).read_bytes())
    write_bf16_safetensors(folder / "model.safetensors", qwen2moe_specs(cfg),
                           np.random.default_rng(seed))
    return folder


def write_bf16_safetensors(path, specs, rng):
    """A safetensors file of random bf16 tensors [(name, shape)] (norms near 1, the rest small),
    written one tensor at a time; returns the size of its data."""
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in specs:
        size = 2 * int(np.prod(shape))
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text)
        for name, shape in specs:
            x = rng.standard_normal(shape, dtype=np.float32)
            x = 1.0 + 0.1 * x if name.endswith("norm.weight") else 0.05 * x
            f.write(bf16(x).tobytes())
    return offset


# Rows of 256 and 512: every K-quant block fits, so the experts take the mixes' own types.
WIDE = dict(hidden_size=256, num_attention_heads=4, num_key_value_heads=2, num_experts=8,
            num_experts_per_tok=2, moe_intermediate_size=512, shared_expert_intermediate_size=512,
            intermediate_size=512)


@pytest.fixture(scope="module")
def wide_moe(owl, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wide-moe")
    folder = write_qwen2moe(tmp / "wide-qwen2moe", 5, **WIDE)
    return folder, gu.convert(owl, folder, tmp / "wide.f16.gguf", "--dtype", "f16")


def test_wide_moe_runs_in_llama_cpp(wide_moe):
    _, f16 = wide_moe
    llm = gu.load_llama(f16)
    tokens = llm.tokenize(b"Once upon a time, the owl", add_bos=True)
    assert np.isfinite(gu.logits(llm, tokens)).all()


@pytest.mark.parametrize("mix", ["Q4_K_M", "Q2_K", "Q3_K_M", "Q5_K_S", "Q6_K", "IQ4_XS", "Q8_0",
                                 "MXFP4_MOE"])
def test_wide_moe_quantizes_as_llama_cpp(owl, wide_moe, tmp_path, mix):
    _, f16 = wide_moe
    want = llama_quantize(f16, tmp_path / "llama.gguf", mix)
    got = owl_quantize(owl, f16, tmp_path / "owl.gguf", mix)
    check_same_file(got, want)


# --- peak memory --------------------------------------------------------------------------------

PEAK_RSS = """
import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.stderr.write(r.stderr)
"""


def peak_rss_mib(*argv):
    """Runs argv in a fresh process; returns its peak resident memory in MiB."""
    r = subprocess.run([sys.executable, "-c", PEAK_RSS, *map(str, argv)], capture_output=True,
                       text=True, check=True)
    rc, kib = map(int, r.stdout.split())
    assert rc == 0, r.stderr
    return kib / 1024


def big_moe(folder, experts):
    """One layer of `experts` experts of 2048 x 1024 (4 MiB each in BF16)."""
    return write_qwen2moe(folder, 9, hidden_size=1024, num_hidden_layers=1, num_attention_heads=8,
                          num_key_value_heads=8, num_experts=experts, moe_intermediate_size=2048,
                          shared_expert_intermediate_size=256, intermediate_size=256)


EXPERT_MIB = 2048 * 1024 * 2 / 2**20


def test_stacked_experts_stream_one_expert_at_a_time(owl, tmp_path):
    # The same layer with 8 and with 32 experts: stacked tensors of 32 and 128 MiB. Were a stack
    # built whole, the larger would take 96 MiB more; streamed one expert after another, peak
    # memory is the same constant (the chunk buffers) for both.
    peaks = {}
    for experts in (8, 32):
        folder = big_moe(tmp_path / f"moe{experts}", experts)
        out = tmp_path / f"moe{experts}.gguf"
        convert = peak_rss_mib(owl.binary, "convert", folder, "-o", out, "--dtype", "f16",
                               "--quiet")
        assert gu.tensors(out)["blk.0.ffn_down_exps.weight"].shape == [experts, 1024, 2048]
        out.unlink()
        quantize = peak_rss_mib(owl.binary, "quantize", folder, "-o", out, "-t", "Q4_K_M",
                                "--threads", "2", "--quiet")
        peaks[experts] = (convert, quantize)
        print(f"\n{experts} experts, stacks of {experts * EXPERT_MIB:.0f} MiB: peak RSS "
              f"{convert:.1f} MiB converting to F16, {quantize:.1f} MiB to Q4_K_M")
    grew = [big - small for small, big in zip(peaks[8], peaks[32])]
    assert grew[0] < 2 * EXPERT_MIB, f"converting: {grew[0]:.1f} MiB more for 24 more experts"
    assert grew[1] < 4 * EXPERT_MIB, f"quantizing: {grew[1]:.1f} MiB more for 24 more experts"
    assert max(peaks[32]) < 32 * EXPERT_MIB, "more than one stacked tensor in memory"


# With an importance matrix llama-imatrix computed on the MoE model: each expert's slice of a
# stacked tensor is quantized with that expert's own weights (llama-imatrix counts each expert's
# tokens apart, and experts no token reached keep weights of 1).
@pytest.fixture(scope="module")
def wide_moe_imatrix(wide_moe, tmp_path_factory):
    _, f16 = wide_moe
    tmp = tmp_path_factory.mktemp("wide-moe-imatrix")
    text = tmp / "story.txt"
    text.write_text((gu.STORIES / "story.txt").read_text() * 8)
    out = tmp / "imatrix.gguf"
    qi.run_tool("llama-imatrix", "-m", f16, "-f", text, "-o", out, "-c", qi.CTX, "--chunks",
                qi.CHUNKS, "-t", qi.THREADS, "--no-ppl")
    return out


@pytest.mark.parametrize("mix", ["Q4_K_M", "Q2_K", "IQ4_XS", "IQ3_S", "IQ2_XS"])
def test_wide_moe_quantizes_with_an_imatrix_as_llama_cpp(owl, wide_moe, wide_moe_imatrix, tmp_path,
                                                         mix):
    _, f16 = wide_moe
    got, want = qi.both(owl, f16, tmp_path, mix, "--imatrix", wide_moe_imatrix)
    check_same_file(got, want)


@pytest.mark.parametrize("folder", MOE_FOLDERS)
def test_dry_run_shows_each_stack_once_with_its_expert_count(owl, folder):
    src = gu.REFERENCE / f"{folder}.f16.gguf"
    meta = gu.metadata(src)
    arch = meta["general.architecture"].value
    experts = meta[f"{arch}.expert_count"].value
    r = owl("quantize", src, "-t", "Q4_K_M", "--dry-run", "--json", *requantize(folder)[1])
    assert r.returncode == 0, r.describe()
    stacks = [t for t in json.loads(r.stdout)["tensors"] if "_exps.weight" in t["name"]]
    assert stacks and all(t["experts"] == experts == t["shape"][0] for t in stacks), stacks
    assert all("experts" not in t for t in json.loads(r.stdout)["tensors"] if t not in stacks)
    r = owl("quantize", src, "-t", "Q4_K_M", "--dry-run", *requantize(folder)[1])
    lines = [ln for ln in r.stdout.splitlines() if "_exps.weight" in ln]
    assert len(lines) == len(stacks) and all(f"{experts} experts" in ln for ln in lines), lines
