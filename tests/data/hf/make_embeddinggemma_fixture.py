#!/usr/bin/env python3
"""Makes tests/data/hf/tiny-embeddinggemma/, an EmbeddingGemma-shaped sentence-embedding model
(transformers' Gemma3TextModel: no LM head, bidirectional attention), laid out as Google ships
EmbeddingGemma-300M: the Hugging Face model at the top, with sentence-transformers' modules.json,
a mean-pooling module (1_Pooling/config.json), two bias-free dense projections (2_Dense, 3_Dense:
hidden -> 4 * hidden -> hidden, each a config.json and a model.safetensors holding
"linear.weight") and a normalization module (4_Normalize, which has no files, so no folder).
tiny-llama's SentencePiece tokenizer.

And the reference GGUF files llama.cpp's converter (convert_hf_to_gguf.py, class EmbeddingGemma,
architecture gemma-embedding) writes from it:

  reference/tiny-embeddinggemma.f16.gguf        as the converter runs by default: the Gemma 3
                                                tensors and gemma-embedding.pooling_type.
  reference/tiny-embeddinggemma.dense.f16.gguf  with --sentence-transformers-dense-modules:
                                                also dense_2.weight / dense_3.weight and the
                                                dense_{2,3}_feat_{in,out} keys.

With use_bidirectional_attention, transformers 4.57's Gemma3TextConfig keeps sliding_window
// 2 + 1 of what it is given: the config made with 64 is saved as 33, and the converter, which
reads the config through AutoConfig (17), writes config.json's 33 again, as it writes
EmbeddingGemma-300M's 257.

Run once by hand (see make_moe_fixtures.py for the venv); the tests only read the outputs:

  /work/ref/venv-hf/bin/python tests/data/hf/make_embeddinggemma_fixture.py \\
      --llama-cpp /work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp
"""

import json
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_fixtures as mf  # noqa: E402
import make_moe_fixtures as moe  # noqa: E402

FOLDER = "tiny-embeddinggemma"
HIDDEN, DENSE = 32, 128
CONFIG = dict(vocab_size=mf.LLAMA_VOCAB, hidden_size=HIDDEN, intermediate_size=64,
              num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, head_dim=16,
              max_position_embeddings=2048, rms_norm_eps=1e-6, rope_theta=1000000.0,
              rope_local_base_freq=10000.0, query_pre_attn_scalar=16, sliding_window=64,
              layer_types=["sliding_attention", "full_attention"],
              use_bidirectional_attention=True, hidden_activation="gelu_pytorch_tanh",
              bos_token_id=1, eos_token_id=2, pad_token_id=0)

MODULES = [
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
    {"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"},
    {"idx": 4, "name": "4", "path": "4_Normalize",
     "type": "sentence_transformers.models.Normalize"},
]
POOLING = {"word_embedding_dimension": HIDDEN, "pooling_mode_cls_token": False,
           "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
           "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
           "pooling_mode_lasttoken": False, "include_prompt": True}


def make_model(folder, seed):
    exec(moe.TORCH_SHIMS, globals())
    import torch
    # accelerate, when the venv has it, needs a newer torch than Debian's; these models do not
    # use it, so transformers is told it is absent.
    import transformers.utils.import_utils as import_utils
    import_utils._accelerate_available = False
    import transformers

    torch.manual_seed(seed)
    model = transformers.Gemma3TextModel(transformers.Gemma3TextConfig(**CONFIG))
    moe.randomize_weights(model, torch)
    # EmbeddingGemma-300M is released in float32.
    model.to(torch.float32).save_pretrained(folder)
    (folder / "generation_config.json").unlink(missing_ok=True)


def write_json(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2) + "\n")


def make_sentence_transformers_modules(folder, seed):
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    write_json(folder / "modules.json", MODULES)
    write_json(folder / "1_Pooling" / "config.json", POOLING)
    for path, (n_in, n_out) in (("2_Dense", (HIDDEN, DENSE)), ("3_Dense", (DENSE, HIDDEN))):
        write_json(folder / path / "config.json",
                   {"in_features": n_in, "out_features": n_out, "bias": False,
                    "activation_function": "torch.nn.modules.linear.Identity"})
        weight = (0.05 * rng.standard_normal((n_out, n_in))).astype(np.float32)
        save_file({"linear.weight": weight}, str(folder / path / "model.safetensors"),
                  metadata={"format": "pt"})


def make_references(llama_cpp, python):
    commands = [moe.convert_reference(llama_cpp, python, FOLDER, "(unused)"),
                moe.convert_reference(llama_cpp, python, FOLDER, "(unused)",
                                      extra_args=["--sentence-transformers-dense-modules"],
                                      outtype_label="dense.f16")]
    moe.record_provenance("embeddinggemma", {
        "made_by": "tests/data/hf/make_embeddinggemma_fixture.py (transformers' Gemma3TextModel, "
                   "save_pretrained; the sentence-transformers modules written with numpy and "
                   "safetensors)",
        "environment": mf.tool_versions(python),
        "commands": commands,
    })


def main():
    ap = moe.argument_parser(__doc__)
    a = ap.parse_args()
    folder = HERE / FOLDER
    shutil.rmtree(folder, ignore_errors=True)
    make_model(folder, seed=70)
    make_sentence_transformers_modules(folder, seed=71)
    mf.copy_tokenizer("tiny-llama", folder, mf.SPM_FILES)
    if not a.folders_only:
        if a.llama_cpp is None:
            ap.error("--llama-cpp is required unless --folders-only")
        make_references(a.llama_cpp, a.convert_python)


if __name__ == "__main__":
    main()
