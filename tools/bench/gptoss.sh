#!/usr/bin/env bash
# gpt-oss as OpenAI released it (MXFP4 experts as _blocks/_scales, everything else BF16), at
# gpt-oss-20b's layer shape (hidden 2880, 32 experts of 2880 x 2880, 64 heads of 64 over 8
# key/value heads), LAYERS layers of random weights: owl against llama.cpp's converter
# (convert_hf_to_gguf.py) and llama-quantize, one after the other, with wall time and peak RSS,
# and a check that the files are the same bytes. The experts go into GGUF as MXFP4 unchanged;
# MXFP4_MOE then keeps them and makes the rest Q8_0.
#
#   tools/bench/gptoss.sh LLAMA_CPP_TREE CONVERT_PYTHON LLAMA_QUANTIZE [LAYERS [THREADS]]
#
# CONVERT_PYTHON runs convert_hf_to_gguf.py (torch, transformers: see
# tests/data/hf/make_moe_fixtures.py); LLAMA_QUANTIZE is a built llama-quantize.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$root/tools/bench/measure.sh"
owl="${OWL_BIN:-$root/build/bin/owl}"
llama_cpp="${1:?usage: $0 LLAMA_CPP_TREE CONVERT_PYTHON LLAMA_QUANTIZE [LAYERS [THREADS]]}"
convert_python="${2:?convert python}"
llama_quantize="${3:?llama-quantize}"
layers="${4:-2}"
threads="${5:-$(nproc)}"
python="${OWL_PYTHON:-${OWL_VENV:-$HOME/.cache/owl/venv}/bin/python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/owl-bench-gptoss-XXXX")"
trap 'rm -rf "$work"' EXIT

(cd "$root/tests/interop" && "$python" - "$work/gptoss" "$layers" <<'PY'
import json, sys
from pathlib import Path
import numpy as np
import gguf_util as gu
from test_hf_moe import bf16

folder, layers = Path(sys.argv[1]), int(sys.argv[2])
h, ff, E, heads, kv, hd = 2880, 2880, 32, 64, 8, 64
folder.mkdir(parents=True)
src = gu.HF_DATA / "tiny-gptoss"
cfg = json.loads((src / "config.json").read_text())
cfg.update(hidden_size=h, intermediate_size=ff, num_local_experts=E, num_attention_heads=heads,
           num_key_value_heads=kv, head_dim=hd, num_hidden_layers=layers, sliding_window=128,
           layer_types=["sliding_attention" if i % 2 == 0 else "full_attention"
                        for i in range(layers)])
(folder / "config.json").write_text(json.dumps(cfg, indent=2))
for name in ("tokenizer.json", "tokenizer_config.json"):
    (folder / name).write_bytes((src / name).read_bytes())
V = cfg["vocab_size"]
specs = [("lm_head.weight", "BF16", (V, h)), ("model.embed_tokens.weight", "BF16", (V, h)),
         ("model.norm.weight", "BF16", (h,))]
for i in range(layers):
    p = f"model.layers.{i}."
    specs += [(p + "input_layernorm.weight", "BF16", (h,)),
              (p + "post_attention_layernorm.weight", "BF16", (h,)),
              (p + "mlp.router.weight", "BF16", (E, h)), (p + "mlp.router.bias", "BF16", (E,)),
              (p + "mlp.experts.gate_up_proj_blocks", "U8", (E, 2 * ff, h // 32, 16)),
              (p + "mlp.experts.gate_up_proj_scales", "U8", (E, 2 * ff, h // 32)),
              (p + "mlp.experts.gate_up_proj_bias", "BF16", (E, 2 * ff)),
              (p + "mlp.experts.down_proj_blocks", "U8", (E, h, ff // 32, 16)),
              (p + "mlp.experts.down_proj_scales", "U8", (E, h, ff // 32)),
              (p + "mlp.experts.down_proj_bias", "BF16", (E, h)),
              (p + "self_attn.sinks", "BF16", (heads,)),
              (p + "self_attn.o_proj.weight", "BF16", (h, heads * hd)),
              (p + "self_attn.o_proj.bias", "BF16", (h,))]
    for proj, rows in (("q", heads * hd), ("k", kv * hd), ("v", kv * hd)):
        specs += [(p + f"self_attn.{proj}_proj.weight", "BF16", (rows, h)),
                  (p + f"self_attn.{proj}_proj.bias", "BF16", (rows,))]
specs.sort()
header, offset = {"__metadata__": {"format": "pt"}}, 0
for name, dtype, shape in specs:
    size = int(np.prod(shape)) * (2 if dtype == "BF16" else 1)
    header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + size]}
    offset += size
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
rng = np.random.default_rng(3)
with open(folder / "model.safetensors", "wb") as f:
    f.write(len(text).to_bytes(8, "little") + text)
    for name, dtype, shape in specs:
        if name.endswith("_blocks"):
            f.write(rng.integers(0, 256, shape, dtype=np.uint8).tobytes())
        elif name.endswith("_scales"):
            f.write(rng.integers(118, 125, shape, dtype=np.uint8).tobytes())
        else:
            x = rng.standard_normal(shape, dtype=np.float32)
            f.write(bf16(1.0 + 0.1 * x if "norm" in name else 0.05 * x).tobytes())
PY
)
echo "model: $(du -sh "$work/gptoss/model.safetensors" | cut -f1), $layers layers of 32 MXFP4 experts (2880 x 2880); $threads threads"

wrapper="$(cd "$root/tests/data/hf" && "$python" -c "
import make_fixtures as mf; print(mf.CONVERT_WRAPPER.replace('PRE_TOKENIZER', repr('qwen2')))")"

measure "owl convert (MXFP4 kept)" "$owl" convert "$work/gptoss" -o "$work/owl.gguf" --no-provenance --quiet
owl_convert=("$MEASURED_WALL" "$MEASURED_RSS_MB")
measure "convert_hf_to_gguf.py (MXFP4 kept)" "$convert_python" -c "$wrapper" "$llama_cpp" \
  "$work/gptoss" --outtype f16 --outfile "$work/ref.gguf"
ref_convert=("$MEASURED_WALL" "$MEASURED_RSS_MB")
measure "owl quantize -> MXFP4_MOE" "$owl" quantize "$work/owl.gguf" -o "$work/owl.mx.gguf" \
  -t MXFP4_MOE --threads "$threads" --no-provenance --quiet
owl_quant=("$MEASURED_WALL" "$MEASURED_RSS_MB")
measure "llama-quantize -> MXFP4_MOE" "$llama_quantize" "$work/ref.gguf" "$work/ref.mx.gguf" \
  MXFP4_MOE "$threads"
ref_quant=("$MEASURED_WALL" "$MEASURED_RSS_MB")

same() { cmp -s "$1" "$2" && echo "the same bytes" || echo "DIFFERENT"; }
echo "converted files: $(same "$work/owl.gguf" "$work/ref.gguf"); MXFP4_MOE files: $(same "$work/owl.mx.gguf" "$work/ref.mx.gguf")"
echo "owl / llama.cpp: convert time $(ratio "${owl_convert[0]}" "${ref_convert[0]}"), peak RSS $(ratio "${owl_convert[1]}" "${ref_convert[1]}");" \
  "quantize time $(ratio "${owl_quant[0]}" "${ref_quant[0]}"), peak RSS $(ratio "${owl_quant[1]}" "${ref_quant[1]}")"
