#!/usr/bin/env python3
"""Makes the gpt-oss and Llama 4 fixture folders under tests/data/hf/ with transformers' own model
classes, and the reference GGUF files llama.cpp's converter (convert_hf_to_gguf.py) writes from
them. A sibling of make_moe_fixtures.py (same venv, same torch shims, same converter wrapper).

This is run once by hand and its outputs are committed; the tests only read the committed files.

  tests/data/hf/tiny-gptoss-bf16/  GptOssForCausalLM as transformers saves it (save_pretrained,
                                   bf16): experts as 3-D parameters in (in, out) order,
                                   mlp.experts.gate_up_proj [E, hidden, 2 * ff] with gate and up
                                   interleaved column by column, down_proj [E, ff, hidden], their
                                   biases, attention sinks, a router with a bias, q/k/v/o biases,
                                   sliding and full attention layers in turn; tiny-qwen2's
                                   tokenizer.
  tests/data/hf/tiny-gptoss/       The same network in the layout OpenAI released gpt-oss in: the
                                   expert matrices MXFP4 (mlp.experts.{gate_up,down}_proj_blocks
                                   uint8 [E, out, in / 32, 16], two E2M1 codes a byte, the lower
                                   nibble first; _scales uint8 [E, out, in / 32], E8M0 exponents
                                   biased by 127), everything else bf16, and config.json's
                                   quantization_config {"quant_method": "mxfp4", ...}.
  tests/data/hf/tiny-llama4/       Llama4ForCausalLM (the text model of Llama 4, save_pretrained,
                                   bf16): 4 layers, every second one a mixture of experts
                                   (interleave_moe_layer_step 2) with a shared expert and its
                                   experts as two 3-D parameters in (in, out) order
                                   (feed_forward.experts.gate_up_proj [E, hidden, 2 * ff], gate
                                   the first half of the outputs; down_proj [E, ff, hidden]); the
                                   other layers a dense MLP of intermediate_size_mlp; the last
                                   layer of each four without RoPE (no_rope_layers), the others
                                   chunked attention; Llama 4 Scout's llama3 RoPE scaling (low and
                                   high frequency factors both 1); tiny-llama3's tokenizer.
  tests/data/hf/tiny-llama4-multimodal/
                                   Llama4ForConditionalGeneration (save_pretrained, bf16): the same
                                   text settings under text_config, its tensors under
                                   language_model., and a one-layer vision tower with its
                                   projector, which the text conversion leaves out.
  tests/data/hf/reference/         <folder>.f16.gguf written by convert_hf_to_gguf.py; the entries
                                   for these files are added to provenance.json.

The MXFP4 folder: transformers 4.57 saves a GptOss model only in bf16 (quantizing to MXFP4 needs
the triton kernels and a GPU), so this script writes it with numpy and safetensors. The bf16
model's expert weights are first rounded to MXFP4 values (per 32 inputs of an output row, the
power of two that puts the largest magnitude at or below 6, then the nearest E2M1 value, ties to
the even code), so the bf16 folder holds exactly the numbers the MXFP4 folder encodes: both are
one network. The packed tensors are checked against transformers' own unpacker
(transformers.integrations.mxfp4.convert_moe_packed_tensors, what from_pretrained dequantizes
with) before anything is written.

Run (see make_moe_fixtures.py for the venv):

  /work/ref/venv-hf/bin/python tests/data/hf/make_gptoss_llama4_fixtures.py \\
      --llama-cpp /work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp
"""

import json
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_fixtures as mf  # noqa: E402
import make_moe_fixtures as moe  # noqa: E402

# E2M1 magnitudes by code (bit 3 is the sign).
E2M1 = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0], dtype=np.float32)

GPTOSS_CONFIG = dict(vocab_size=mf.QWEN2_CONFIG_VOCAB, hidden_size=64, intermediate_size=64,
                     num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                     head_dim=16, num_local_experts=4, num_experts_per_tok=2, sliding_window=4,
                     max_position_embeddings=131072, rms_norm_eps=1e-5, tie_word_embeddings=False,
                     **moe.QWEN2_IDS)
GPTOSS_QUANTIZATION = {"modules_to_not_convert": ["model.layers.*.self_attn",
                                                  "model.layers.*.mlp.router",
                                                  "model.embed_tokens", "lm_head"],
                       "quant_method": "mxfp4"}
GPTOSS_EXPERTS = ("gate_up_proj", "down_proj")


