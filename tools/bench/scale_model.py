#!/usr/bin/env python3
"""Weight counts and paper cost figures for docs/scale.md (stdlib only).

Counts the weights of DeepSeek-V3 671B and Kimi-K2 1T per tensor type from their
config.json shapes (MLA attention, dense FFN, routed and shared experts, router,
embedding, output head; the MTP layer is left out, as GGUF converters drop it),
the active weights per token, the importance-matrix statistics size, and the
pipeline hidden-state size per chunk. Run: python3 tools/bench/scale_model.py
"""

MODELS = {
    "DeepSeek-V3": dict(layers=61, dense=3, hidden=7168, ffn=18432, moe_ffn=2048,
                        experts=256, shared=1, topk=8, heads=128, q_lora=1536,
                        kv_lora=512, nope=128, rope=64, v=128, vocab=129280),
    "Kimi-K2": dict(layers=61, dense=1, hidden=7168, ffn=18432, moe_ffn=2048,
                    experts=384, shared=1, topk=8, heads=64, q_lora=1536,
                    kv_lora=512, nope=128, rope=64, v=128, vocab=163840),
}


def count(c):
    h, H = c["hidden"], c["heads"]
    moe_layers = c["layers"] - c["dense"]
    attn = (h * c["q_lora"] + c["q_lora"] * H * (c["nope"] + c["rope"])
            + h * (c["kv_lora"] + c["rope"]) + c["kv_lora"] * H * (c["nope"] + c["v"])
            + H * c["v"] * h)
    norms = 2 * h + c["q_lora"] + c["kv_lora"]
    t = {
        "attention (MLA)": c["layers"] * attn,
        "dense FFN": c["dense"] * 3 * h * c["ffn"],
        "routed experts": moe_layers * c["experts"] * 3 * h * c["moe_ffn"],
        "shared experts": moe_layers * c["shared"] * 3 * h * c["moe_ffn"],
        "router": moe_layers * (h * c["experts"] + c["experts"]),
        "embedding": c["vocab"] * h,
        "output head": c["vocab"] * h,
        "norms": c["layers"] * norms + h,
    }
    total = sum(t.values())
    active = (t["attention (MLA)"] + t["dense FFN"] + t["shared experts"] + t["router"]
              + t["output head"]
              + moe_layers * c["topk"] * 3 * h * c["moe_ffn"])
    # imatrix: one float sum of squares per input column of every 2-D matmul weight,
    # per expert for the expert tensors, plus one count per tensor (per expert)
    cols = (c["layers"] * (h + c["q_lora"] + h + c["kv_lora"] + H * c["v"])
            + c["dense"] * (h + h + c["ffn"])
            + moe_layers * (c["shared"] * (h + h + c["moe_ffn"]) + h)
            + moe_layers * c["experts"] * (h + h + c["moe_ffn"])
            + h)
    counts = c["layers"] * 5 + c["dense"] * 3 + moe_layers * (4 + 3 * c["experts"]) + 1
    return t, total, active, cols, counts


for name, c in MODELS.items():
    t, total, active, cols, counts = count(c)
    print(f"== {name}")
    for k, v in t.items():
        print(f"  {k:18s} {v:>17,d}  {100 * v / total:5.2f} %")
    print(f"  {'total':18s} {total:>17,d}")
    print(f"  active per token   {active:>17,d}  (embedding lookup not counted)")
    print(f"  bf16 bytes         {2 * total:>17,d}")
    layer_bytes = (total - t["embedding"] - t["output head"]) * 2 / c["layers"]
    print(f"  bf16 bytes/layer   {layer_bytes:>17,.0f}  (mean, all layers)")
    moe_layer = (3 * c["hidden"] * c["moe_ffn"] * (c["experts"] + c["shared"]) + c["hidden"] * c["experts"])
    print(f"  MoE FFN weights/layer {moe_layer:,d}")
    print(f"  imatrix columns    {cols:>17,d}  -> f32 {4 * cols / 1e9:.3f} GB, counts {counts:,d}")
    print(f"  hidden state/chunk of 512 tokens, f32: {512 * c['hidden'] * 4:,d} bytes")
    print(f"  forward FLOPs per token (2 x active): {2 * active / 1e9:.1f} GFLOP")
