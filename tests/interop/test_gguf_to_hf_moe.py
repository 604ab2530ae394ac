"""GGUF -> Hugging Face for the mixtures of experts (Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE,
GraniteMoE and GraniteMoeShared, DeepSeek-V2 and -V3, gpt-oss, Llama 4): the stacked
`blk.N.ffn_{gate,up,down}_exps` cut back into one tensor per expert (Granite's gate and up joined
again into its input_linear stacks; gpt-oss's and Llama 4's into transformers' [experts, in, out]
gate_up_proj, or for MXFP4 experts OpenAI's released blocks and scales), DeepSeek's attn_k_b and
attn_v_b joined into kv_b_proj, the shared experts and routers renamed, and a config.json
transformers reads as the original.

- llama.cpp's own GGUF (tests/data/hf/reference/, written by convert_hf_to_gguf.py) -> HF ->
  GGUF gives llama.cpp's tensors back byte for byte, and its `<arch>.*` keys;
- the transformers-written fixture -> GGUF (bf16) -> HF gives the fixture's tensors back byte for
  byte, and transformers' config class reads the same settings from both config.json files
  but those the GGUF does not hold (listed with their reasons in GGUF_RUNS_AS);
- transformers runs the folder owl writes from llama.cpp's GGUF as llama.cpp runs the GGUF: its
  logits (computed by make_gguf_to_hf_logits.py in the venv that has torch, committed with the
  hashes of the folder it ran) equal llama.cpp's f32 logits to 1e-3 relative;
- `owl validate` runs the original folder and the one that came back as one network, with
  identical logits;
- the way back streams: peak memory does not grow with the number of experts;
- parts without their partner are refused with one line, writing nothing."""

import hashlib
import json
import math
import os

import numpy as np
import pytest

import gguf_util as gu
import stutil as su
from test_hf_moe import EXPERT_MIB, big_moe, peak_rss_mib

WAY_BACK = ["tiny-mixtral", "tiny-qwen2moe", "tiny-qwen3moe", "tiny-olmoe", "tiny-granitemoe",
            "tiny-granitemoeshared", "tiny-deepseek2", "tiny-deepseek3", "tiny-gptoss",
            "tiny-gptoss-bf16", "tiny-llama4"]


def to_hf(owl, src, out_dir, *flags):
    before = su.dir_snapshot(src.parent)
    gu.convert(owl, src, out_dir / "model.safetensors", *flags)
    assert su.dir_snapshot(src.parent) == before, "input changed"
    return out_dir


def arch_keys(path):
    meta = gu.metadata(path)
    arch = meta["general.architecture"].value
    return {k: v for k, v in meta.items() if k.startswith(arch + ".")}


@pytest.mark.parametrize("folder", WAY_BACK)
def test_llama_cpp_gguf_comes_back_byte_for_byte(owl, tmp_path, folder):
    ref = gu.REFERENCE / f"{folder}.f16.gguf"
    src = tmp_path / "src" / ref.name
    src.parent.mkdir()
    src.write_bytes(ref.read_bytes())
    hf = to_hf(owl, src, tmp_path / folder)
    again = gu.convert(owl, hf, tmp_path / "again.gguf", "--dtype", "f16")
    got, want = gu.tensors(again), gu.tensors(ref)
    assert list(got) == list(want), "tensor names or order differ"
    bad = [f"{n}: {got[n].type} {got[n].shape} vs {w.type} {w.shape}" if
           (got[n].type, got[n].shape) != (w.type, w.shape) else f"{n}: bytes differ"
           for n, w in want.items() if (got[n].type, got[n].shape, got[n].data) !=
           (w.type, w.shape, w.data)]
    assert not bad, "\n".join(bad)
    assert arch_keys(again) == arch_keys(ref)


# config.json keys the GGUF cannot carry: training settings and bookkeeping that no forward pass
# reads, and the dtype transformers records (the GGUF is bf16 here, so it comes back the same).
NOT_IN_GGUF = {"transformers_version", "_name_or_path", "initializer_range",
               "router_aux_loss_coef", "output_router_logits", "router_jitter_noise",
               "attention_dropout", "use_cache", "max_window_layers", "sliding_window",
               "pad_token_id", "bos_token_id", "eos_token_id"}


