#!/usr/bin/env python3
"""Writes a random PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors) for a
Llama-shaped Hugging Face folder: rank R on every projection of every layer, A and B drawn
N(0, 0.02). For benchmarks only (tools/bench/lora.sh); numpy and safetensors, no torch.

  make_lora_adapter.py BASE_DIR OUT_DIR [--rank 64] [--alpha 128]
"""

import argparse
import json
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

PROJ = {"self_attn.q_proj": ("hidden", "q"), "self_attn.k_proj": ("hidden", "kv"),
        "self_attn.v_proj": ("hidden", "kv"), "self_attn.o_proj": ("q", "hidden"),
        "mlp.gate_proj": ("hidden", "ffn"), "mlp.up_proj": ("hidden", "ffn"),
        "mlp.down_proj": ("ffn", "hidden")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("base", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--rank", type=int, default=64)
    ap.add_argument("--alpha", type=float, default=128)
    a = ap.parse_args()
    cfg = json.loads((a.base / "config.json").read_text())
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    dims = {"hidden": cfg["hidden_size"], "ffn": cfg["intermediate_size"],
            "q": cfg["num_attention_heads"] * head_dim,
            "kv": cfg.get("num_key_value_heads", cfg["num_attention_heads"]) * head_dim}
    rng = np.random.default_rng(0)
    tensors = {}
    for layer in range(cfg["num_hidden_layers"]):
        for module, (din, dout) in PROJ.items():
            name = f"base_model.model.model.layers.{layer}.{module}"
            tensors[f"{name}.lora_A.weight"] = (
                0.02 * rng.standard_normal((a.rank, dims[din]), dtype=np.float32))
            tensors[f"{name}.lora_B.weight"] = (
                0.02 * rng.standard_normal((dims[dout], a.rank), dtype=np.float32))
    a.out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(a.out / "adapter_model.safetensors"))
    (a.out / "adapter_config.json").write_text(json.dumps({
        "peft_type": "LORA", "r": a.rank, "lora_alpha": a.alpha, "bias": "none",
        "target_modules": sorted({m.split(".")[1] for m in PROJ}), "task_type": "CAUSAL_LM",
        "base_model_name_or_path": str(a.base)}, indent=2) + "\n")


if __name__ == "__main__":
    main()
