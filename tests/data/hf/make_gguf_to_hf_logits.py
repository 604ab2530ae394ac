#!/usr/bin/env python3
"""The logits transformers computes on the Hugging Face folders that owl writes from llama.cpp's
mixture-of-experts GGUFs (GGUF -> HF, issue 11), committed so that the test venv, which has no
torch, can hold them to llama.cpp's logits on the same GGUFs (test_gguf_to_hf_moe.py).

For each reference GGUF (tests/data/hf/reference/<folder>.f16.gguf, written by llama.cpp's
convert_hf_to_gguf.py from the fixture folder), `owl convert` writes a Hugging Face folder;
transformers loads it (from_pretrained, computing in float32) and runs TOKENS. Written:

  tests/data/hf/reference/gguf_to_hf_logits.npz   the logits after each token, [tokens, vocab]
                                                  float32, one array per folder;
  tests/data/hf/reference/gguf_to_hf_logits.json  the tokens, and the SHA-256 of the config.json
                                                  and model.safetensors that transformers ran,
                                                  which the test compares with the folder owl
                                                  writes then: a change in owl's output fails
                                                  the test until this script is run again.

This is run by hand, with owl built, in the venv make_moe_fixtures.py describes:

  /work/ref/venv-hf/bin/python tests/data/hf/make_gguf_to_hf_logits.py --owl build/bin/owl

Loading a model (the fixture scripts only save them) with Debian's torch 1.13 takes four more
placeholders beside make_moe_fixtures.TORCH_SHIMS (LOAD_SHIMS): Module.named_parameters'
remove_duplicate and Module.load_state_dict's assign (torch 2 arguments that from_pretrained
passes), torch.vmap (the mask builder's; torch 1.13 ships it as functorch.vmap) and torch.xpu
(no such device). The MXFP4 folder is dequantized by transformers itself: without a GPU its
Mxfp4HfQuantizer unpacks the blocks to bf16, exact for MXFP4 values.

DeepSeek-V2's group-limited routing: transformers scores a group of experts by its best expert
(DeepSeek-V2's release), llama.cpp by the sum of its best two (DeepSeek-V3's rule, which
llama.cpp's build_moe_ffn applies to every model with expert groups). Where they pick other
groups, the logits differ (0.032 of 1.12 on tiny-deepseek2), whatever the folder holds. So for
tiny-deepseek2 the array the test holds to llama.cpp is computed with DeepseekV2MoEGate scoring
groups as llama.cpp does (llama_cpp_group_scores, the rest of the gate unchanged); the array
transformers gives as released is kept beside it as "tiny-deepseek2.released_routing".
"""

import argparse
import hashlib
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_fixtures as mf  # noqa: E402
import make_moe_fixtures as moe  # noqa: E402

LOAD_SHIMS = '''
import functorch as _functorch
import torch as _torch
import types as _types
_named_parameters = _torch.nn.Module.named_parameters
def _named_parameters_kw(self, prefix="", recurse=True, remove_duplicate=True):
    if remove_duplicate:
        return _named_parameters(self, prefix=prefix, recurse=recurse)
    modules = self.named_modules(prefix=prefix, remove_duplicate=False) if recurse else [(prefix, self)]
    return ((f"{name}.{p}" if name else p, t) for name, m in modules
            for p, t in m._parameters.items() if t is not None)
_torch.nn.Module.named_parameters = _named_parameters_kw
_load_state_dict = _torch.nn.Module.load_state_dict
def _load_state_dict_kw(self, state_dict, strict=True, assign=False):
    if not assign:
        return _load_state_dict(self, state_dict, strict=strict)
    for key, value in state_dict.items():
        if key in self._parameters:
            self._parameters[key] = _torch.nn.Parameter(value, value.is_floating_point())
        elif key in self._buffers:
            self._buffers[key] = value
_torch.nn.Module.load_state_dict = _load_state_dict_kw
if not hasattr(_torch, "vmap"):
    _torch.vmap = _functorch.vmap
if not hasattr(_torch, "xpu"):
    _torch.xpu = _types.SimpleNamespace(is_available=lambda: False)
'''