# What the GGUF runs as where the fixture's config.json said otherwise, and why; applied to the
# fixture's settings before they are compared.
def _truncated_yarn(cfg):
    # llama.cpp floors and ceils YaRN's correction range (ggml_rope_yarn_corr_dims) whatever the
    # config says; gpt-oss's release says "truncate": false.
    cfg["rope_scaling"]["truncate"] = True


def _llama_cpp_chunks(cfg):
    # The GGUF has no key for the chunk size: llama.cpp runs Llama 4 with chunks of 8192.
    cfg["attention_chunk_size"] = 8192


def _yarn_type_alias(cfg):
    # "type" is the old spelling of "rope_type", which transformers copies over; owl writes the
    # one spelling.
    cfg["rope_scaling"].pop("type")


GGUF_RUNS_AS = {"tiny-gptoss": _truncated_yarn, "tiny-gptoss-bf16": _truncated_yarn,
                "tiny-llama4": _llama_cpp_chunks, "tiny-deepseek3": _yarn_type_alias}


def hf_config(folder):
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(str(folder)).to_dict()


@pytest.mark.parametrize("folder", WAY_BACK)
def test_transformers_folder_comes_back(owl, tmp_path, folder):
    src = gu.hf_copy(folder, tmp_path / "src")
    # The GGUF keeps norms and routers F32, as the reference's does; bf16 again on the way back
    # (exact: they were bf16 values).
    mid = gu.convert(owl, src, tmp_path / "mid" / "mid.gguf", "--dtype", "bf16")
    out = to_hf(owl, mid, tmp_path / "out" / folder, "--dtype", "bf16")
    got = su.read_reference(out / "model.safetensors")
    want = su.read_reference(src / "model.safetensors")
    assert sorted(got) == sorted(want)
    # Tensors the fixture holds in F32 (DeepSeek-V3's correction bias, as its release stores
    # it) stay F32 in the GGUF and come back as such without --dtype.
    if any(w[0] == "F32" for w in want.values()):
        kept = to_hf(owl, mid, tmp_path / "kept" / folder)
        f32 = su.read_reference(kept / "model.safetensors")
        got.update({n: f32[n] for n, w in want.items() if w[0] == "F32"})
    bad = [n for n in want if got[n] != want[n]]
    assert not bad, f"{len(bad)} tensors differ, e.g. {bad[:3]}"

    got_cfg, want_cfg = hf_config(out), hf_config(src)
    GGUF_RUNS_AS.get(folder, lambda cfg: None)(want_cfg)
    # head_dim left out (GraniteMoeConfig has none) or None (MixtralConfig's default) means
    # hidden_size / num_attention_heads, which owl writes.
    for cfg in (got_cfg, want_cfg):
        if cfg.get("head_dim") is None:
            cfg["head_dim"] = cfg["hidden_size"] // cfg["num_attention_heads"]
    diff = {k: (got_cfg.get(k), want_cfg.get(k)) for k in set(got_cfg) | set(want_cfg)
            if k not in NOT_IN_GGUF and got_cfg.get(k) != want_cfg.get(k) and
            not (isinstance(want_cfg.get(k), float) and isinstance(got_cfg.get(k), float) and
                 math.isclose(got_cfg[k], want_cfg[k], rel_tol=1e-6))}
    assert not diff, f"config.json settings differ (got, want): {diff}"
    # The special tokens stay with the tokenizer files that come back beside the weights.
    assert json.loads((out / "config.json").read_text())["bos_token_id"] == want_cfg["bos_token_id"]


@pytest.mark.parametrize("folder", WAY_BACK)
def test_validate_runs_both_folders_as_one_network(owl, tmp_path, folder):
    src = gu.hf_copy(folder, tmp_path / "src")
    mid = gu.convert(owl, src, tmp_path / "mid" / "mid.gguf", "--dtype", "bf16")
    out = to_hf(owl, mid, tmp_path / "out" / folder)
    report = tmp_path / "report.json"
    r = owl("validate", src, out, "--random-tokens", "64", "--ctx", "32", "--json", report,
            "--quiet")
    assert r.returncode == 0, r.describe()
    got = json.loads(report.read_text())
    assert got["kld"]["max"] == 0.0 and got["top1_agreement"] == 1.0, got
    # Every weight compared by name: the same values under the same names.
    assert got["tensors"] and all(t["max_abs"] == 0.0 for t in got["tensors"]), got["tensors"]