def mxfp4_encode(rows):
    """rows [..., n] float32, n a multiple of 32 -> (blocks uint8 [..., n/32, 16],
    scales uint8 [..., n/32]) in OpenAI's layout."""
    g = rows.reshape(*rows.shape[:-1], rows.shape[-1] // 32, 32)
    amax = np.abs(g).max(axis=-1)
    # The smallest power of two 2^k with amax / 2^k <= 6 (E2M1's largest value).
    k = np.where(amax > 0, np.ceil(np.log2(np.maximum(amax, 1e-30) / 6.0)), 0).astype(np.int32)
    k = np.clip(k, -127, 127)
    x = g / np.ldexp(np.float32(1), k)[..., None]
    mag = np.abs(x)
    # Nearest magnitude; ties go to the even code (the lower mantissa bit clear).
    dist = np.abs(mag[..., None] - E2M1)
    best = dist.min(axis=-1, keepdims=True)
    ties = dist == best
    even = ties & (np.arange(8) % 2 == 0)
    code = np.where(even.any(axis=-1), even.argmax(axis=-1), ties.argmax(axis=-1)).astype(np.uint8)
    code |= np.where((x < 0) & (code != 0), 8, 0).astype(np.uint8)
    blocks = code[..., 0::2] | (code[..., 1::2] << 4)
    return blocks.astype(np.uint8), (k + 127).astype(np.uint8)


def mxfp4_decode(blocks, scales):
    """The inverse of mxfp4_encode, in float32."""
    lo, hi = blocks & 0x0F, blocks >> 4
    codes = np.stack([lo, hi], axis=-1).reshape(*blocks.shape[:-1], 32)
    vals = E2M1[codes & 7] * np.where(codes & 8, -1.0, 1.0).astype(np.float32)
    vals = vals * np.ldexp(np.float32(1), scales.astype(np.int32) - 127)[..., None]
    return vals.reshape(*blocks.shape[:-2], blocks.shape[-2] * 32)


def make_gptoss(bf16_folder, mxfp4_folder, seed):
    exec(moe.TORCH_SHIMS, globals())
    import torch
    import transformers
    from transformers.integrations.mxfp4 import convert_moe_packed_tensors

    torch.manual_seed(seed)
    cfg = transformers.GptOssConfig(**GPTOSS_CONFIG)
    model = transformers.GptOssForCausalLM(cfg)
    packed = {}
    moe.randomize_weights(model, torch)
    with torch.no_grad():
        model.to(torch.bfloat16)
        for name, p in model.named_parameters():
            if not name.endswith(GPTOSS_EXPERTS):
                continue
            # transformers holds [E, in, out]; the release stores rows of outputs, [E, out, in].
            rows = p.float().transpose(1, 2).contiguous().numpy()
            blocks, scales = mxfp4_encode(rows)
            exact = mxfp4_decode(blocks, scales)
            p.copy_(torch.from_numpy(exact).transpose(1, 2))
            assert torch.equal(p.float().transpose(1, 2), torch.from_numpy(exact)), name
            theirs = convert_moe_packed_tensors(torch.from_numpy(blocks), torch.from_numpy(scales),
                                                dtype=torch.float32)
            assert torch.equal(theirs, p.float()), f"{name}: transformers unpacks it differently"
            packed[name] = (blocks, scales)
    model.save_pretrained(bf16_folder)
    (bf16_folder / "generation_config.json").unlink(missing_ok=True)
    write_mxfp4_folder(bf16_folder, mxfp4_folder, packed)


def write_mxfp4_folder(bf16_folder, folder, packed):
    from safetensors.numpy import save_file
    import safetensors

    folder.mkdir()
    tensors = {}
    with safetensors.safe_open(bf16_folder / "model.safetensors", "pt") as f:
        for name in f.keys():
            if name not in packed:
                # Through the raw bits: numpy has no bfloat16.
                t = f.get_tensor(name)
                tensors[name] = t.view(__import__("torch").int16).numpy().view(np.uint16)
    for name, (blocks, scales) in packed.items():
        tensors[name + "_blocks"] = blocks
        tensors[name + "_scales"] = scales
    header_types = {n: ("BF16" if a.dtype == np.uint16 else "U8") for n, a in tensors.items()}
    write_safetensors(folder / "model.safetensors", tensors, header_types)
    config = json.loads((bf16_folder / "config.json").read_text())
    config["quantization_config"] = GPTOSS_QUANTIZATION
    (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def write_safetensors(path, tensors, dtypes):
    """safetensors' layout (the header sorted by name, data in the same order), with BF16 given
    as raw uint16 bits, which safetensors.numpy cannot name."""
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name in sorted(tensors):
        size = tensors[name].nbytes
        header[name] = {"dtype": dtypes[name], "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text)
        for name in sorted(tensors):
            f.write(np.ascontiguousarray(tensors[name]).tobytes())


# tiny-llama3's tokenizer: its byte-level BPE, then the specials (<|begin_of_text|> first).
LLAMA3_VOCAB = mf.LLAMA3_BPE_VOCAB + len(mf.LLAMA3_SPECIALS)
LLAMA3_BOS = mf.LLAMA3_BPE_VOCAB
LLAMA3_EOS = [mf.LLAMA3_BPE_VOCAB + 1, mf.LLAMA3_BPE_VOCAB + 4]  # <|end_of_text|>, <|eot_id|>
LLAMA4_CONFIG = dict(vocab_size=LLAMA3_VOCAB, hidden_size=64, intermediate_size=32,
                     intermediate_size_mlp=64, num_hidden_layers=4, num_attention_heads=4,
                     num_key_value_heads=2, head_dim=16, num_local_experts=4,
                     num_experts_per_tok=1, interleave_moe_layer_step=2, attention_chunk_size=8,
                     max_position_embeddings=4096, rms_norm_eps=1e-5, rope_theta=500000.0,
                     rope_scaling={"rope_type": "llama3", "factor": 16.0, "low_freq_factor": 1.0,
                                   "high_freq_factor": 1.0,
                                   "original_max_position_embeddings": 8192},
                     tie_word_embeddings=False, bos_token_id=LLAMA3_BOS, eos_token_id=LLAMA3_EOS,
                     pad_token_id=None)


def make_llama4(folder, seed):
    exec(moe.TORCH_SHIMS, globals())
    import torch
    import transformers

    torch.manual_seed(seed)
    model = transformers.Llama4ForCausalLM(transformers.Llama4TextConfig(**LLAMA4_CONFIG))
    moe.randomize_weights(model, torch)
    model.to(torch.bfloat16).save_pretrained(folder)
    (folder / "generation_config.json").unlink(missing_ok=True)


# A vision tower as small as Llama4VisionModel builds: one layer, 28 x 28 images of 14 x 14
# patches. The text conversion leaves all of it out.
LLAMA4_VISION_CONFIG = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                            intermediate_size=64, vision_output_dim=64, image_size=28,
                            patch_size=14, projector_input_dim=64, projector_output_dim=64,
                            pixel_shuffle_ratio=0.5)


def make_llama4_multimodal(folder, seed):
    exec(moe.TORCH_SHIMS, globals())
    import torch
    import transformers

    torch.manual_seed(seed)
    cfg = transformers.Llama4Config(text_config=LLAMA4_CONFIG, vision_config=LLAMA4_VISION_CONFIG,
                                    boi_token_index=LLAMA3_BOS, eoi_token_index=LLAMA3_BOS,
                                    image_token_index=LLAMA3_BOS)
    model = transformers.Llama4ForConditionalGeneration(cfg)
    moe.randomize_weights(model, torch)
    model.to(torch.bfloat16).save_pretrained(folder)
    (folder / "generation_config.json").unlink(missing_ok=True)


LLAMA3_TOKENIZER = ("tiny-llama3", mf.BPE_FILES)
# folder: (tokenizer, pre-tokenizer answer)
FOLDERS = {"tiny-gptoss-bf16": (moe.QWEN2_TOKENIZER, "qwen2"),
           "tiny-gptoss": (moe.QWEN2_TOKENIZER, "qwen2"),
           "tiny-llama4": (LLAMA3_TOKENIZER, "llama-bpe"),
           "tiny-llama4-multimodal": (LLAMA3_TOKENIZER, "llama-bpe")}


def make_references(llama_cpp, python):
    commands = [moe.convert_reference(llama_cpp, python, folder, pre)
                for folder, (_, pre) in FOLDERS.items()]
    moe.record_provenance("gptoss_llama4", {
        "made_by": "tests/data/hf/make_gptoss_llama4_fixtures.py (transformers' model classes, "
                   "save_pretrained; the MXFP4 folder packed from the bf16 one with numpy and "
                   "checked against transformers' unpacker)",
        "environment": mf.tool_versions(python),
        "pre_tokenizer_answers": {f: pre for f, (_, pre) in FOLDERS.items()},
        "commands": commands,
    })


def main():
    ap = moe.argument_parser(__doc__)
    a = ap.parse_args()
    for name in FOLDERS:
        shutil.rmtree(HERE / name, ignore_errors=True)
    make_gptoss(HERE / "tiny-gptoss-bf16", HERE / "tiny-gptoss", seed=60)
    make_llama4(HERE / "tiny-llama4", seed=61)
    make_llama4_multimodal(HERE / "tiny-llama4-multimodal", seed=62)
    for name, (tokenizer, _) in FOLDERS.items():
        mf.copy_tokenizer(tokenizer[0], HERE / name, tokenizer[1])
    if not a.folders_only:
        if a.llama_cpp is None:
            ap.error("--llama-cpp is required unless --folders-only")
        make_references(a.llama_cpp, a.convert_python)


if __name__ == "__main__":
    main()
