"""DeepSeek-V2/V3, beyond the file-for-file comparison with the reference converter that
test_gguf_hf_reference.py and test_gguf_llama_cpp_runs.py make on the tiny fixtures (their
REFERENCE_CASES include tiny-deepseek2, tiny-deepseek3 and tiny-deepseek3-fp8) and the
quantization of the tiny fixtures by every mix in test_hf_moe.py (its MOE_FOLDERS include them:
MLA's 3-D attn_k_b/attn_v_b quantized per head, the router and its correction bias kept F32, the
leading dense layers' and the shared experts' FFN counted as llama.cpp counts them):

- one pass from the FP8 folder gives llama-quantize's file from the F32 conversion;
- llama-quantize's file byte for byte on a wider synthetic DeepSeek-V3 FP8 checkpoint whose rows
  are whole K-quant blocks;
- owl's FP8 dequantization equals ml_dtypes' float8_e4m3fn decoding times the block scales, for
  every one of the 256 codes and for blocks cut short by the matrix edge; malformed scales are
  refused with a one-line error;
- converting an FP8 checkpoint with 4x the experts takes no more memory: each expert is
  dequantized as it streams past;
- `owl validate`'s f32 logits equal llama.cpp's to 1e-3 relative (MLA, group-limited softmax and
  sigmoid routing with the correction bias, shared experts, YaRN), and `owl imatrix` agrees with
  llama-imatrix through the same forward."""

import json
import shutil

import ml_dtypes
import numpy as np
import pytest

import gguf_util as gu
from test_hf_moe import bf16, peak_rss_mib
from test_quantize_llama_cpp import check_same_file, llama_quantize, owl_quantize
import stutil as su

E4M3 = np.dtype(ml_dtypes.float8_e4m3fn)


def test_fp8_folder_in_one_pass_quantizes_the_dequantized_f32(owl, tmp_path):
    # The FP8 weights dequantize to F32 values that F16 does not hold exactly, so one pass is
    # compared with llama-quantize on the F32 conversion (whose values the tests below check).
    src = gu.hf_copy("tiny-deepseek3-fp8", tmp_path / "src")
    f32 = gu.convert(owl, src, tmp_path / "f32.gguf", "--dtype", "f32")
    want = llama_quantize(f32, tmp_path / "llama.gguf", "Q4_K_M")
    got = owl_quantize(owl, src, tmp_path / "owl.gguf", "Q4_K_M")
    check_same_file(got, want)


# --- synthetic DeepSeek-V3 FP8 checkpoints ----------------------------------------------------

def write_st(path, tensors):
    """{name: (dtype, array)} written by the reference safetensors writer."""
    su.write_reference(path, {n: (d, list(a.shape), np.ascontiguousarray(a).tobytes())
                              for n, (d, a) in tensors.items()})


def deepseek3_specs(cfg):
    """[(name, shape)] of a DeepseekV3ForCausalLM checkpoint."""
    h, v, n = cfg["hidden_size"], cfg["vocab_size"], cfg["n_routed_experts"]
    heads, nope, rope = cfg["num_attention_heads"], cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"]
    vd, q, kv = cfg["v_head_dim"], cfg["q_lora_rank"], cfg["kv_lora_rank"]
    ff, mff = cfg["intermediate_size"], cfg["moe_intermediate_size"]
    sff = mff * cfg["n_shared_experts"]
    specs = [("lm_head.weight", (v, h)), ("model.embed_tokens.weight", (v, h)),
             ("model.norm.weight", (h,))]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        specs += [(p + "input_layernorm.weight", (h,)), (p + "post_attention_layernorm.weight", (h,)),
                  (p + "self_attn.q_a_proj.weight", (q, h)), (p + "self_attn.q_a_layernorm.weight", (q,)),
                  (p + "self_attn.q_b_proj.weight", (heads * (nope + rope), q)),
                  (p + "self_attn.kv_a_proj_with_mqa.weight", (kv + rope, h)),
                  (p + "self_attn.kv_a_layernorm.weight", (kv,)),
                  (p + "self_attn.kv_b_proj.weight", (heads * (nope + vd), kv)),
                  (p + "self_attn.o_proj.weight", (h, heads * vd))]
        if i < cfg["first_k_dense_replace"]:
            specs += [(p + "mlp.gate_proj.weight", (ff, h)), (p + "mlp.up_proj.weight", (ff, h)),
                      (p + "mlp.down_proj.weight", (h, ff))]
            continue
        specs += [(p + "mlp.gate.weight", (n, h)), (p + "mlp.gate.e_score_correction_bias", (n,)),
                  (p + "mlp.shared_experts.gate_proj.weight", (sff, h)),
                  (p + "mlp.shared_experts.up_proj.weight", (sff, h)),
                  (p + "mlp.shared_experts.down_proj.weight", (h, sff))]
        for e in range(n):
            specs += [(p + f"mlp.experts.{e}.gate_proj.weight", (mff, h)),
                      (p + f"mlp.experts.{e}.up_proj.weight", (mff, h)),
                      (p + f"mlp.experts.{e}.down_proj.weight", (h, mff))]
    return specs