def test_way_back_streams_one_expert_at_a_time(owl, tmp_path):
    # GGUFs of one layer with 4 and 16 experts of 4 MiB: were a stack read whole to cut it, the
    # larger would take 48 MiB more.
    peaks = {}
    for experts in (4, 16):
        gguf = gu.convert(owl, big_moe(tmp_path / f"moe{experts}", experts),
                          tmp_path / f"moe{experts}.gguf", "--dtype", "bf16")
        out = tmp_path / f"hf{experts}"
        out.mkdir()
        peaks[experts] = peak_rss_mib(owl.binary, "convert", gguf, "-o",
                                      out / "model.safetensors", "--quiet")
        names = su.read_header(out / "model.safetensors")[2]
        assert f"model.layers.0.mlp.experts.{experts - 1}.down_proj.weight" in dict(names)
        print(f"\n{experts} experts: peak RSS {peaks[experts]:.1f} MiB converting GGUF -> HF")
        for p in (gguf, out / "model.safetensors"):
            p.unlink()
    assert peaks[16] - peaks[4] < 2 * EXPERT_MIB, peaks


def widened(ref, path, experts, ff):
    """llama.cpp's GGUF `ref` with every expert stack made `experts` experts of `ff` outputs
    (gate, up) or inputs (down), all zero bytes: the way back only moves them."""
    meta = gu.metadata(ref)
    arch = meta["general.architecture"].value
    hidden = meta[f"{arch}.embedding_length"].value
    resized = {f"{arch}.expert_count": experts, f"{arch}.expert_feed_forward_length": ff}
    b = gu.GGUFBuilder()
    b.kv = [e.raw for k, e in meta.items() if k not in resized]
    for key, value in resized.items():
        b.add(key, gu.VT.UINT32, value)
    for t in gu.reader(ref).tensors:
        ne = [int(d) for d in t.shape]
        if "_exps." in t.name:
            rows = [hidden, ff] if "down" in t.name else [ff, hidden]
            ne = (rows if t.name.endswith(".weight") else rows[:1])[::-1] + [experts]
            b.add_tensor(t.name, ne, int(t.tensor_type),
                         bytes(math.prod(ne[1:]) * gu.row_bytes(t.tensor_type, ne[0])))
        else:
            b.add_tensor(t.name, ne, int(t.tensor_type),
                         bytes(np.ascontiguousarray(t.data).view(np.uint8)))
    return b.write(path)


# gpt-oss's experts as transformers' [experts, in, out] parameters (F16 here; gate and up taking
# turns) and as OpenAI's MXFP4 blocks and scales. One expert's gate, up and down are 3 x 16384 x
# 64 weights: 6 MiB in F16, 1.6 MiB in MXFP4. The fewer experts already fill the writer's 16 MiB
# chunk, so what grows with the count would be the stacks themselves.
@pytest.mark.parametrize("folder, counts, expert_mib", [
    ("tiny-gptoss-bf16", (4, 16), 3 * 16384 * 64 * 2 / 2**20),
    ("tiny-gptoss", (16, 48), 3 * 16384 * 2 * 17 / 2**20)])
def test_way_back_of_transformers_parameters_streams_one_expert_at_a_time(owl, tmp_path, folder,
                                                                          counts, expert_mib):
    peaks = {}
    for experts in counts:
        gguf = widened(gu.REFERENCE / f"{folder}.f16.gguf", tmp_path / f"e{experts}.gguf",
                       experts, 16384)
        out = tmp_path / f"hf{experts}"
        out.mkdir()
        # Without the provenance record, whose hash of the input reads the whole file.
        peaks[experts] = peak_rss_mib(owl.binary, "convert", gguf, "-o",
                                      out / "model.safetensors", "--quiet", "--no-provenance")
        names = dict(su.read_header(out / "model.safetensors")[2])
        print(f"\n{folder}, {experts} experts: peak RSS {peaks[experts]:.1f} MiB converting "
              "GGUF -> HF")
        packed = "" if folder.endswith("bf16") else "_blocks"
        assert f"model.layers.1.mlp.experts.gate_up_proj{packed}" in names
        for p in (gguf, out / "model.safetensors"):
            p.unlink()
    small, large = counts
    assert peaks[large] - peaks[small] < 2 * expert_mib, peaks


