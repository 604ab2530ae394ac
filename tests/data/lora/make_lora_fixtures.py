#!/usr/bin/env python3
"""Makes the PEFT LoRA adapters under tests/data/lora/ and what other tools make of them: the GGUF
adapters llama.cpp's convert_lora_to_gguf.py writes, and the weights peft's merge_and_unload()
gives. Run once by hand; the tests only read the committed files.

  llama-r8/        tiny-llama, r 8, alpha 16, every projection, adapter_model.safetensors
  qwen2-r4-bin/    tiny-qwen2, r 4, alpha 8, the attention projections, adapter_model.bin
  llama-rslora/    tiny-llama, rsLoRA, r 8, alpha 8, rank_pattern {k_proj: 4}, alpha_pattern
                   {layers.1.mlp.down_proj: 24}, modules_to_save [lm_head]
  dora/            tiny-llama with use_dora (owl refuses it)
  reference/<name>.gguf            convert_lora_to_gguf.py --base tests/data/hf/<base> --outtype f32
                                   (not for llama-rslora: the converter refuses modules_to_save)
  reference/<name>.merged.safetensors
                   the base loaded in float32, the adapter applied, merge_and_unload(): the
                   tensors the adapter changes (in the base's Hugging Face names), float32
  reference/provenance.json        versions, commands, sha256 of every file

The A and B matrices are drawn N(0, 0.05) (peft would start B at zero: such an adapter changes
nothing). peft's model card (README.md) is not written: it names the absolute path of the base.

Needs torch, transformers and peft in the python that runs it, and a llama.cpp source tree for
the reference GGUFs. With /work/ref/venv-hf (Debian's torch 1.13): pip install --no-deps
peft==0.21.2 accelerate==0.34.2; the torch shims of ../hf/make_moe_fixtures.py are applied.

  /work/ref/venv-hf/bin/python tests/data/lora/make_lora_fixtures.py \\
      --llama-cpp /work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp
"""

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(HERE.parent / "hf"))
import make_moe_fixtures as moe  # noqa: E402  (TORCH_SHIMS)

ALL_PROJ = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

ADAPTERS = {
    "llama-r8": ("tiny-llama", dict(r=8, lora_alpha=16, target_modules=ALL_PROJ), True, True),
    "qwen2-r4-bin": ("tiny-qwen2", dict(r=4, lora_alpha=8,
                                        target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]),
                     False, True),
    "llama-rslora": ("tiny-llama", dict(r=8, lora_alpha=8, use_rslora=True,
                                        target_modules=["q_proj", "k_proj", "v_proj", "down_proj"],
                                        rank_pattern={"k_proj": 4},
                                        alpha_pattern={"layers.1.mlp.down_proj": 24},
                                        modules_to_save=["lm_head"]), True, False),
    "dora": ("tiny-llama", dict(r=4, lora_alpha=8, use_dora=True, target_modules=["q_proj"]),
             True, False),
}

CONVERT_WRAPPER = """
import sys
llama_cpp = sys.argv.pop(1)
sys.path.insert(0, llama_cpp)
import torch
for missing in ("float8_e4m3fn", "float8_e5m2"):  # torch < 2.1 (Debian 12): unused here
    if not hasattr(torch, missing):
        setattr(torch, missing, missing)
sys.argv[0] = "convert_lora_to_gguf.py"
import runpy
runpy.run_path(llama_cpp + "/convert_lora_to_gguf.py", run_name="__main__")
"""


def sha256(p):
    return hashlib.sha256(p.read_bytes()).hexdigest()


