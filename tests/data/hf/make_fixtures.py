#!/usr/bin/env python3
"""Makes the Hugging Face fixture folders under tests/data/hf/ and the reference GGUF files that
llama.cpp's own converter (convert_hf_to_gguf.py) writes from them.

This is run once by hand and its outputs are committed; the tests only read the committed files.

  tests/data/hf/tiny-llama/   Llama-shaped random weights (bf16) from make_synth_llama.py, a
                              SentencePiece tokenizer.model (BPE with byte fallback, trained here)
                              and tokenizer_config.json.
  tests/data/hf/tiny-qwen2/   Qwen2-shaped random weights (bf16, q/k/v biases, tied embeddings,
                              vocab padded past the tokenizer), a byte-level BPE tokenizer.json
                              trained here with Qwen2's pre-tokenizer regex, tokenizer_config.json
                              with a ChatML chat_template.
  tests/data/hf/tiny-llama3/  Llama 3's layout: byte-level BPE tokenizer.json with Llama 3's regex,
                              llama3 RoPE scaling, a list of eos ids.
  tests/data/hf/tiny-qwen3/, tiny-mistral/, tiny-gemma/, tiny-gemma2/, tiny-gemma3/, tiny-phi3/
                              smaller folders of the other families owl normalizes, reusing
                              the two tokenizers (Phi-3 adds its chat tokens).
  tests/data/hf/reference/    <folder>.<outtype>.gguf written by convert_hf_to_gguf.py, and
                              provenance.json (tool versions, commands, sha256 of every output).

Needs: numpy, sentencepiece and tokenizers in the python running this script (weights and
tokenizers), and for the reference GGUFs a llama.cpp source tree plus a python that can run its
converter (torch, transformers, numpy, sentencepiece). On Debian 12:

  apt-get install python3-torch python3-numpy python3-sentencepiece
  /usr/bin/python3 -m venv --system-site-packages /tmp/convenv
  /tmp/convenv/bin/pip install transformers==4.57.6 -c <(echo numpy==1.24.2)
  pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36 -d /tmp/lcp
  tar xzf /tmp/lcp/llama_cpp_python-0.3.36.tar.gz -C /tmp/lcp
  python3 tests/data/hf/make_fixtures.py \\
      --llama-cpp /tmp/lcp/llama_cpp_python-0.3.36/vendor/llama.cpp \\
      --convert-python /tmp/convenv/bin/python

The trained BPE tokenizers are not ones that convert_hf_to_gguf.py recognises by hash, so the
converter is run with get_vocab_base_pre() answering "qwen2" or "llama-bpe": the tokenizers do
use Qwen2's or Llama 3's split regex, which is what those names mean to llama.cpp. Debian's
torch (1.13) lacks the float8 dtypes the converter names in a lookup table; they are given
placeholder values, as no fixture holds float8 tensors. Nothing else is changed.
"""

import argparse
import hashlib
import io
import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SYNTH_LLAMA = Path("/work/shared/tools/make_synth_llama.py")

LLAMA_VOCAB = 512
QWEN2_BPE_VOCAB = 400       # byte alphabet + learned merges
QWEN2_CONFIG_VOCAB = 448    # padded past the tokenizer, as Qwen2's own checkpoints are
QWEN2_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# Qwen2's pre-tokenizer split pattern, as its tokenizer.json holds it.
QWEN2_SPLIT_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
                     r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

# Llama 3's split pattern (digits in runs of up to three), as its tokenizer.json holds it.
LLAMA3_SPLIT_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                      r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_BPE_VOCAB = 420
LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                   "<|end_header_id|>", "<|eot_id|>"]
LLAMA3_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content']"
    " + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{% endif %}")

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")

