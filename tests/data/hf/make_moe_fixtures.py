#!/usr/bin/env python3
"""Makes the mixture-of-experts fixture folders under tests/data/hf/ with transformers' own model
classes (random weights, save_pretrained), and the reference GGUF files that llama.cpp's converter
(convert_hf_to_gguf.py) writes from them. The dense fixtures come from make_fixtures.py beside
this script; this one reuses their tokenizers.

This is run once by hand and its outputs are committed; the tests only read the committed files.

  tests/data/hf/tiny-mixtral/     MixtralForCausalLM: block_sparse_moe.experts.E.w1/w2/w3, one
                                  tensor per expert, a router (gate); tiny-llama's tokenizer.
  tests/data/hf/tiny-qwen2moe/    Qwen2MoeForCausalLM: mlp.experts.E.*, a shared expert with its
                                  sigmoid gate (shared_expert_gate), q/k/v biases; tiny-qwen2's
                                  tokenizer.
  tests/data/hf/tiny-qwen3moe/    Qwen3MoeForCausalLM: mlp.experts.E.*, q/k norms, 8 experts.
  tests/data/hf/tiny-olmoe/       OlmoeForCausalLM: mlp.experts.E.*, q/k norms over the whole
                                  projection, 8 experts.
  tests/data/hf/tiny-granitemoe/  GraniteMoeForCausalLM: the experts as two 3-D tensors per layer
                                  (input_linear: gate and up stacked on rows, output_linear), the
                                  Granite multipliers; tiny-llama's tokenizer.
  tests/data/hf/tiny-granitemoeshared/  GraniteMoeSharedForCausalLM: GraniteMoE plus a shared
                                  expert (shared_mlp.input_linear, gate above up;
                                  shared_mlp.output_linear).
  tests/data/hf/reference/        <folder>.f16.gguf written by convert_hf_to_gguf.py; the entries
                                  for these files are added to provenance.json.

Every weight is drawn again after transformers initialises the model (N(0, 0.05), norms
1 + N(0, 0.1)), so that routers and norms are not the constants a fresh model has, and the model
is saved in bfloat16.

Needs Debian 12's torch (1.13) and transformers 4.57.6 (the version make_fixtures.py's converter
ran with) in a venv that sees the system packages, outside the repository:

  apt-get install python3-torch python3-numpy python3-sentencepiece
  /usr/bin/python3 -m venv --system-site-packages /work/ref/venv-hf
  /work/ref/venv-hf/bin/pip install transformers==4.57.6 -c <(echo numpy==1.24.2)
  /work/ref/venv-hf/bin/python tests/data/hf/make_moe_fixtures.py \\
      --llama-cpp /work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp

transformers 4.57 asks for torch >= 2.1; Debian's torch 1.13 builds, initialises and saves these
models all the same once a few names that 4.57 imports but these classes do not use are given
placeholders (torch.distributed.tensor, torch.compiler, torch._dynamo, the float8 dtypes, the
public pytree registration, the version check itself, and where accelerate is installed
save_pretrained's unwrapping through it: see TORCH_SHIMS). PyPI's torch wheel
was not used: it needs gigabytes of CUDA libraries to import. transformers 4.57 saves every expert
as its own tensors (transformers 5 fuses them; owl reads both, and GraniteMoe's input_linear is
the fused layout).
"""

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_fixtures as mf  # noqa: E402  (the dense fixtures' helpers and converter wrapper)

TORCH_SHIMS = '''
import importlib.metadata as _md, sys as _sys, types as _types
_version = _md.version
_md.version = lambda name: "2.1.0" if name == "torch" else _version(name)
import torch
import torch.utils._pytree as _pytree
if not hasattr(_pytree, "register_pytree_node"):
    _pytree.register_pytree_node = (
        lambda cls, flatten, unflatten, serialized_type_name=None, **kw:
        _pytree._register_pytree_node(cls, flatten, unflatten))
_dt = _types.ModuleType("torch.distributed.tensor")
for _name in ("DTensor", "Placement", "Replicate", "Shard"):
    setattr(_dt, _name, type(_name, (), {}))
_sys.modules["torch.distributed.tensor"] = _dt
def _passthrough(fn=None, recursive=True):
    return fn if fn is not None else (lambda f: f)
for _modname in ("compiler", "_dynamo"):
    if not hasattr(torch, _modname):
        _m = _types.ModuleType("torch." + _modname)
        _m.disable = _passthrough
        _m.allow_in_graph = lambda f: f
        _m.is_compiling = lambda: False
        _m.is_dynamo_compiling = lambda: False
        setattr(torch, _modname, _m)
        _sys.modules["torch." + _modname] = _m
for _missing in ("float8_e4m3fn", "float8_e5m2", "uint16", "uint32", "uint64"):
    if not hasattr(torch, _missing):
        setattr(torch, _missing, _missing)
# With accelerate installed, save_pretrained unwraps the model through it, which imports torch
# 1.13's FSDP, which Python 3.11 cannot import; these models are never wrapped.
import transformers.modeling_utils as _modeling_utils
_modeling_utils.unwrap_model = lambda model, recursive=False: model
'''

