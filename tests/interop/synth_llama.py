"""A Llama-shaped Hugging Face folder of random weights, made at test time with numpy and the
`safetensors` package: the tokenizer and config of tests/data/hf/tiny-llama3, scaled up so that
quantizing it takes long enough to kill a run midway (and to time ranks against each other)."""

import json
import shutil
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

TINY = Path(__file__).resolve().parent.parent / "data" / "hf" / "tiny-llama3"


def make_llama(out: Path, hidden=512, ffn=1536, layers=8, heads=8, kv_heads=2, seed=0) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(TINY / name, out / name)
    config = json.loads((TINY / "config.json").read_text())
    config.update(hidden_size=hidden, intermediate_size=ffn, num_hidden_layers=layers,
                  num_attention_heads=heads, num_key_value_heads=kv_heads, torch_dtype="float32")
    (out / "config.json").write_text(json.dumps(config, indent=2))
    rng = np.random.default_rng(seed)
    head_dim = hidden // heads

    def w(*shape):
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float32)

    tensors = {"model.embed_tokens.weight": w(config["vocab_size"], hidden),
               "model.norm.weight": np.ones(hidden, np.float32)}
    for i in range(layers):
        p = f"model.layers.{i}."
        tensors.update({
            p + "input_layernorm.weight": np.ones(hidden, np.float32),
            p + "post_attention_layernorm.weight": np.ones(hidden, np.float32),
            p + "self_attn.q_proj.weight": w(heads * head_dim, hidden),
            p + "self_attn.k_proj.weight": w(kv_heads * head_dim, hidden),
            p + "self_attn.v_proj.weight": w(kv_heads * head_dim, hidden),
            p + "self_attn.o_proj.weight": w(hidden, heads * head_dim),
            p + "mlp.gate_proj.weight": w(ffn, hidden),
            p + "mlp.up_proj.weight": w(ffn, hidden),
            p + "mlp.down_proj.weight": w(hidden, ffn),
        })
    save_file(tensors, str(out / "model.safetensors"))
    return out