FOLDERS = ["tiny-mixtral", "tiny-qwen2moe", "tiny-qwen3moe", "tiny-olmoe", "tiny-granitemoe",
           "tiny-granitemoeshared", "tiny-deepseek2", "tiny-deepseek3", "tiny-gptoss",
           "tiny-gptoss-bf16", "tiny-llama4"]
# Below every fixture's vocabulary; longer than gpt-oss's sliding window (4).
TOKENS = [7, 300, 12, 64, 5, 250, 99, 42, 17, 1, 180, 33, 401, 8, 77, 222]
HASHED = ["config.json", "model.safetensors"]
OUT = HERE / "reference" / "gguf_to_hf_logits"


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def owl_folder(owl, folder, tmp):
    """owl convert reference/FOLDER.f16.gguf -o TMP/FOLDER/model.safetensors, as the test runs
    it."""
    out = tmp / folder
    out.mkdir()
    subprocess.run([str(owl), "convert", str(HERE / "reference" / f"{folder}.f16.gguf"), "-o",
                    str(out / "model.safetensors"), "--quiet", "--no-provenance"], check=True)
    return out


def llama_cpp_group_scores(self, hidden_states):
    """DeepseekV2MoEGate.forward (group_limited_greedy) with a group scored as llama.cpp scores
    it: the sum of its two best experts' probabilities."""
    import torch

    n = hidden_states.shape[0] * hidden_states.shape[1]
    x = hidden_states.reshape(n, -1)
    scores = torch.nn.functional.linear(x.float(), self.weight.float()).softmax(dim=-1)
    groups = scores.view(n, self.num_group, -1).topk(2, dim=-1).values.sum(dim=-1)
    picked = groups.topk(self.topk_group, dim=-1).indices
    mask = torch.zeros_like(groups).scatter_(1, picked, 1).unsqueeze(-1)
    mask = mask.expand(n, self.num_group, self.num_experts // self.num_group).reshape(n, -1)
    weights, experts = scores.masked_fill(~mask.bool(), 0.0).topk(self.top_k, dim=-1)
    return experts, weights * self.routed_scaling_factor


def transformers_logits(folder):
    import torch
    import transformers

    # Eager attention: torch 1.13 has no scaled_dot_product_attention.
    model = transformers.AutoModelForCausalLM.from_pretrained(str(folder),
                                                              attn_implementation="eager")
    # float32 throughout: transformers dequantizes MXFP4 to bf16 whatever dtype is asked for.
    model = model.float().eval()
    with torch.no_grad():
        return model(torch.tensor([TOKENS])).logits[0].numpy().astype(np.float32)


def write_npz(path, arrays):
    """np.savez's layout with fixed entry dates, so that a rerun writes the same bytes."""
    with zipfile.ZipFile(path, "w") as z:
        for name, array in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, array)
            z.writestr(zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0)),
                       buf.getvalue())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--owl", type=Path, required=True, help="the owl binary")
    a = ap.parse_args()
    exec(moe.TORCH_SHIMS, globals())
    exec(LOAD_SHIMS, globals())
    logits, folders = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in FOLDERS:
            out = owl_folder(a.owl.resolve(), name, Path(tmp))
            logits[name] = transformers_logits(out)
            if name == "tiny-deepseek2":
                from transformers.models.deepseek_v2 import modeling_deepseek_v2 as v2

                logits[name + ".released_routing"] = logits[name]
                released = v2.DeepseekV2MoEGate.forward
                v2.DeepseekV2MoEGate.forward = llama_cpp_group_scores
                logits[name] = transformers_logits(out)
                v2.DeepseekV2MoEGate.forward = released
            folders[name] = {"sha256": {f: sha256(out / f) for f in HASHED}}
            print(f"{name}: logits {logits[name].shape}, largest {np.abs(logits[name]).max():.4f}")
    write_npz(OUT.with_suffix(".npz"), logits)
    record = {"made_by": "tests/data/hf/make_gguf_to_hf_logits.py",
              "environment": mf.tool_versions(sys.executable),
              "tokens": TOKENS, "folders": folders}
    OUT.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    moe.record_provenance("gguf_to_hf_logits", {
        "made_by": record["made_by"], "environment": record["environment"],
        "command": "make_gguf_to_hf_logits.py --owl build/bin/owl"})


if __name__ == "__main__":
    main()