def load_base(base, torch, transformers):
    """The base in float32. from_pretrained needs a newer torch once accelerate is installed, so
    the model is built from its config and the checkpoint loaded into it."""
    from safetensors.torch import load_file

    folder = REPO / "tests/data/hf" / base
    cfg = transformers.AutoConfig.from_pretrained(folder)
    model = transformers.AutoModelForCausalLM.from_config(cfg, torch_dtype=torch.float32)
    state = {k: v.float() for k, v in load_file(str(folder / "model.safetensors")).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and set(missing) <= {"lm_head.weight"}, (missing, unexpected)
    model.tie_weights()
    return model.float().eval()


def make_adapter(name, base, lora_args, safetensors_file, seed):
    exec(moe.TORCH_SHIMS, globals())
    import peft
    import torch
    import transformers
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    model = load_base(base, torch, transformers)
    cfg = peft.LoraConfig(init_lora_weights=False, **lora_args)
    model = peft.get_peft_model(model, cfg)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if "lora_" in pname:
                p.copy_(0.05 * torch.randn_like(p))
            elif "modules_to_save" in pname:
                p.add_(0.01 * torch.randn_like(p))
    out = HERE / name
    shutil.rmtree(out, ignore_errors=True)
    model.create_or_update_model_card = lambda _folder: None  # needs Jinja2; names the base's path
    model.save_pretrained(out, safe_serialization=safetensors_file)
    # The base as the repository names it, not this machine's absolute path.
    cfg_path = out / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["base_model_name_or_path"] = f"tests/data/hf/{base}"
    cfg["target_modules"] = sorted(cfg["target_modules"])  # a set in peft: any order
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    for f in out.iterdir():
        f.chmod(0o644)
    if lora_args.get("use_dora"):
        return
    base_sd = load_base(base, torch, transformers).state_dict()
    merged = model.merge_and_unload().state_dict()
    changed = {k: v.contiguous() for k, v in merged.items() if not torch.equal(v, base_sd[k])}
    merged_path = HERE / "reference" / f"{name}.merged.safetensors"
    save_file(changed, str(merged_path))
    merged_path.chmod(0o644)


def convert_reference(llama_cpp, python, name, base):
    out = HERE / "reference" / f"{name}.gguf"
    subprocess.run([python, "-c", CONVERT_WRAPPER, str(llama_cpp), str(HERE / name), "--base",
                    str(REPO / "tests/data/hf" / base), "--outtype", "f32", "--outfile",
                    str(out)], check=True, cwd=REPO)
    return (f"convert_lora_to_gguf.py tests/data/lora/{name} --base tests/data/hf/{base} "
            f"--outtype f32 --outfile tests/data/lora/reference/{out.name}")


def versions():
    out = {"python": sys.version.split()[0]}
    for p in ("torch", "transformers", "peft", "safetensors", "numpy"):
        out[p] = __import__(p).__version__
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--llama-cpp", type=Path, required=True, help="llama.cpp source tree")
    ap.add_argument("--convert-python", default=sys.executable,
                    help="python that runs convert_lora_to_gguf.py (torch, transformers)")
    a = ap.parse_args()
    import os
    os.chdir(REPO)
    shutil.rmtree(HERE / "reference", ignore_errors=True)
    (HERE / "reference").mkdir()
    commands = []
    for seed, (name, (base, lora_args, st, reference)) in enumerate(ADAPTERS.items()):
        make_adapter(name, base, lora_args, st, seed=60 + seed)
        if reference:
            commands.append(convert_reference(a.llama_cpp, a.convert_python, name, base))
    provenance = {
        "made_by": "tests/data/lora/make_lora_fixtures.py (peft get_peft_model, save_pretrained, "
                   "merge_and_unload; llama.cpp's convert_lora_to_gguf.py from the "
                   "llama-cpp-python 0.3.36 sdist)",
        "environment": versions(),
        "commands": commands,
        "sha256": {p.relative_to(HERE).as_posix(): sha256(p) for p in sorted(HERE.rglob("*"))
                   if p.is_file() and p.suffix not in (".py", ".pyc")
                   and p.name != "provenance.json"},
    }
    (HERE / "reference" / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")


if __name__ == "__main__":
    main()