# Training text for both tokenizers (written for these fixtures).
CORPUS = """\
Once upon a time there was a small owl who lived in an old oak tree at the edge of the forest.
Every night the owl opened its big round eyes and looked at the stars above the hills.
The owl liked to count things: three mice, seven leaves, twelve stones, and 2048 grains of sand.
One morning a fox came to the tree and asked, "Why do you stay awake when everyone sleeps?"
The owl said, "Because the night is quiet, and I can hear the river singing to the moon."
The fox laughed. "I'll stay up with you tonight, and we'll see what the river says."
They sat together on a low branch. The wind was cold, but the fox had a warm tail.
At midnight the river told them about the mountains, the rain, and the long way to the sea.
When the sun came up, the fox went home to sleep, and the owl closed its eyes at last.
The next evening the fox came back with a rabbit, a hedgehog and a very shy mouse.
Soon the whole forest gathered under the oak tree to listen to the river at night.
They shared berries, nuts and stories; the hedgehog sang a song about apples in autumn.
The mouse was shy at first, but then she told a funny story about a cat who lost its hat.
Everyone laughed so loudly that the moon peeked out from behind a cloud to see them.
The owl wrote the stories down in a little book: 1, 2, 3 ... 10, 11, 12 stories in all.
Models, weights and tensors: the lab converts them, checks them and writes them again.
A tensor has a name, a shape such as [64, 128], a type like F16 or Q8_0, and many bytes.
Quantization keeps the numbers small; a block of 32 values shares one scale (q = x / d).
Don't forget: it's the same file whether you read it today or tomorrow, byte for byte.
We've tested it twice, they're sure it works, and you'd better believe the results.
Café, naïve, façade, jalapeño, Zürich, smörgåsbord and crème brûlée are words too.
Числа и слова: один, два, три. 日本語のテキストも少し。 Emoji: 🦉 🌙 ✨.
def add(a, b):\n    return a + b  # a tiny function, indented with four spaces
for i in range(10): print(i * i, end=", ")
    Leading spaces,\ttabs\tand  double  spaces  matter  to  tokenizers.
The end of the story is also the beginning of a new one, said the owl, and went to sleep.
"""


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def corpus_lines():
    lines = [line for line in CORPUS.splitlines() if line.strip()]
    # Repeat with small variations so the trainers see enough pairs for the requested sizes.
    out = []
    for k in range(4):
        for line in lines:
            out.append(line if k == 0 else line.replace("owl", ["Owl", "owls", "old owl"][k - 1]))
    return out


# --- weights ------------------------------------------------------------------------------

def bf16_bytes(a):
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16  # round to nearest even
    return u.astype(np.uint16).tobytes()


def write_safetensors(path, tensors):
    """tensors: [(name, shape, float32 array)] stored as BF16 in the given order."""
    header = {"__metadata__": {"format": "pt"}}
    blobs = []
    offset = 0
    for name, shape, arr in tensors:
        blob = bf16_bytes(arr.reshape(shape))
        header[name] = {"dtype": "BF16", "shape": list(shape),
                        "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for blob in blobs:
            f.write(blob)


def random_tensors(spec, seed):
    """[(name, shape, float32 array)] for spec [(name, shape, kind)]: kind "w" for weights and
    biases, "norm" for RMSNorm weights near 1, "norm0" for weights near 0 that the model adds 1
    to (Gemma)."""
    rng = np.random.default_rng(seed)
    out = []
    for name, shape, kind in spec:
        x = rng.standard_normal(shape)
        x = {"w": 0.05 * x, "norm": 1.0 + 0.1 * x, "norm0": 0.1 * x}[kind]
        out.append((name, shape, x.astype(np.float32)))
    return out


def decoder_spec(cfg, qkv_bias=False, qk_norm=False, sandwich_norms=False, fused=False,
                 norm="norm", lm_head=False):
    """The tensors of a Llama-like decoder: attention, SwiGLU/GeGLU MLP and RMSNorms, with the
    variations the families below need."""
    h, ffn, vocab = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    heads, kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim", h // heads)
    spec = [("model.embed_tokens.weight", (vocab, h), "w")]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        a, m = p + "self_attn.", p + "mlp."
        spec.append((p + "input_layernorm.weight", (h,), norm))
        if fused:
            spec.append((a + "qkv_proj.weight", ((heads + 2 * kv) * hd, h), "w"))
        else:
            for proj, rows in (("q", heads * hd), ("k", kv * hd), ("v", kv * hd)):
                spec.append((a + f"{proj}_proj.weight", (rows, h), "w"))
                if qkv_bias:
                    spec.append((a + f"{proj}_proj.bias", (rows,), "w"))
        if qk_norm:
            spec += [(a + "q_norm.weight", (hd,), norm), (a + "k_norm.weight", (hd,), norm)]
        spec.append((a + "o_proj.weight", (h, heads * hd), "w"))
        spec.append((p + "post_attention_layernorm.weight", (h,), norm))
        if sandwich_norms:
            spec += [(p + "pre_feedforward_layernorm.weight", (h,), norm),
                     (p + "post_feedforward_layernorm.weight", (h,), norm)]
        if fused:
            spec.append((m + "gate_up_proj.weight", (2 * ffn, h), "w"))
        else:
            spec += [(m + "gate_proj.weight", (ffn, h), "w"), (m + "up_proj.weight", (ffn, h), "w")]
        spec.append((m + "down_proj.weight", (h, ffn), "w"))
    spec.append(("model.norm.weight", (h,), norm))
    if lm_head:
        spec.append(("lm_head.weight", (vocab, h), "w"))
    return spec


# --- tiny-llama ---------------------------------------------------------------------------

def make_llama(folder):
    subprocess.run([sys.executable, str(SYNTH_LLAMA), str(folder), "--hidden", "64", "--layers",
                    "2", "--ffn", "128", "--heads", "4", "--kv", "2", "--vocab",
                    str(LLAMA_VOCAB), "--dtype", "bf16", "--seed", "7"], check=True)
    import sentencepiece as spm

    # Trained from an iterator into memory, so that no temporary path ends up in the model's
    # trainer spec and the file is the same on every run.
    model = io.BytesIO()
    # The trainer settings of Llama's own tokenizer.model, at a tiny vocabulary size.
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus_lines()), model_writer=model, model_type="bpe",
        vocab_size=LLAMA_VOCAB, character_coverage=0.9995, byte_fallback=True, split_digits=True,
        allow_whitespace_only_pieces=True, remove_extra_whitespaces=False,
        normalization_rule_name="identity", add_dummy_prefix=True, unk_id=0, bos_id=1, eos_id=2,
        pad_id=-1, num_threads=1, minloglevel=2)
    (folder / "tokenizer.model").write_bytes(model.getvalue())
    specials = {"0": "<unk>", "1": "<s>", "2": "</s>"}
    tokenizer_config = {
        "add_bos_token": True,
        "add_eos_token": False,
        "added_tokens_decoder": {
            k: {"content": v, "lstrip": False, "normalized": False, "rstrip": False,
                "single_word": False, "special": True} for k, v in specials.items()},
        "bos_token": "<s>",
        "clean_up_tokenization_spaces": False,
        "eos_token": "</s>",
        "legacy": False,
        "model_max_length": 2048,
        "pad_token": None,
        "sp_model_kwargs": {},
        "tokenizer_class": "LlamaTokenizer",
        "unk_token": "<unk>",
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2) + "\n")


