#!/usr/bin/env python3
"""Writes a synthetic Qwen2-MoE checkpoint as transformers lays one out: config.json, BF16 shards
(model-0000K-of-0000N.safetensors) and model.safetensors.index.json, with tiny-qwen2moe's
tokenizer. The tensors are tests/interop/test_hf_moe.py's Qwen2-MoE layout (one tensor per expert,
a shared expert and its gate, q/k/v biases); weights are random, written one tensor at a time, so
only speed and memory mean anything on it.

  make_synth_moe.py OUT_DIR [--experts 64 --layers 8 --hidden 2048 --expert-ff 1408
                             --heads 16 --shard-gb 2 --seed 9]

The defaults are the issue's realistic layer (Qwen1.5-MoE-A2.7B's and DeepSeek-V2-Lite's expert
shape): 64 experts of 1408 x 2048, 8 layers, about 9 GB; the shared expert and the dense width
are one expert wide, so that an expert matrix's size is the one that grows.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "interop"))
from test_hf_moe import qwen2moe_specs, write_bf16_safetensors  # noqa: E402  (the tests' layout)

FIXTURE = ROOT / "tests" / "data" / "hf" / "tiny-qwen2moe"


def shards_of(specs, limit):
    """The specs cut, in order, into groups of at most `limit` bytes (one tensor may exceed it)."""
    shards, cur, size = [], [], 0
    for name, shape in specs:
        n = 2 * int(np.prod(shape))
        if cur and size + n > limit:
            shards.append(cur)
            cur, size = [], 0
        cur.append((name, shape))
        size += n
    shards.append(cur)
    return shards


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--experts", type=int, default=64)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--expert-ff", type=int, default=1408)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--shard-gb", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=9)
    a = ap.parse_args()
    a.out.mkdir(parents=True)
    cfg = json.loads((FIXTURE / "config.json").read_text())
    cfg.update(hidden_size=a.hidden, num_hidden_layers=a.layers, num_attention_heads=a.heads,
               num_key_value_heads=a.heads, num_experts=a.experts, num_experts_per_tok=4,
               moe_intermediate_size=a.expert_ff, shared_expert_intermediate_size=a.expert_ff,
               intermediate_size=a.expert_ff)
    (a.out / "config.json").write_text(json.dumps(cfg, indent=2))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (a.out / name).write_bytes((FIXTURE / name).read_bytes())
    shards = shards_of(qwen2moe_specs(cfg), int(a.shard_gb * (1 << 30)))
    rng = np.random.default_rng(a.seed)
    weight_map, total = {}, 0
    for k, specs in enumerate(shards):
        file = f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors"
        total += write_bf16_safetensors(a.out / file, specs, rng)
        weight_map.update({name: file for name, _ in specs})
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (a.out / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    expert_mb = 2 * a.hidden * a.expert_ff / 2**20
    print(f"{a.out}: {total / 2**30:.2f} GiB in {len(shards)} shards, {a.layers} layers of "
          f"{a.experts} experts of {a.expert_ff} x {a.hidden} ({expert_mb:.2f} MiB each in BF16)")


if __name__ == "__main__":
    main()
