#!/usr/bin/env python3
"""Writes tests/data/hf/reference/tiny-embeddinggemma.embedding.txt: the sentence embedding that
sentence-transformers (transformers' Gemma3TextModel, then the folder's own Pooling, Dense and
Normalize modules) gives tests/data/hf/tiny-embeddinggemma for a fixed list of token ids, with
and without the Dense modules. owl's forward pass (tests/validate/gemma_test.cpp) must give the
same vectors. sentence-transformers' own classes need packages this venv lacks (Pillow, SciPy,
scikit-learn), so its modules are applied as their configs say: Pooling (the mean over the
attention mask), Dense (a linear map without bias, identity activation), Normalize (unit length),
in float64 after the model's float32 output.

The network llama.cpp runs for gemma-embedding is not quite the one config.json describes, and
owl runs llama.cpp's, so the reference model is given llama.cpp's reading where the two differ:

- Layer pattern: llama.cpp makes every sixth layer global and the others sliding, whatever
  config.json's layer_types says (neither converter writes layer_types to the GGUF). With two
  layers both slide, so transformers is told layer_types = [sliding, sliding]: both layers then
  take the local RoPE base, as in llama.cpp.
- Window: transformers lets a sliding layer see |i - j| < sliding_window (33 here: |i - j| <= 32),
  llama.cpp |i - j| <= sliding_window / 2 (16). The token list is 12 long, so neither window
  masks anything and the two agree.

Token ids: BOS, ten ids spread over the 512-token vocabulary, EOS (as the tokenizer adds them).

Run once by hand (see make_moe_fixtures.py for the venv):

  /work/ref/venv-hf/bin/python tests/data/hf/make_embeddinggemma_reference.py
"""

import json
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_moe_fixtures as moe  # noqa: E402

FOLDER = HERE / "tiny-embeddinggemma"
OUT = HERE / "reference" / "tiny-embeddinggemma.embedding.txt"
TOKENS = [1, 17, 301, 45, 499, 260, 3, 128, 77, 402, 233, 2]


def embed(folder, tokens, with_dense):
    exec(moe.TORCH_SHIMS, globals())
    import torch
    import transformers.utils.import_utils as import_utils
    import_utils._accelerate_available = False
    import transformers
    from safetensors.torch import load_file

    # from_pretrained needs a newer torch than Debian's: the model is built from its config and
    # the checkpoint loaded into it.
    cfg = transformers.AutoConfig.from_pretrained(str(folder))
    cfg._attn_implementation = "eager"
    model = transformers.Gemma3TextModel(cfg).float()
    missing, unexpected = model.load_state_dict(load_file(str(folder / "model.safetensors")),
                                                strict=True)
    assert not missing and not unexpected
    model.eval()
    ids = torch.tensor([tokens])
    mask = torch.ones_like(ids)
    # transformers builds the bidirectional masks with torch >= 2.6 only, so they are given
    # ready-made as its Gemma3TextModel.forward would build them: the global layers see every
    # token, the sliding ones those with |i - j| < sliding_window (additive masks, eager attention).
    n = len(tokens)
    pos = torch.arange(n)
    near = (pos[:, None] - pos[None, :]).abs() < cfg.sliding_window
    masks = {"full_attention": torch.zeros(1, 1, n, n),
             "sliding_attention": torch.zeros(1, 1, n, n).masked_fill(~near, float("-inf"))}
    with torch.no_grad():
        hidden = model(input_ids=ids, attention_mask=masks).last_hidden_state.double()
    modules = json.loads((folder / "modules.json").read_text())
    for m in modules[1:]:
        kind, path = m["type"].rsplit(".", 1)[1], folder / m["path"]
        if kind == "Pooling":
            cfg = json.loads((path / "config.json").read_text())
            assert cfg["pooling_mode_mean_tokens"] and cfg["include_prompt"]
            weights = mask.unsqueeze(-1).double()
            x = (hidden * weights).sum(1) / weights.sum(1)
        elif kind == "Dense" and with_dense:
            cfg = json.loads((path / "config.json").read_text())
            assert not cfg["bias"] and cfg["activation_function"].endswith("Identity")
            x = x @ load_file(str(path / "model.safetensors"))["linear.weight"].double().T
        elif kind == "Normalize":
            x = torch.nn.functional.normalize(x, p=2, dim=1)
    return x[0].tolist()


def main():
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / FOLDER.name
        shutil.copytree(FOLDER, folder)
        config = json.loads((folder / "config.json").read_text())
        config["layer_types"] = ["sliding_attention"] * config["num_hidden_layers"]
        (folder / "config.json").write_text(json.dumps(config, indent=2))
        dense = embed(folder, TOKENS, True)
        plain = embed(folder, TOKENS, False)
    lines = ["# tokens, then the embedding with the Dense modules, then without (see "
             "make_embeddinggemma_reference.py)",
             " ".join(map(str, TOKENS)),
             " ".join(f"{v:.9e}" for v in dense),
             " ".join(f"{v:.9e}" for v in plain)]
    OUT.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