# --- tiny-qwen2 ---------------------------------------------------------------------------

def train_bpe_tokenizer(split_regex, vocab_size, specials, bos=None):
    """A byte-level BPE tokenizer as Qwen2's and Llama 3's tokenizer.json are built: a split
    regex, byte-level pieces, special tokens after the learned vocabulary and, given bos, a
    post-processor that puts it in front (as Llama 3's does)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers import processors, trainers

    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    if bos is None:
        tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(split_regex), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    byte_level = processors.ByteLevel(add_prefix_space=False, trim_offsets=False,
                                      use_regex=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(corpus_lines(), trainer)
    tok.add_special_tokens(specials)
    if bos is None:
        tok.post_processor = byte_level
    else:
        bos_id = tok.token_to_id(bos)
        tok.post_processor = processors.Sequence([byte_level, processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, bos_id)])])
    return tok


def make_qwen2(folder):
    folder.mkdir(parents=True, exist_ok=True)
    tok = train_bpe_tokenizer(QWEN2_SPLIT_REGEX, QWEN2_BPE_VOCAB, QWEN2_SPECIALS)
    tok.save(str(folder / "tokenizer.json"))
    n_tokens = tok.get_vocab_size(with_added_tokens=True)
    assert n_tokens <= QWEN2_CONFIG_VOCAB, n_tokens
    ids = {s: tok.token_to_id(s) for s in QWEN2_SPECIALS}
    cfg = {
        "architectures": ["Qwen2ForCausalLM"],
        "attention_dropout": 0.0,
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "hidden_act": "silu",
        "hidden_size": 64,
        "initializer_range": 0.02,
        "intermediate_size": 128,
        "max_position_embeddings": 4096,
        "max_window_layers": 2,
        "model_type": "qwen2",
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "num_key_value_heads": 2,
        "rms_norm_eps": 1e-06,
        "rope_theta": 1000000.0,
        "sliding_window": 4096,
        "tie_word_embeddings": True,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.57.6",
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": QWEN2_CONFIG_VOCAB,
    }
    (folder / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    tokenizer_config = {
        "add_prefix_space": False,
        "added_tokens_decoder": {
            str(i): {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                     "single_word": False, "special": True} for s, i in ids.items()},
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "bos_token": None,
        "chat_template": CHATML_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": 4096,
        "pad_token": "<|endoftext|>",
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2) + "\n")
    write_safetensors(folder / "model.safetensors",
                      random_tensors(decoder_spec(cfg, qkv_bias=True), seed=11))


# --- tiny-llama3 --------------------------------------------------------------------------

def make_llama3(folder):
    """Llama 3's layout: a byte-level BPE tokenizer.json (no tokenizer.model), a list of eos ids,
    llama3 RoPE scaling (the converter adds a rope_freqs tensor; the original context of 256 puts
    one of the four frequencies in the smoothly interpolated band)."""
    folder.mkdir(parents=True, exist_ok=True)
    tok = train_bpe_tokenizer(LLAMA3_SPLIT_REGEX, LLAMA3_BPE_VOCAB, LLAMA3_SPECIALS,
                              bos="<|begin_of_text|>")
    tok.save(str(folder / "tokenizer.json"))
    ids = {s: tok.token_to_id(s) for s in LLAMA3_SPECIALS}
    cfg = {**SMALL, **NARROW, "architectures": ["LlamaForCausalLM"], "model_type": "llama",
           "vocab_size": tok.get_vocab_size(with_added_tokens=True),
           "max_position_embeddings": 8192, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
           "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                            "original_max_position_embeddings": 256, "rope_type": "llama3"},
           "hidden_act": "silu", "tie_word_embeddings": True, "attention_bias": False,
           "mlp_bias": False, "bos_token_id": ids["<|begin_of_text|>"],
           "eos_token_id": [ids["<|end_of_text|>"], ids["<|eot_id|>"]]}
    (folder / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    tokenizer_config = {
        "added_tokens_decoder": {
            str(i): {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                     "single_word": False, "special": True} for s, i in ids.items()},
        "bos_token": "<|begin_of_text|>",
        "chat_template": LLAMA3_TEMPLATE,
        "clean_up_tokenization_spaces": True,
        "eos_token": "<|eot_id|>",
        "model_input_names": ["input_ids", "attention_mask"],
        "model_max_length": 8192,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2) + "\n")
    write_safetensors(folder / "model.safetensors",
                      random_tensors(decoder_spec(cfg), seed=12))


# --- more families, smaller (hidden 32 or 16), with the tokenizers above ---------------------

SMALL = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
         "num_attention_heads": 2, "num_key_value_heads": 1, "torch_dtype": "bfloat16",
         "transformers_version": "4.57.6", "use_cache": True, "attention_dropout": 0.0,
         "initializer_range": 0.02}


def copy_tokenizer(src, folder, names):
    for name in names:
        shutil.copy(HERE / src / name, folder / name)


def make_family(folder, cfg, spec_args, tokenizer_from, tokenizer_files, seed):
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {**SMALL, **cfg}
    (folder / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    copy_tokenizer(tokenizer_from, folder, tokenizer_files)
    write_safetensors(folder / "model.safetensors",
                      random_tensors(decoder_spec(cfg, **spec_args), seed))


# Phi-3's chat tokens, added after the SentencePiece vocabulary (llama.cpp looks
# <|endoftext|> up by name in Phi-3 models); the config's vocabulary is padded past them.
PHI3_ADDED = ["<|endoftext|>", "<|assistant|>", "<|system|>", "<|end|>", "<|user|>"]
PHI3_VOCAB = 520
PHI3_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}")


def add_phi3_tokens(folder):
    added = {tok: LLAMA_VOCAB + i for i, tok in enumerate(PHI3_ADDED)}
    (folder / "added_tokens.json").write_text(json.dumps(added, indent=2) + "\n")
    config = json.loads((folder / "tokenizer_config.json").read_text())
    for tok, i in added.items():
        config["added_tokens_decoder"][str(i)] = {
            "content": tok, "lstrip": False, "normalized": False, "rstrip": tok != "<|endoftext|>",
            "single_word": False, "special": tok in ("<|endoftext|>", "<|end|>")}
    config.update(eos_token="<|endoftext|>", pad_token="<|endoftext|>",
                  chat_template=PHI3_TEMPLATE)
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")


# The SentencePiece families are narrower still (their vocabulary is the larger one).
NARROW = {"hidden_size": 16, "intermediate_size": 32}
SPM_FILES = ["tokenizer.model", "tokenizer_config.json"]
BPE_FILES = ["tokenizer.json", "tokenizer_config.json"]

FAMILIES = {
    # Qwen3: per-head RMSNorm on q and k, head_dim larger than hidden / heads, tied embeddings.
    "tiny-qwen3": (dict(architectures=["Qwen3ForCausalLM"], model_type="qwen3", head_dim=32,
                        vocab_size=QWEN2_CONFIG_VOCAB, max_position_embeddings=4096,
                        rms_norm_eps=1e-06, rope_theta=1000000.0, tie_word_embeddings=True,
                        attention_bias=False, hidden_act="silu", bos_token_id=400,
                        eos_token_id=402, sliding_window=None, use_sliding_window=False,
                        max_window_layers=2),
                   dict(qk_norm=True), "tiny-qwen2", BPE_FILES),
    # Gemma: norms stored as (weight - 1), GeGLU, tied embeddings, no space prefix.
    "tiny-gemma": (dict(architectures=["GemmaForCausalLM"], model_type="gemma", head_dim=16,
                        vocab_size=LLAMA_VOCAB, max_position_embeddings=8192, rms_norm_eps=1e-06,
                        rope_theta=10000.0, hidden_act="gelu_pytorch_tanh",
                        hidden_activation="gelu_pytorch_tanh", attention_bias=False,
                        bos_token_id=1, eos_token_id=2, pad_token_id=0, **NARROW),
                   dict(norm="norm0"), "tiny-llama", SPM_FILES),
    # Gemma2: logit soft-capping, sliding window, sandwich norms.
    "tiny-gemma2": (dict(architectures=["Gemma2ForCausalLM"], model_type="gemma2", head_dim=16,
                         vocab_size=LLAMA_VOCAB, max_position_embeddings=8192,
                         rms_norm_eps=1e-06, rope_theta=10000.0,
                         hidden_activation="gelu_pytorch_tanh", attention_bias=False,
                         attn_logit_softcapping=50.0, final_logit_softcapping=30.0,
                         query_pre_attn_scalar=16, sliding_window=64,
                         cache_implementation="hybrid", bos_token_id=1, eos_token_id=2,
                         pad_token_id=0, **NARROW),
                    dict(norm="norm0", sandwich_norms=True), "tiny-llama", SPM_FILES),
    # Gemma3 (text): q/k norms, local and global layers with their own RoPE bases.
    "tiny-gemma3": (dict(architectures=["Gemma3ForCausalLM"], model_type="gemma3_text",
                         head_dim=16, vocab_size=LLAMA_VOCAB, max_position_embeddings=8192,
                         rms_norm_eps=1e-06, rope_theta=1000000.0, rope_local_base_freq=10000.0,
                         rope_scaling=None, hidden_activation="gelu_pytorch_tanh",
                         attention_bias=False, query_pre_attn_scalar=16, sliding_window=64,
                         layer_types=["sliding_attention", "full_attention"],
                         final_logit_softcapping=None, attn_logit_softcapping=None,
                         bos_token_id=1, eos_token_id=2, pad_token_id=0, **NARROW),
                    dict(norm="norm0", sandwich_norms=True, qk_norm=True), "tiny-llama",
                    SPM_FILES),
    # Phi-3: fused qkv_proj and gate_up_proj, separate lm_head, added chat tokens.
    "tiny-phi3": (dict(architectures=["Phi3ForCausalLM"], model_type="phi3",
                       num_key_value_heads=2, vocab_size=PHI3_VOCAB,
                       max_position_embeddings=4096, original_max_position_embeddings=4096,
                       rms_norm_eps=1e-05, rope_theta=10000.0, rope_scaling=None,
                       sliding_window=2047, hidden_act="silu", tie_word_embeddings=False,
                       attention_bias=False, bos_token_id=1, eos_token_id=LLAMA_VOCAB,
                       pad_token_id=LLAMA_VOCAB, resid_pdrop=0.0, embd_pdrop=0.0, **NARROW),
                  dict(fused=True, lm_head=True), "tiny-llama", SPM_FILES),
    # Mistral: Llama's converter path (Q/K permuted), a sliding window in the config.
    "tiny-mistral": (dict(architectures=["MistralForCausalLM"], model_type="mistral",
                          vocab_size=LLAMA_VOCAB, max_position_embeddings=4096,
                          rms_norm_eps=1e-05, rope_theta=10000.0, sliding_window=4096,
                          hidden_act="silu", tie_word_embeddings=False, bos_token_id=1,
                          eos_token_id=2, **NARROW),
                     dict(lm_head=True), "tiny-llama", SPM_FILES),
}


# --- reference GGUFs ----------------------------------------------------------------------

# Runs convert_hf_to_gguf.main() with the pre-tokenizer check answered (see the docstring).
CONVERT_WRAPPER = """
import sys
llama_cpp = sys.argv.pop(1)
sys.path.insert(0, llama_cpp)
import torch
for missing in ("float8_e4m3fn", "float8_e5m2"):  # torch < 2.1 (Debian 12): unused here
    if not hasattr(torch, missing):
        setattr(torch, missing, missing)
