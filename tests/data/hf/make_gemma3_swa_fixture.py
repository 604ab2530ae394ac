#!/usr/bin/env python3
"""Makes tests/data/hf/tiny-gemma3-swa/, a Gemma 3 (text) checkpoint deep enough for the layer
pattern llama.cpp gives every Gemma 3: of each six layers the first five slide and the sixth
attends globally (the converter writes no pattern; llama.cpp derives it from the architecture).
tiny-gemma3 has two layers, both sliding under that rule, so its global RoPE base and scaling
never run.

Seven layers: 0-4 and 6 slide with a window of 8 tokens and RoPE base 10000, layer 5 is global
with base 1e6 and linear RoPE scaling by 8 (Gemma 3 4B-27B ship that scaling). config.json's
layer_types says the same, as transformers writes it. Random bf16 weights as make_fixtures.py
writes tiny-gemma3's (make_family), tiny-llama's SentencePiece tokenizer.

Run once by hand with a python that has numpy; the tests only read the output:

  python3 tests/data/hf/make_gemma3_swa_fixture.py
"""

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_fixtures as mf  # noqa: E402

FOLDER = "tiny-gemma3-swa"
LAYERS = 7
PATTERN = 6  # llama.cpp's for gemma3: layer i slides unless i % 6 == 5


def main():
    cfg, spec_args, tok_from, tok_files = mf.FAMILIES["tiny-gemma3"]
    cfg = dict(cfg, num_hidden_layers=LAYERS, sliding_window=8,
               rope_scaling={"rope_type": "linear", "factor": 8.0},
               layer_types=["full_attention" if i % PATTERN == PATTERN - 1 else
                            "sliding_attention" for i in range(LAYERS)])
    folder = HERE / FOLDER
    shutil.rmtree(folder, ignore_errors=True)
    mf.make_family(folder, cfg, spec_args, tok_from, tok_files, seed=90)


if __name__ == "__main__":
    main()
