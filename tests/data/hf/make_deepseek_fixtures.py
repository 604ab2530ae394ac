#!/usr/bin/env python3
"""Makes the DeepSeek fixture folders under tests/data/hf/ with transformers' own model classes
(random weights, save_pretrained), an FP8 variant of one of them, and the reference GGUF files
that llama.cpp's converter (convert_hf_to_gguf.py) writes from them. make_moe_fixtures.py beside
this script makes the other mixtures of experts; this one reuses its torch shims and tiny-qwen2's
tokenizer (the converter reads DeepSeek's vocabulary as a GPT-2 style BPE).

This is run once by hand and its outputs are committed; the tests only read the committed files.

  tests/data/hf/tiny-deepseek2/      DeepseekV2ForCausalLM: multi-head latent attention without a
                                     query compression (q_proj), kv_a_proj_with_mqa / kv_a_layernorm
                                     / kv_b_proj; 27 narrow layers as DeepSeek-V2-Lite has (llama.cpp
                                     knows V2-Lite by that count), 25 dense (first_k_dense_replace),
                                     then a softmax router over 8 experts in 4 groups
                                     (group-limited greedy) and 2 shared experts;
                                     routed_scaling_factor.
  tests/data/hf/tiny-deepseek3/      DeepseekV3ForCausalLM: the query compressed too (q_a_proj,
                                     q_a_layernorm, q_b_proj); a sigmoid router with its
                                     e_score_correction_bias (F32, as DeepSeek-V3 stores it), 4
                                     groups of which 2 are used, normalised top-k weights scaled by
                                     2.5, one shared expert; YaRN RoPE scaling with mscale_all_dim.
  tests/data/hf/tiny-deepseek3-fp8/  tiny-deepseek3's weights as DeepSeek-V3 ships them: every
                                     linear layer in the decoder layers (not the router) as
                                     float8_e4m3fn with a float32 weight_scale_inv per 32 x 32
                                     block, quantization_config {"quant_method": "fp8", ...}.
  tests/data/hf/reference/           <folder>.f16.gguf written by convert_hf_to_gguf.py; the
                                     entries for these files are added to provenance.json.

Every weight is drawn again after transformers initialises the model (N(0, 0.05), norms
1 + N(0, 0.1), the correction bias N(0, 0.1)), so that routers, norms and the bias are not the
constants a fresh model has, and the model is saved in bfloat16.

FP8 without float8 in torch: Debian's torch 1.13 has no float8_e4m3fn, so the FP8 folder is
written with numpy: each 32 x 32 block of the bf16 weight is scaled so that its largest magnitude
is 448 (E4M3's largest finite value) and rounded to the nearest E4M3 value, taken from the table
of all 256 codes that e4m3fn_table() builds from the format's definition (sign, 4 exponent bits
with bias 7, 3 mantissa bits, subnormals at exponent 0, 0x7f/0xff NaN, no infinity); the scale is
stored as weight_scale_inv, the factor DeepSeek's checkpoints multiply by. The converter is run
with one more shim: its safetensors loader hands an F8_E4M3 tensor to the rest of the converter as
float32 decoded through that table (exact: every E4M3 value is an F32), which is what
`weight.float()` in its dequant_simple() computes with a torch that has the dtype; the block-wise
scaling, padding and the cast to f16 are the converter's own. test_hf_deepseek.py checks the table
against ml_dtypes' float8_e4m3fn.

Needs the venv that make_moe_fixtures.py describes (Debian 12's torch 1.13, transformers 4.57.6):

  /work/ref/venv-hf/bin/python tests/data/hf/make_deepseek_fixtures.py \\
      --llama-cpp /work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp
"""

import inspect
import json
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_fixtures as mf  # noqa: E402
import make_moe_fixtures as moe  # noqa: E402

# Sizes shared by both unless they say otherwise: 2 layers (the first dense), hidden 64, 4 heads;
# MLA's latent of 32, heads of 16 + 8 (no position, rotary) for queries and keys, 16 for values.
BASE = dict(vocab_size=mf.QWEN2_CONFIG_VOCAB, hidden_size=64, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=4, intermediate_size=128,
            moe_intermediate_size=32, kv_lora_rank=32, qk_nope_head_dim=16, qk_rope_head_dim=8,
            v_head_dim=16, n_routed_experts=8, num_experts_per_tok=2, n_group=4, topk_group=2,
            first_k_dense_replace=1, rms_norm_eps=1e-6,
            tie_word_embeddings=False, **moe.QWEN2_IDS)