LOGITS = gu.REFERENCE / "gguf_to_hf_logits"


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("folder", WAY_BACK)
def test_transformers_runs_the_folder_as_llama_cpp_runs_the_gguf(owl, tmp_path, folder):
    record = json.loads(LOGITS.with_suffix(".json").read_text())
    out = to_hf(owl, gu.REFERENCE / f"{folder}.f16.gguf", tmp_path / folder)
    ran = record["folders"][folder]["sha256"]
    assert {name: sha256(out / name) for name in ran} == ran, (
        "owl writes another folder than transformers ran: run "
        "tests/data/hf/make_gguf_to_hf_logits.py again")
    # llama.cpp on the f32 GGUF, nothing rounded beyond the weights (the MXFP4 folder's twin
    # holds the same values: llama.cpp rounds the activations it multiplies MXFP4 by to 8 bits).
    twin = "tiny-gptoss-bf16" if folder == "tiny-gptoss" else folder
    f32 = gu.convert(owl, gu.REFERENCE / f"{twin}.f16.gguf", tmp_path / "f32.gguf", "--dtype",
                     "f32")
    tokens = record["tokens"]
    llm = gu.load_llama(f32, n_ctx=32, n_batch=32, type_k=0, type_v=0, flash_attn=False)
    want = gu.logits(llm, tokens)
    # DeepSeek-V2's array is computed with groups of experts scored as llama.cpp scores them
    # (the sum of the best two, not the best one: make_gguf_to_hf_logits.py says why).
    arrays = np.load(LOGITS.with_suffix(".npz"))
    got = arrays[folder]
    diff, scale = float(np.max(np.abs(got - want))), float(np.max(np.abs(want)))
    print(f"\n{folder}: transformers vs llama.cpp logits differ by up to {diff:.3g} "
          f"(largest {scale:.3g})")
    assert diff <= 1e-3 * scale, f"logits differ by up to {diff} (largest {scale})"
    if f"{folder}.released_routing" in arrays:
        released = float(np.max(np.abs(arrays[f"{folder}.released_routing"] - want)))
        print(f"{folder}: with DeepSeek-V2's own group scores, up to {released:.3g}")


def without_tensor(ref, dropped, path):
    """llama.cpp's GGUF `ref` rewritten without the tensor named `dropped`."""
    b = gu.GGUFBuilder()
    b.kv = [e.raw for e in gu.metadata(ref).values()]
    for t in gu.reader(ref).tensors:
        if t.name != dropped:
            b.add_tensor(t.name, [int(d) for d in t.shape], int(t.tensor_type),
                         bytes(np.ascontiguousarray(t.data).view(np.uint8)))
    return b.write(path)


@pytest.mark.parametrize("folder, dropped", [
    ("tiny-granitemoeshared", "blk.1.ffn_gate_shexp.weight"),  # its up has nothing to join
    ("tiny-granitemoeshared", "blk.0.ffn_up_exps.weight"),     # its gate stack has no partner
    ("tiny-deepseek3", "blk.1.attn_v_b.weight"),               # its attn_k_b has no partner
    ("tiny-deepseek3", "blk.0.attn_k_b.weight"),               # its attn_v_b has no partner
    ("tiny-gptoss", "blk.1.ffn_gate_exps.weight"),             # MXFP4 up without its gate
    ("tiny-gptoss-bf16", "blk.0.ffn_up_exps.bias"),            # gate bias without up
    ("tiny-llama4", "blk.3.ffn_gate_exps.weight"),             # up without its gate
])
def test_a_part_without_its_partner_is_refused(owl, tmp_path, folder, dropped):
    src = without_tensor(gu.REFERENCE / f"{folder}.f16.gguf", dropped, tmp_path / "in.gguf")
    out = tmp_path / "out"
    out.mkdir()
    r = owl("convert", src, "-o", out / "model.safetensors", "--quiet")
    assert r.returncode != 0 and r.stderr.count("\n") == 1, r.describe()
    assert r.stderr.startswith("owl: error: ") and "join" in r.stderr, r.describe()
    assert os.listdir(out) == []