def is_fp8(name):
    return name.startswith("model.layers.") and name.endswith(("_proj.weight", "_mqa.weight"))


def fp8_blocks(w, block):
    """(E4M3 matrix, F32 scales) with w ~= codes * scales block by block, DeepSeek's way."""
    rows, cols = w.shape
    br, bc = -(-rows // block), -(-cols // block)
    pad = np.zeros((br * block, bc * block), np.float32)
    pad[:rows, :cols] = w
    blocks = pad.reshape(br, block, bc, block)
    scales = (np.abs(blocks).max(axis=(1, 3)) / 448.0).astype(np.float32)
    scales[scales == 0] = 1.0
    q = (blocks / scales[:, None, :, None]).reshape(br * block, bc * block)[:rows, :cols]
    return q.astype(E4M3), scales


def dequantized(codes, scales, block):
    """What the reference computes: weight.float() * the scales repeated over their blocks."""
    rows, cols = codes.shape
    s = np.repeat(np.repeat(scales, block, axis=0), block, axis=1)[:rows, :cols]
    return codes.astype(np.float32) * s


def write_deepseek3_fp8(folder, seed, block=128, **sizes):
    """A DeepSeek-V3 FP8 folder with random weights (norms near 1), tiny-deepseek3's tokenizer;
    returns {weight name: (codes, scales)} for the FP8 weights."""
    folder.mkdir(parents=True)
    cfg = json.loads((gu.HF_DATA / "tiny-deepseek3-fp8" / "config.json").read_text())
    cfg.update(sizes)
    cfg["quantization_config"]["weight_block_size"] = [block, block]
    (folder / "config.json").write_text(json.dumps(cfg, indent=2))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(gu.HF_DATA / "tiny-deepseek3" / name, folder / name)
    rng = np.random.default_rng(seed)
    tensors, fp8 = {}, {}
    for name, shape in deepseek3_specs(cfg):
        x = rng.standard_normal(shape, dtype=np.float32)
        if name.endswith("norm.weight"):
            tensors[name] = ("BF16", bf16(1.0 + 0.1 * x))
        elif name.endswith("e_score_correction_bias"):
            tensors[name] = ("F32", 0.1 * x)
        elif is_fp8(name):
            codes, scales = fp8_blocks(0.05 * x, block)
            fp8[name] = (codes, scales)
            tensors[name] = ("F8_E4M3", codes)
            tensors[name + "_scale_inv"] = ("F32", scales)
        else:
            tensors[name] = ("BF16", bf16(0.05 * x))
    write_st(folder / "model.safetensors", tensors)
    return fp8


# Rows of 256 and 512 (the keys' 64 non-rotary columns stay below a K-quant block, as
# DeepSeek-V3's 128 do); kv_a_mqa's 288 rows end in a block cut short.
WIDE = dict(hidden_size=256, num_attention_heads=4, num_key_value_heads=4, q_lora_rank=256,
            kv_lora_rank=256, qk_nope_head_dim=64, qk_rope_head_dim=32, v_head_dim=64,
            intermediate_size=512, moe_intermediate_size=256, n_routed_experts=8, n_group=4,
            topk_group=2, num_experts_per_tok=2, n_shared_experts=1, num_hidden_layers=3,
            first_k_dense_replace=1)


@pytest.fixture(scope="module")
def wide_deepseek(owl, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wide-deepseek")
    folder = tmp / "wide-deepseek3-fp8"
    fp8 = write_deepseek3_fp8(folder, 7, **WIDE)
    return folder, fp8, gu.convert(owl, folder, tmp / "wide.f16.gguf", "--dtype", "f16")


def test_wide_deepseek_runs_in_llama_cpp(wide_deepseek):
    llm = gu.load_llama(wide_deepseek[2])
    tokens = llm.tokenize(b"Once upon a time, the owl", add_bos=True)
    assert np.isfinite(gu.logits(llm, tokens)).all()


@pytest.mark.parametrize("mix", ["Q4_K_M", "Q2_K", "Q3_K_M", "Q5_K_S", "Q6_K", "IQ4_XS", "Q8_0",
                                 "MXFP4_MOE"])
def test_wide_deepseek_quantizes_as_llama_cpp(owl, wide_deepseek, tmp_path, mix):
    f16 = wide_deepseek[2]
    want = llama_quantize(f16, tmp_path / "llama.gguf", mix)
    got = owl_quantize(owl, f16, tmp_path / "owl.gguf", mix)
    check_same_file(got, want)


# --- FP8 dequantization ---------------------------------------------------------------------------

GGUF_NAMES = {"self_attn.q_a_proj": "attn_q_a", "self_attn.q_b_proj": "attn_q_b",
              "self_attn.kv_a_proj_with_mqa": "attn_kv_a_mqa", "self_attn.o_proj": "attn_output",
              "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
              "mlp.shared_experts.gate_proj": "ffn_gate_shexp"}


def as_f32(t):
    assert t.type == "F32", t.type
    return np.frombuffer(t.data, np.float32).reshape(t.shape)


def test_fp8_weights_are_their_codes_times_block_scales(owl, wide_deepseek, tmp_path):
    folder, fp8, _ = wide_deepseek
    got = gu.tensors(gu.convert(owl, folder, tmp_path / "wide.f32.gguf", "--dtype", "f32"))
    checked = 0
    for name, (codes, scales) in fp8.items():
        layer, rest = name.removeprefix("model.layers.").removesuffix(".weight").split(".", 1)
        if rest not in GGUF_NAMES:
            continue  # kv_b is cut in two, the experts stacked: compared through the f16 file
        t = got[f"blk.{layer}.{GGUF_NAMES[rest]}.weight"]
        want = dequantized(codes, scales, 128)
        assert t.type == "F32" and np.array_equal(as_f32(t), want), name
        checked += 1
    assert checked == 3 * 4 + 3 + 2 * 1  # attention, the dense FFN, the shared experts' gates


def test_fp8_decodes_every_code_as_ml_dtypes(owl, tmp_path):
    # tiny-deepseek3-fp8 with one weight's bytes replaced by all 256 codes (NaN's two included)
    # and block scales of powers of two and odd factors.
    src = gu.hf_copy("tiny-deepseek3-fp8", tmp_path / "src")
    path = src / "model.safetensors"
    tensors = su.read_reference(path)
    name = "model.layers.0.self_attn.o_proj.weight"
    codes = (np.arange(64 * 64) % 256).astype(np.uint8).view(E4M3).reshape(64, 64)
    scales = np.array([[0.5, 3.0], [1.0 / 7.0, 1e-3]], np.float32)
    tensors[name] = ("F8_E4M3", [64, 64], codes.tobytes())
    tensors[name + "_scale_inv"] = ("F32", [2, 2], scales.tobytes())
    path.unlink()
    su.write_reference(path, tensors)
    got = gu.tensors(gu.convert(owl, src, tmp_path / "out.gguf", "--dtype", "f32"))
    want = dequantized(codes, scales, 32)
    assert np.array_equal(as_f32(got["blk.0.attn_output.weight"]), want, equal_nan=True)


@pytest.mark.parametrize("damage,message", [
    (lambda t: t.pop("model.layers.0.self_attn.o_proj.weight"), "which the checkpoint does not have"),
    (lambda t: t.__setitem__("model.layers.0.self_attn.o_proj.weight_scale_inv",
                             ("F32", [3, 2], bytes(24))), "scales that [64, 64]"),
    (lambda t: t.__setitem__("model.layers.0.self_attn.o_proj.weight",
                             ("BF16", [64, 64], bytes(8192))), "F8_E4M3 matrices"),
])
def test_malformed_fp8_checkpoint_is_refused(owl, tmp_path, damage, message):
    src = gu.hf_copy("tiny-deepseek3-fp8", tmp_path / "src")
    path = src / "model.safetensors"
    tensors = su.read_reference(path)
    damage(tensors)
    path.unlink()
    su.write_reference(path, tensors)
    out = tmp_path / "out.gguf"
    r = owl("convert", src, "-o", out)
    assert r.returncode != 0 and not out.exists(), r.describe()
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


# --- peak memory ----------------------------------------------------------------------------------

def test_fp8_experts_stream_one_expert_at_a_time(owl, tmp_path):
    # One MoE layer with 8 and with 32 experts of 1024 x 1024 in FP8 (4 MiB each once
    # dequantized to F32). Were the experts dequantized or stacked whole, the larger would take
    # 96 MiB more for each stacked tensor; streamed, peak memory is the same constant for both.
    expert_mib = 1024 * 1024 * 4 / 2**20
    peaks = {}
    for experts in (8, 32):
        folder = tmp_path / f"moe{experts}"
        write_deepseek3_fp8(folder, 9, hidden_size=1024, num_attention_heads=4,
                            num_key_value_heads=4, q_lora_rank=128, kv_lora_rank=128,
                            qk_nope_head_dim=32, qk_rope_head_dim=32, v_head_dim=32,
                            intermediate_size=256, moe_intermediate_size=1024,
                            n_routed_experts=experts, n_group=4, topk_group=2,
                            num_experts_per_tok=2, n_shared_experts=1, num_hidden_layers=1,
                            first_k_dense_replace=0)
        out = tmp_path / f"moe{experts}.gguf"
        peaks[experts] = peak_rss_mib(owl.binary, "convert", folder, "-o", out, "--dtype", "f16",
                                      "--quiet")
        assert gu.tensors(out)["blk.0.ffn_down_exps.weight"].shape == [experts, 1024, 1024]
        print(f"\n{experts} FP8 experts, F32 stacks of {experts * expert_mib:.0f} MiB: peak RSS "
              f"{peaks[experts]:.1f} MiB converting to F16")
        shutil.rmtree(folder)
        out.unlink()
    assert peaks[32] - peaks[8] < 2 * expert_mib, peaks


# --- the reference forward ------------------------------------------------------------------------

# Softmax routing within groups of experts and 2 shared experts, the query straight (V2); sigmoid
# routing with the selection bias, renormalised and scaled, the query through its low rank, YaRN
# (V3); the same from FP8.
FORWARD_CASES = ["tiny-deepseek2", "tiny-deepseek3", "tiny-deepseek3-fp8"]


@pytest.mark.parametrize("folder", FORWARD_CASES)
def test_f32_logits_match_llama_cpp(owl, tmp_path, folder):
    from test_validate_llama_cpp import check_f32_logits, hf_model, random_tokens
    model = hf_model(owl, tmp_path, folder)
    tokens = random_tokens(gu.load_llama(model, vocab_only=True).n_vocab())
    check_f32_logits(owl, tmp_path, model, tokens, folder)


@pytest.mark.parametrize("folder", ["tiny-deepseek2", "tiny-deepseek3"])
def test_imatrix_agrees_with_llama_imatrix(owl, tmp_path, folder):
    """owl imatrix through the same forward: routed experts apart, the shared experts, and MLA's
    per-head attn_k_b/attn_v_b as llama-imatrix collects them."""
    import test_imatrix_command as ic
    text = tmp_path / "story.txt"
    text.write_text((gu.STORIES / "story.txt").read_text() * 8)
    model = gu.convert(owl, gu.REFERENCE / f"{folder}.f16.gguf", tmp_path / "m.gguf", "--dtype",
                       "f32")
    ic.llama_imatrix("-m", model, "-f", text, "-o", tmp_path / "llama.gguf", "-c", ic.CTX,
                     "--chunks", ic.CHUNKS, "--no-ppl")
    ic.owl_imatrix(owl, model, "--text", text, "-o", tmp_path / "owl.gguf", "--ctx", ic.CTX,
                   "--chunks", ic.CHUNKS, "--no-ppl")
    got, _ = ic.read_gguf_imatrix(tmp_path / "owl.gguf")
    want, _ = ic.read_gguf_imatrix(tmp_path / "llama.gguf")
    assert any("attn_k_b" in n for n in want) and any("_exps." in n for n in want)
    ic.check_close(got, want, f"{folder}: owl vs llama-imatrix")


def test_multi_token_prediction_layer_is_left_out(owl, tmp_path):
    # DeepSeek-V3 ships its multi-token-prediction block as one more layer past
    # num_hidden_layers; the reference converter leaves it out, so owl's file stays the same.
    src = gu.hf_copy("tiny-deepseek3", tmp_path / "src")
    path = src / "model.safetensors"
    tensors = su.read_reference(path)
    extra = {"model.layers.2.eh_proj.weight": [64, 128], "model.layers.2.enorm.weight": [64],
             "model.layers.2.mlp.experts.0.down_proj.weight": [64, 32],
             "model.layers.2.self_attn.kv_b_proj.weight": [128, 32]}
    for name, shape in extra.items():
        tensors[name] = ("BF16", shape, bytes(2 * int(np.prod(shape))))
    path.unlink()
    su.write_reference(path, tensors)
    out = gu.convert(owl, src, tmp_path / "out.gguf", "--dtype", "f16")
    got, want = gu.tensors(out), gu.tensors(gu.REFERENCE / "tiny-deepseek3.f16.gguf")
    assert got.keys() == want.keys() and all(got[n].data == want[n].data for n in want)