FAMILIES = {
    "tiny-deepseek2": ("DeepseekV2Config", "DeepseekV2ForCausalLM",
                       # llama.cpp tells a DeepSeek without query compression (V2-Lite) by its
                       # 27 layers, and asks every other for q_lora_rank: 27 narrow layers here,
                       # the last two with experts.
                       dict(hidden_size=32, num_attention_heads=2, num_key_value_heads=2,
                            num_hidden_layers=27, first_k_dense_replace=25, intermediate_size=16,
                            moe_intermediate_size=16, kv_lora_rank=16, qk_nope_head_dim=8,
                            v_head_dim=8,
                            q_lora_rank=None, n_shared_experts=2, routed_scaling_factor=2.0,
                            topk_method="group_limited_greedy", scoring_func="softmax",
                            norm_topk_prob=False, rope_theta=10000.0,
                            max_position_embeddings=4096)),
    "tiny-deepseek3": ("DeepseekV3Config", "DeepseekV3ForCausalLM",
                       dict(q_lora_rank=48, n_shared_experts=1, routed_scaling_factor=2.5,
                            topk_method="noaux_tc", scoring_func="sigmoid", norm_topk_prob=True,
                            rope_theta=10000.0, max_position_embeddings=163840,
                            rope_scaling={"type": "yarn", "factor": 40.0,
                                          "original_max_position_embeddings": 4096,
                                          "beta_fast": 32.0, "beta_slow": 1.0, "mscale": 1.0,
                                          "mscale_all_dim": 1.0})),
}
FP8_FOLDER, FP8_FROM, FP8_BLOCK = "tiny-deepseek3-fp8", "tiny-deepseek3", 32
REFERENCE_FOLDERS = [*FAMILIES, FP8_FOLDER]

FP8_SHIM = '''
import numpy as _np
import torch as _torch
from conversion import base as _base
E4M3_TABLE_SOURCE
_TABLE = e4m3fn_table()
_from_local = _base.LazyTorchTensor.from_local_tensor.__func__
def _from_local_tensor(cls, t):
    if t.dtype != "F8_E4M3":
        return _from_local(cls, t)
    codes = _np.frombuffer(t.mmap_bytes(), dtype=_np.uint8).reshape(t.shape)
    return cls.from_eager(_torch.from_numpy(_TABLE[codes]))
_base.LazyTorchTensor.from_local_tensor = classmethod(_from_local_tensor)
# torch 1.13 cannot size repeat_interleave on the converter's meta tensors without output_size.
_repeat_interleave = _torch.Tensor.repeat_interleave
def _sized_repeat_interleave(self, repeats, dim=None, *, output_size=None):
    if self.is_meta and output_size is None and isinstance(repeats, int) and dim is not None:
        output_size = self.shape[dim] * repeats
    return _repeat_interleave(self, repeats, dim, output_size=output_size)
_torch.Tensor.repeat_interleave = _sized_repeat_interleave
'''


def e4m3fn_table():
    """The float32 value of each of the 256 float8_e4m3fn codes."""
    out = np.empty(256, dtype=np.float32)
    for code in range(256):
        sign = -1.0 if code & 0x80 else 1.0
        exp, man = (code >> 3) & 0xF, code & 0x7
        if exp == 0xF and man == 0x7:
            out[code] = np.nan
        elif exp == 0:
            out[code] = sign * man / 8.0 * 2.0 ** -6
        else:
            out[code] = sign * (1.0 + man / 8.0) * 2.0 ** (exp - 7)
    return out


def make_family(folder, config_class, model_class, args, seed):
    exec(moe.TORCH_SHIMS, globals())
    import torch
    import transformers

    torch.manual_seed(seed)
    cfg = getattr(transformers, config_class)(**{**BASE, **args})
    model = getattr(transformers, model_class)(cfg)
    biases = {}
    moe.randomize_weights(model, torch)
    with torch.no_grad():
        for name, b in model.named_buffers():
            if name.endswith("e_score_correction_bias"):
                biases[name] = 0.1 * torch.randn_like(b)
    model.to(torch.bfloat16)
    for name, b in biases.items():
        module = model.get_submodule(name.rsplit(".", 1)[0])
        module.e_score_correction_bias = b.float()
    model.save_pretrained(folder)
    (folder / "generation_config.json").unlink(missing_ok=True)


def read_safetensors(path):
    """{name: (dtype, shape, bytes)} in file order, and the header's metadata."""
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, h in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        a, b = h["data_offsets"]
        out[name] = (h["dtype"], h["shape"], raw[8 + n + a:8 + n + b])
    return out, meta


