#!/usr/bin/env python3
"""Makes the Phi-3 LongRoPE fixture folder under tests/data/hf/ with transformers' own model class,
and the reference GGUF file llama.cpp's converter (convert_hf_to_gguf.py) writes from it. A
sibling of make_moe_fixtures.py (same venv, same torch shims, same converter wrapper).

This is run once by hand and its outputs are committed; the tests only read the committed files.

  tests/data/hf/tiny-phi3-longrope/  Phi3ForCausalLM (save_pretrained, bf16) shaped like
                                     Phi-4-mini and Phi-3-mini-128k: fused qkv_proj over grouped
                                     key/value heads and gate_up_proj, rope_scaling
                                     {"type": "longrope", "long_factor", "short_factor"} trained
                                     at 128 positions and stretched to 1024 (the converter
                                     writes the factors as rope_factors_long/short and
                                     attention factor sqrt(1 + ln 8 / ln 128)), a partial rotary
                                     factor of 0.75, and a sliding window of 32 (shorter than the
                                     tests' chunks: llama.cpp 0.3.36 reads it and leaves it off);
                                     tiny-phi3's tokenizer and chat tokens.
  tests/data/hf/reference/           tiny-phi3-longrope.f16.gguf written by convert_hf_to_gguf.py;
                                     its entry is added to provenance.json.

The factors are fixed numbers, not drawn, rising from 1 towards the low frequencies as released
LongRoPE factors do; long and short differ in every pair, so a forward pass that takes the wrong
set (or none) gives other logits.

  /work/ref/venv-hf/bin/python tests/data/hf/make_phi3_fixtures.py \\
      --llama-cpp /work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp
"""

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_fixtures as mf  # noqa: E402
import make_moe_fixtures as moe  # noqa: E402  (helpers: make_family, convert_reference, ...)

FOLDER = "tiny-phi3-longrope"
# hidden 64 over 4 heads: head size 16, of which 12 rotate (partial_rotary_factor 0.75): 6 pairs.
LONG_FACTOR = [1.0, 1.25, 2.0, 3.5, 6.0, 9.0]
SHORT_FACTOR = [1.0, 1.02, 1.05, 1.1, 1.3, 1.6]
CONFIG = dict(vocab_size=mf.PHI3_VOCAB, intermediate_size=96, max_position_embeddings=1024,
              original_max_position_embeddings=128, partial_rotary_factor=0.75,
              rope_theta=10000.0, rope_scaling={"type": "longrope", "long_factor": LONG_FACTOR,
                                                "short_factor": SHORT_FACTOR},
              sliding_window=32, rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=mf.LLAMA_VOCAB,
              pad_token_id=mf.LLAMA_VOCAB)
TOKENIZER = ("tiny-phi3", mf.SPM_FILES + ["added_tokens.json"])


def main():
    ap = moe.argument_parser(__doc__)
    a = ap.parse_args()
    folder = HERE / FOLDER
    shutil.rmtree(folder, ignore_errors=True)
    moe.make_family(folder, "Phi3Config", "Phi3ForCausalLM", CONFIG, seed=70)
    mf.copy_tokenizer(TOKENIZER[0], folder, TOKENIZER[1])
    if not a.folders_only:
        if a.llama_cpp is None:
            ap.error("--llama-cpp is required unless --folders-only")
        command = moe.convert_reference(a.llama_cpp, a.convert_python, FOLDER, "(unused)")
        moe.record_provenance("phi3_longrope", {
            "made_by": "tests/data/hf/make_phi3_fixtures.py (transformers' Phi3ForCausalLM, "
                       "save_pretrained)",
            "environment": mf.tool_versions(a.convert_python),
            "commands": [command],
        })


if __name__ == "__main__":
    main()