import convert_hf_to_gguf as cv
from conversion import base
pre = PRE_TOKENIZER
base.TextModel.get_vocab_base_pre = lambda self, tokenizer: pre
sys.argv[0] = "convert_hf_to_gguf.py"
cv.main()
"""

REFERENCES = [("tiny-llama", "f16"), ("tiny-llama", "q8_0"), ("tiny-qwen2", "f16"),
              ("tiny-llama3", "f16")] + [(name, "f16") for name in FAMILIES]

# The llama.cpp pre-tokenizer each trained BPE tokenizer implements (see the docstring).
PRE_TOKENIZERS = {"tiny-qwen2": "qwen2", "tiny-qwen3": "qwen2", "tiny-llama3": "llama-bpe"}


def tool_versions(python):
    code = ("import json, importlib.metadata as m, sys\n"
            "out = {'python': sys.version.split()[0]}\n"
            "for p in ('torch', 'transformers', 'tokenizers', 'sentencepiece', 'numpy'):\n"
            "    try: out[p] = __import__(p).__version__\n"
            "    except ImportError: pass\n"
            "print(json.dumps(out))")
    return json.loads(subprocess.run([python, "-c", code], check=True, capture_output=True,
                                     text=True).stdout)


def make_references(llama_cpp, python, source_label):
    ref = HERE / "reference"
    ref.mkdir(exist_ok=True)
    commands = []
    for folder, outtype in REFERENCES:
        out = ref / f"{folder}.{outtype}.gguf"
        wrapper = CONVERT_WRAPPER.replace("PRE_TOKENIZER",
                                          repr(PRE_TOKENIZERS.get(folder, "(unused)")))
        argv = [python, "-c", wrapper, str(llama_cpp), str(HERE / folder), "--outtype",
                outtype, "--outfile", str(out)]
        subprocess.run(argv, check=True, cwd=HERE)
        commands.append(f"convert_hf_to_gguf.py tests/data/hf/{folder} --outtype {outtype} "
                        f"--outfile tests/data/hf/reference/{out.name}")
    provenance = {
        "converter": f"convert_hf_to_gguf.py and gguf-py from {source_label}",
        "pre_tokenizer_override": {
            "why": "the BPE tokenizers are trained here with the named model's split regex, so "
                   "the converter's hash check does not know them; get_vocab_base_pre() "
                   "answers the name",
            "answers": PRE_TOKENIZERS},
        "converter_environment": tool_versions(python),
        "fixture_environment": tool_versions(sys.executable),
        "commands": commands,
        "sha256": {p.relative_to(HERE).as_posix(): sha256(p)
                   for p in sorted(HERE.rglob("*")) if p.is_file() and p.suffix != ".py"
                   and p.name != "provenance.json"},
    }
    (ref / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--llama-cpp", type=Path, help="llama.cpp source tree (its converter)")
    ap.add_argument("--convert-python", default=sys.executable,
                    help="python that runs convert_hf_to_gguf.py (torch, transformers)")
    ap.add_argument("--source-label", default="the llama.cpp vendored in the "
                    "llama-cpp-python 0.3.36 sdist")
    ap.add_argument("--folders-only", action="store_true",
                    help="write the HF folders, not the reference GGUFs")
    a = ap.parse_args()
    for name in ["tiny-llama", "tiny-qwen2", "tiny-llama3", "reference", *FAMILIES]:
        shutil.rmtree(HERE / name, ignore_errors=True)
    make_llama(HERE / "tiny-llama")
    make_qwen2(HERE / "tiny-qwen2")
    make_llama3(HERE / "tiny-llama3")
    for seed, (name, (cfg, spec_args, tok_from, tok_files)) in enumerate(FAMILIES.items()):
        make_family(HERE / name, cfg, spec_args, tok_from, tok_files, seed=20 + seed)
    add_phi3_tokens(HERE / "tiny-phi3")
    if not a.folders_only:
        if a.llama_cpp is None:
            ap.error("--llama-cpp is required unless --folders-only")
        make_references(a.llama_cpp, a.convert_python, a.source_label)


if __name__ == "__main__":
    main()