def write_safetensors(path, tensors, meta):
    header, offset = {"__metadata__": meta}, 0
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text)
        for _, _, data in tensors.values():
            f.write(data)


def is_fp8_weight(name, shape):
    # DeepSeek-V3's FP8 checkpoint: the decoder layers' linear layers; the router, norms,
    # embedding and output head stay as they were.
    return (name.startswith("model.layers.") and name.endswith(("_proj.weight", "_mqa.weight"))
            and len(shape) == 2)


def to_fp8_blocks(w, table):
    """(E4M3 codes, F32 scale per block) with w ~= table[codes] * scale, block by block."""
    rows, cols = w.shape
    br, bc = -(-rows // FP8_BLOCK), -(-cols // FP8_BLOCK)
    scales = np.empty((br, bc), dtype=np.float32)
    codes = np.empty(w.shape, dtype=np.uint8)
    finite = np.flatnonzero(np.isfinite(table))
    order = finite[np.argsort(table[finite], kind="stable")]
    values = table[order]
    for i in range(br):
        for j in range(bc):
            blk = w[i * FP8_BLOCK:(i + 1) * FP8_BLOCK, j * FP8_BLOCK:(j + 1) * FP8_BLOCK]
            s = np.float32(np.abs(blk).max() / 448.0) or np.float32(1.0)
            x = blk / s
            k = np.clip(np.searchsorted(values, x), 1, len(values) - 1)
            nearer_low = (x - values[k - 1]) <= (values[k] - x)
            codes[i * FP8_BLOCK:(i + 1) * FP8_BLOCK, j * FP8_BLOCK:(j + 1) * FP8_BLOCK] = \
                order[np.where(nearer_low, k - 1, k)]
            scales[i, j] = s
    return codes, scales


def make_fp8(src, dst):
    table = e4m3fn_table()
    dst.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(src / name, dst / name)
    cfg = json.loads((src / "config.json").read_text())
    cfg["quantization_config"] = {"activation_scheme": "dynamic", "fmt": "e4m3",
                                  "quant_method": "fp8",
                                  "weight_block_size": [FP8_BLOCK, FP8_BLOCK]}
    (dst / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    tensors, meta = read_safetensors(src / "model.safetensors")
    out = {}
    for name, (dtype, shape, data) in tensors.items():
        if not is_fp8_weight(name, shape):
            out[name] = (dtype, shape, data)
            continue
        assert dtype == "BF16", name
        w = (np.frombuffer(data, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        codes, scales = to_fp8_blocks(w.reshape(shape), table)
        out[name] = ("F8_E4M3", shape, codes.tobytes())
        out[name + "_scale_inv"] = ("F32", list(scales.shape), scales.tobytes())
    write_safetensors(dst / "model.safetensors", out, meta)


def make_references(llama_cpp, python):
    shim = FP8_SHIM.replace("E4M3_TABLE_SOURCE", "np = _np\n" + inspect.getsource(e4m3fn_table))
    commands = [moe.convert_reference(llama_cpp, python, folder, "qwen2",
                                      shim if folder == FP8_FOLDER else "")
                for folder in REFERENCE_FOLDERS]
    moe.record_provenance("deepseek", {
        "made_by": "tests/data/hf/make_deepseek_fixtures.py (transformers' model classes, "
                   "save_pretrained; the FP8 folder written with numpy from tiny-deepseek3)",
        "environment": mf.tool_versions(python),
        "pre_tokenizer_answers": {f: "qwen2" for f in REFERENCE_FOLDERS},
        "fp8_loader_shim": "F8_E4M3 safetensors decoded to float32 through the E4M3 table, as "
                           "torch >= 2.1's weight.float() does (see the script's docstring)",
        "commands": commands,
    })


def main():
    ap = moe.argument_parser(__doc__)
    a = ap.parse_args()
    for seed, (name, (config_class, model_class, args)) in enumerate(FAMILIES.items()):
        folder = HERE / name
        shutil.rmtree(folder, ignore_errors=True)
        make_family(folder, config_class, model_class, args, seed=60 + seed)
        mf.copy_tokenizer(moe.QWEN2_TOKENIZER[0], folder, moe.QWEN2_TOKENIZER[1])
    shutil.rmtree(HERE / FP8_FOLDER, ignore_errors=True)
    make_fp8(HERE / FP8_FROM, HERE / FP8_FOLDER)
    if not a.folders_only:
        if a.llama_cpp is None:
            ap.error("--llama-cpp is required unless --folders-only")
        make_references(a.llama_cpp, a.convert_python)


if __name__ == "__main__":
    main()
