"""GGUF -> Hugging Face for the mixtures of experts (Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE,
GraniteMoE and GraniteMoeShared): the stacked `blk.N.ffn_{gate,up,down}_exps` cut back into one
tensor per expert (Granite's gate and up joined again into its input_linear stacks), the shared
experts and routers renamed, and a config.json transformers reads as the original.

- llama.cpp's own GGUF (tests/data/hf/reference/, written by convert_hf_to_gguf.py) -> HF ->
  GGUF gives llama.cpp's tensors back byte for byte, and its `<arch>.*` keys;
- the transformers-written fixture -> GGUF (bf16) -> HF gives the fixture's tensors back byte for
  byte, and transformers' config class reads the same settings from both config.json files
  (the test venv has transformers but no torch, so the folder is checked through its config and
  safetensors rather than by loading the model);
- `owl validate` runs the original folder and the one that came back as one network, with
  identical logits;
- the way back streams: peak memory does not grow with the number of experts;
- families whose way back owl does not have yet (DeepSeek's MLA, gpt-oss, Llama 4)
  are refused with one line, writing nothing."""

import json
import math
import os

import numpy as np
import pytest

import gguf_util as gu
import stutil as su
from test_hf_moe import EXPERT_MIB, big_moe, peak_rss_mib

WAY_BACK = ["tiny-mixtral", "tiny-qwen2moe", "tiny-qwen3moe", "tiny-olmoe", "tiny-granitemoe",
            "tiny-granitemoeshared"]
NO_WAY_BACK = ["tiny-deepseek2", "tiny-deepseek3", "tiny-gptoss", "tiny-llama4"]


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
    bad = [n for n in want if got[n] != want[n]]
    assert not bad, f"{len(bad)} tensors differ, e.g. {bad[:3]}"

    got_cfg, want_cfg = hf_config(out), hf_config(src)
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


@pytest.mark.parametrize("folder", NO_WAY_BACK)
def test_families_without_a_way_back_are_refused(owl, tmp_path, folder):
    out = tmp_path / "out"
    out.mkdir()
    r = owl("convert", gu.REFERENCE / f"{folder}.f16.gguf", "-o", out / "model.safetensors",
            "--quiet")
    assert r.returncode == 2, r.describe()
    line = r.stderr.strip()
    assert "\n" not in line and "cannot convert to Hugging Face" in line, r.describe()
    assert os.listdir(out) == []


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
])
def test_a_part_without_its_partner_is_refused(owl, tmp_path, folder, dropped):
    src = without_tensor(gu.REFERENCE / f"{folder}.f16.gguf", dropped, tmp_path / "in.gguf")
    out = tmp_path / "out"
    out.mkdir()
    r = owl("convert", src, "-o", out / "model.safetensors", "--quiet")
    assert r.returncode != 0 and r.stderr.count("\n") == 1, r.describe()
    assert r.stderr.startswith("owl: error: ") and "join" in r.stderr, r.describe()
    assert os.listdir(out) == []