LLAMA_TOKENIZER = ("tiny-llama", mf.SPM_FILES)
QWEN2_TOKENIZER = ("tiny-qwen2", mf.BPE_FILES)
QWEN2_IDS = dict(bos_token_id=400, eos_token_id=402)  # <|endoftext|>, <|im_end|>
SPM_IDS = dict(bos_token_id=1, eos_token_id=2)

# Sizes shared by every fixture: 2 layers, hidden 64, 4 heads over 2 key/value heads.
BASE = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            max_position_embeddings=4096, tie_word_embeddings=False)

# folder: (config class, model class, config arguments, tokenizer)
FAMILIES = {
    "tiny-mixtral": ("MixtralConfig", "MixtralForCausalLM",
                     dict(vocab_size=mf.LLAMA_VOCAB, intermediate_size=128, num_local_experts=4,
                          num_experts_per_tok=2, rope_theta=1000000.0, rms_norm_eps=1e-5,
                          **SPM_IDS),
                     LLAMA_TOKENIZER),
    "tiny-qwen2moe": ("Qwen2MoeConfig", "Qwen2MoeForCausalLM",
                      dict(vocab_size=mf.QWEN2_CONFIG_VOCAB, intermediate_size=128,
                           moe_intermediate_size=64, shared_expert_intermediate_size=128,
                           num_experts=4, num_experts_per_tok=2, norm_topk_prob=False,
                           rope_theta=1000000.0, rms_norm_eps=1e-6, **QWEN2_IDS),
                      QWEN2_TOKENIZER),
    "tiny-qwen3moe": ("Qwen3MoeConfig", "Qwen3MoeForCausalLM",
                      dict(vocab_size=mf.QWEN2_CONFIG_VOCAB, intermediate_size=128, head_dim=32,
                           moe_intermediate_size=64, num_experts=8, num_experts_per_tok=2,
                           norm_topk_prob=True, rope_theta=1000000.0, rms_norm_eps=1e-6,
                           **QWEN2_IDS),
                      QWEN2_TOKENIZER),
    "tiny-olmoe": ("OlmoeConfig", "OlmoeForCausalLM",
                   # llama.cpp's OLMoE sizes k_norm by the hidden size: no grouped-query
                   # attention, as in the released OLMoE models.
                   dict(vocab_size=mf.QWEN2_CONFIG_VOCAB, intermediate_size=64, num_experts=8,
                        num_key_value_heads=4,
                        num_experts_per_tok=2, norm_topk_prob=False, rope_theta=10000.0,
                        rms_norm_eps=1e-5, pad_token_id=None, **QWEN2_IDS),
                   QWEN2_TOKENIZER),
    "tiny-granitemoe": ("GraniteMoeConfig", "GraniteMoeForCausalLM",
                        dict(vocab_size=mf.LLAMA_VOCAB, intermediate_size=64,
                             num_local_experts=4, num_experts_per_tok=2, rope_theta=10000.0,
                             rms_norm_eps=1e-6, embedding_multiplier=12.0,
                             logits_scaling=8.0, residual_multiplier=0.22,
                             attention_multiplier=0.015625, **SPM_IDS),
                        LLAMA_TOKENIZER),
    # GraniteMoE with a shared expert beside the routed ones (shared_mlp.input_linear: gate and
    # up stacked on rows; shared_mlp.output_linear).
    "tiny-granitemoeshared": ("GraniteMoeSharedConfig", "GraniteMoeSharedForCausalLM",
                              dict(vocab_size=mf.LLAMA_VOCAB, intermediate_size=64,
                                   shared_intermediate_size=96, num_local_experts=4,
                                   num_experts_per_tok=2, rope_theta=10000.0,
                                   rms_norm_eps=1e-6, embedding_multiplier=12.0,
                                   logits_scaling=8.0, residual_multiplier=0.22,
                                   attention_multiplier=0.015625, **SPM_IDS),
                              LLAMA_TOKENIZER),
}

# The llama.cpp pre-tokenizer the BPE fixtures' tokenizer implements (see make_fixtures.py).
PRE_TOKENIZERS = {name: "qwen2" for name, f in FAMILIES.items() if f[3] is QWEN2_TOKENIZER}


def randomize_weights(model, torch):
    """Draws every parameter again: norms 1 + N(0, 0.1), the rest N(0, 0.05)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.05 * torch.randn_like(p))


def make_family(folder, config_class, model_class, args, seed):
    exec(TORCH_SHIMS, globals())
    import torch
    import transformers

    torch.manual_seed(seed)
    cfg = getattr(transformers, config_class)(**{**BASE, **args})
    model = getattr(transformers, model_class)(cfg)
    randomize_weights(model, torch)
    model.to(torch.bfloat16).save_pretrained(folder)
    (folder / "generation_config.json").unlink(missing_ok=True)


def convert_reference(llama_cpp, python, folder, pre_tokenizer, shim="", extra_args=(),
                      outtype_label="f16"):
    """Runs convert_hf_to_gguf.py on tests/data/hf/FOLDER into
    reference/FOLDER.<outtype_label>.gguf, with `shim` (Python source) run after the converter's
    `conversion.base` is imported and `extra_args` after the output type; returns the command as
    provenance.json records it."""
    out = HERE / "reference" / f"{folder}.{outtype_label}.gguf"
    wrapper = mf.CONVERT_WRAPPER.replace("PRE_TOKENIZER", repr(pre_tokenizer))
    if shim:
        wrapper = wrapper.replace("from conversion import base\n",
                                  "from conversion import base\n" + shim, 1)
    subprocess.run([python, "-c", wrapper, str(llama_cpp), str(HERE / folder), "--outtype", "f16",
                    *extra_args, "--outfile", str(out)], check=True, cwd=HERE)
    extra = "".join(f" {a}" for a in extra_args)
    return (f"convert_hf_to_gguf.py tests/data/hf/{folder} --outtype f16{extra} "
            f"--outfile tests/data/hf/reference/{out.name}")


def record_provenance(section, entry):
    """Sets provenance.json's `section` and the SHA-256 of every fixture file."""
    path = HERE / "reference" / "provenance.json"
    provenance = json.loads(path.read_text())
    provenance[section] = entry
    provenance["sha256"] = {p.relative_to(HERE).as_posix(): mf.sha256(p)
                            for p in sorted(HERE.rglob("*")) if p.is_file()
                            and p.suffix not in (".py", ".pyc") and p.name != "provenance.json"}
    path.write_text(json.dumps(provenance, indent=2) + "\n")


def make_references(llama_cpp, python):
    commands = [convert_reference(llama_cpp, python, folder, PRE_TOKENIZERS.get(folder, "(unused)"))
                for folder in FAMILIES]
    record_provenance("moe", {
        "made_by": "tests/data/hf/make_moe_fixtures.py (transformers' model classes, "
                   "save_pretrained)",
        "environment": mf.tool_versions(python),
        "pre_tokenizer_answers": PRE_TOKENIZERS,
        "commands": commands,
    })


def argument_parser(doc):
    """The options every fixture script of this kind takes."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--llama-cpp", type=Path, help="llama.cpp source tree (its converter)")
    ap.add_argument("--convert-python", default=sys.executable,
                    help="python that runs convert_hf_to_gguf.py (torch, transformers)")
    ap.add_argument("--folders-only", action="store_true",
                    help="write the HF folders, not the reference GGUFs")
    return ap


def main():
    ap = argument_parser(__doc__)
    a = ap.parse_args()
    for seed, (name, (config_class, model_class, args, tokenizer)) in enumerate(FAMILIES.items()):
        folder = HERE / name
        shutil.rmtree(folder, ignore_errors=True)
        make_family(folder, config_class, model_class, args, seed=40 + seed)
        mf.copy_tokenizer(tokenizer[0], folder, tokenizer[1])
    if not a.folders_only:
        if a.llama_cpp is None:
            ap.error("--llama-cpp is required unless --folders-only")
        make_references(a.llama_cpp, a.convert_python)


if __name__ == "__main__":
    main()
