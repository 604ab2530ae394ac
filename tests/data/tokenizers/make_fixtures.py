#!/usr/bin/env python3
"""Makes the tokenizer fixtures that tests/converters/tokenizer_test.cpp reads.

Each folder here is a small Hugging Face model folder without weights: real tokenizer files made
by the reference packages, a tokenizer_config.json and a config.json.

  spm/         a SentencePiece BPE model (byte_fallback on) trained by `sentencepiece`, with
               added tokens in added_tokens.json and tokenizer_config.json (a Llama-2 layout)
  qwen2_bpe/   a byte-level BPE trained by `tokenizers` with Qwen2's pre-tokenizer, special
               added tokens and a chat_template string (a Qwen2 layout; merges as [a, b] pairs)
  llama3_bpe/  the same with Llama-3's pre-tokenizer, a TemplateProcessing post-processor that
               adds BOS, merges in the older "a b" string form and the list-of-named-templates
               form of chat_template

Beside the tokenizer files each folder gets:
  expected.json        what the packages report for these files: every piece, score and type
                       (sentencepiece), every token id and added token (tokenizers)
  reference_keys.json  (only with --reference) the tokenizer.* keys that llama.cpp's
                       convert_hf_to_gguf.py writes for the folder, read back with gguf-py

  python3 make_fixtures.py
  python3 make_fixtures.py --reference LLAMA_CPP/convert_hf_to_gguf.py --python PYTHON_WITH_TORCH

Needs: sentencepiece and tokenizers; for --reference, a python that has them and what
convert_hf_to_gguf.py imports (torch, transformers, numpy), with the gguf-py beside the script.
The committed reference_keys.json files were made with the convert_hf_to_gguf.py vendored in the
llama-cpp-python 0.3.36 sdist, run by Debian 12's python3 with python3-torch (1.13) and
transformers 4.46.3 in a venv:

  pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36 -d /tmp/lcp
  tar xzf /tmp/lcp/llama_cpp_python-0.3.36.tar.gz -C /tmp/lcp
  /usr/bin/python3 -m venv --system-site-packages /tmp/refenv
  /tmp/refenv/bin/pip install transformers==4.46.3 "tokenizers<0.21" sentencepiece "numpy<2" protobuf
  python3 make_fixtures.py --python /tmp/refenv/bin/python \\
      --reference /tmp/lcp/llama_cpp_python-0.3.36/vendor/llama.cpp/convert_hf_to_gguf.py

The SentencePiece model is made as Llama's is (identity normalization, whitespace kept as it
is): llama.cpp applies no SentencePiece normalizer rules, so only such a model tokenizes the same
in both.
"""

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import sentencepiece as spm
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

HERE = Path(__file__).resolve().parent

# A few lines of text written for these fixtures; enough for a handful of merges.
CORPUS = [
    "The owl sat on the old oak tree and looked at the moon.",
    "Every night the owl listened to the wind in the leaves.",
    "A small mouse ran across the field, and the owl watched it.",
    "The moon was bright; the stars were bright too.",
    "Owls can turn their heads almost all the way around!",
    "1234 5678 90 - numbers, commas, and dots... are text too.",
    "Ünïcödé wörds and 日本語 and emoji 🦉 appear once.",
    "  Two spaces, a tab\tand a newline\nare whitespace.",
]

QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
               r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

CHATML_TEMPLATE = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + "
                   "message['content'] + '<|im_end|>' + '\n' }}{% endfor %}"
                   "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
LLAMA3_TEMPLATE = ("{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + "
                   "message['role'] + '<|end_header_id|>\n\n' + message['content'] + '<|eot_id|>' }}"
                   "{% endfor %}")
LLAMA3_TOOL_TEMPLATE = "{{ bos_token }}{% for tool in tools %}{{ tool['name'] }}{% endfor %}"
LLAMA2_TEMPLATE = ("{% for message in messages %}{{ bos_token + '[INST] ' + message['content'] + "
                   "' [/INST]' }}{% endfor %}")


def write_json(path: Path, value, indent: int | None = 2) -> None:
    path.write_text(json.dumps(value, indent=indent, ensure_ascii=False) + "\n", encoding="utf-8")


def added_entry(content: str, special: bool, normalized: bool = False) -> dict:
    return {"content": content, "lstrip": False, "normalized": normalized, "rstrip": False,
            "single_word": False, "special": special}


def llama_config(vocab_size: int, bos: int, eos: int) -> dict:
    return {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
        "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 4,
        "num_hidden_layers": 1, "max_position_embeddings": 256, "rms_norm_eps": 1e-05,
        "rope_theta": 10000.0, "vocab_size": vocab_size, "bos_token_id": bos, "eos_token_id": eos,
        "torch_dtype": "float32",
    }


def make_spm(out: Path) -> None:
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS), model_writer=model, model_type="bpe", vocab_size=360,
        byte_fallback=True, character_coverage=1.0, hard_vocab_limit=False, num_threads=1,
        user_defined_symbols=["<tool>"], control_symbols=["<ctrl>"], minloglevel=2,
        normalization_rule_name="identity", remove_extra_whitespaces=False)
    (out / "tokenizer.model").write_bytes(model.getvalue())

    sp = spm.SentencePieceProcessor(model_file=str(out / "tokenizer.model"))
    n = sp.vocab_size()
    # Added tokens past the SentencePiece vocabulary, as fine-tunes add them; the model has
    # four more embedding rows than tokens, so one id stays a [PAD] row.
    write_json(out / "added_tokens.json", {"<|im_start|>": n, "▁extra": n + 1, "<only_here>": n + 2})
    write_json(out / "special_tokens_map.json",
               {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"})
    write_json(out / "tokenizer_config.json", {
        "add_bos_token": True, "add_eos_token": False, "add_prefix_space": True,
        "added_tokens_decoder": {
            "0": added_entry("<unk>", True), "1": added_entry("<s>", True), "2": added_entry("</s>", True),
            str(n): added_entry("<|im_start|>", True), str(n + 1): added_entry("▁extra", False),
        },
        "bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": False, "normalized": False,
                      "rstrip": False, "single_word": False},
        "eos_token": "</s>", "unk_token": "<unk>", "pad_token": None,
        "chat_template": LLAMA2_TEMPLATE, "clean_up_tokenization_spaces": False,
        "legacy": False, "model_max_length": 256, "tokenizer_class": "LlamaTokenizer",
    })
    write_json(out / "config.json", llama_config(n + 4, 1, 2))

    pieces = []
    for i in range(n):
        kind = ("unknown" if sp.IsUnknown(i) else "control" if sp.IsControl(i) else
                "unused" if sp.IsUnused(i) else "byte" if sp.IsByte(i) else "normal")
        pieces.append([sp.IdToPiece(i), sp.GetScore(i), kind])
    write_json(out / "expected.json", {"piece_count": n, "pieces": pieces}, indent=None)


def train_bpe(pattern: str, special: list[str], nfc: bool) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    if nfc:
        tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=special, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer=trainer)
    return tok


def bpe_expected(tok: Tokenizer) -> dict:
    vocab = tok.get_vocab(with_added_tokens=True)
    by_id = sorted(vocab.items(), key=lambda kv: kv[1])
    added = [{"id": i, "content": t.content, "special": t.special}
             for i, t in sorted(tok.get_added_tokens_decoder().items())]
    return {"token_count": len(vocab), "tokens": [t for t, _ in by_id],
            "ids": [i for _, i in by_id], "added": added,
            "encodings": {text: tok.encode(text).ids for text in CORPUS[:3]}}


def make_qwen2(out: Path) -> None:
    tok = train_bpe(QWEN2_REGEX, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], nfc=True)
    tok.add_tokens(["<tool_call>"])  # a non-special added token, as Qwen2.5 has
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.save(str(out / "tokenizer.json"))
    n = tok.get_vocab_size(with_added_tokens=True)
    decoder = {str(i): added_entry(t.content, t.special)
               for i, t in sorted(tok.get_added_tokens_decoder().items())}
    write_json(out / "tokenizer_config.json", {
        "add_prefix_space": False, "added_tokens_decoder": decoder, "bos_token": None,
        "chat_template": CHATML_TEMPLATE, "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>", "errors": "replace", "model_max_length": 256,
        "pad_token": "<|endoftext|>", "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer", "unk_token": None,
    })
    endoftext = tok.token_to_id("<|endoftext|>")
    im_end = tok.token_to_id("<|im_end|>")
    write_json(out / "config.json", {
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 64,
        "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2,
        "num_hidden_layers": 1, "max_position_embeddings": 256, "rms_norm_eps": 1e-06,
        "rope_theta": 1000000.0, "vocab_size": n + 3, "bos_token_id": endoftext,
        "eos_token_id": im_end, "tie_word_embeddings": True, "torch_dtype": "float32",
    })
    write_json(out / "expected.json", bpe_expected(tok), indent=None)


def make_llama3(out: Path) -> None:
    special = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
               "<|eot_id|>"]
    tok = train_bpe(LLAMA3_REGEX, special, nfc=False)
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A",
                                      pair="<|begin_of_text|> $A <|begin_of_text|>:1 $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)]),
    ])
    text = json.loads(tok.to_str())
    # The "a b" string form of merges that tokenizer.json files written before tokenizers 0.20
    # hold; byte-level pieces have no spaces, so it says the same as the [a, b] pairs.
    text["model"]["merges"] = [" ".join(pair) for pair in text["model"]["merges"]]
    reloaded = Tokenizer.from_str(json.dumps(text))
    assert reloaded.encode(CORPUS[0]).ids == tok.encode(CORPUS[0]).ids
    (out / "tokenizer.json").write_text(json.dumps(text, indent=2, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
    n = reloaded.get_vocab_size(with_added_tokens=True)
    decoder = {str(i): added_entry(t.content, t.special)
               for i, t in sorted(reloaded.get_added_tokens_decoder().items())}
    write_json(out / "tokenizer_config.json", {
        "added_tokens_decoder": decoder, "bos_token": "<|begin_of_text|>",
        "chat_template": [{"name": "default", "template": LLAMA3_TEMPLATE},
                          {"name": "tool use", "template": LLAMA3_TOOL_TEMPLATE}],
        "clean_up_tokenization_spaces": True, "eos_token": "<|eot_id|>",
        "model_input_names": ["input_ids", "attention_mask"], "model_max_length": 256,
        "tokenizer_class": "PreTrainedTokenizerFast",
    })
    write_json(out / "config.json", llama_config(n, bos, tok.token_to_id("<|end_of_text|>")))
    write_json(out / "expected.json", bpe_expected(reloaded), indent=None)


def dump_keys(gguf_path: str, out_path: str) -> None:
    """Writes the tokenizer.* keys of a GGUF file as [{key, type, value}] JSON, in file order."""
    from gguf import GGUFReader, GGUFValueType

    keys = []
    for name, field in GGUFReader(gguf_path).fields.items():
        if not name.startswith("tokenizer."):
            continue
        main = field.types[0]
        if main == GGUFValueType.ARRAY:
            sub = field.types[-1]
            items = [field.parts[i] for i in field.data]
            if sub == GGUFValueType.STRING:
                kind, value = "array[string]", [bytes(x).decode("utf-8") for x in items]
            else:
                kind, value = f"array[{sub.name.lower()}]", [x.tolist()[0] for x in items]
        elif main == GGUFValueType.STRING:
            kind, value = "string", bytes(field.parts[-1]).decode("utf-8")
        else:
            kind, value = main.name.lower(), field.parts[-1].tolist()[0]
        keys.append({"key": name, "type": kind, "value": value})
    Path(out_path).write_text(json.dumps(keys, ensure_ascii=False) + "\n", encoding="utf-8")


# convert_hf_to_gguf.py recognises a BPE pre-tokenizer by hashing the token ids that the model's
# own tokenizer gives for a test text, which a toy vocabulary cannot reproduce. The reference run
# is therefore told which known model's pre-tokenizer each fixture copies: the hash of that model,
# as listed in convert_hf_to_gguf.py (Qwen1.5-7B, Meta-Llama-3-8B).
KNOWN_PRE_HASH = {
    "qwen2_bpe": "e636dc30a262dcc0d8c323492e32ae2b70728f4df7dfe9737d9f920a282b8aea",
    "llama3_bpe": "0ef9807a4087ebef797fc749390439009c3b9eda9ad1a097abbe738f486c01e5",
}


def run_convert(convert_py: str, pre_hash: str, args: list[str]) -> None:
    """Runs convert_hf_to_gguf.py in this process with the pre-tokenizer hash fixed."""
    import hashlib
    import runpy

    import torch

    # Debian 12's torch 1.13 lacks dtypes that the script names in a table at import time;
    # a vocab-only conversion never touches them.
    for name in ("float8_e4m3fn", "float8_e5m2", "uint16", "uint32", "uint64"):
        if not hasattr(torch, name):
            setattr(torch, name, torch.uint8)

    real_sha256 = hashlib.sha256

    class FixedDigest:
        def __init__(self, data: bytes = b""):
            self.token_list = data.startswith(b"[")
            self.real = real_sha256(data)

        def update(self, data: bytes) -> None:
            self.real.update(data)

        def hexdigest(self) -> str:
            return pre_hash if self.token_list and pre_hash else self.real.hexdigest()

    hashlib.sha256 = FixedDigest
    sys.path.insert(0, str(Path(convert_py).parent))
    sys.argv = [convert_py, *args]
    runpy.run_path(convert_py, run_name="__main__")


def dump_reference(folder: Path, convert_py: Path, python: str) -> None:
    """Runs convert_hf_to_gguf.py --vocab-only on `folder` and keeps its tokenizer.* keys."""
    gguf_py = convert_py.parent / "gguf-py"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "vocab.gguf"
        env = dict(os.environ, PYTHONPATH=str(gguf_py))
        proc = subprocess.run(
            [python, str(Path(__file__).resolve()), "_convert", str(convert_py),
             KNOWN_PRE_HASH.get(folder.name, ""), str(folder), "--vocab-only", "--outfile", str(out)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            sys.exit(f"{folder.name}: convert_hf_to_gguf.py failed:\n{proc.stderr}")
        subprocess.run([python, str(Path(__file__).resolve()), "_dump", str(out),
                        str(folder / "reference_keys.json")], env=env, check=True)


def main() -> None:
    # Internal steps, run by the reference python (see dump_reference).
    if len(sys.argv) > 1 and sys.argv[1] == "_convert":
        run_convert(sys.argv[2], sys.argv[3], sys.argv[4:])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_dump":
        dump_keys(sys.argv[2], sys.argv[3])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference", type=Path, help="llama.cpp's convert_hf_to_gguf.py (gguf-py beside it)")
    ap.add_argument("--python", default=sys.executable, help="the python that runs --reference")
    args = ap.parse_args()

    makers = {"spm": make_spm, "qwen2_bpe": make_qwen2, "llama3_bpe": make_llama3}
    for name, make in makers.items():
        folder = HERE / name
        folder.mkdir(exist_ok=True)
        make(folder)
        if args.reference:
            dump_reference(folder, args.reference.resolve(), args.python)
        print(f"{name}: " + ", ".join(sorted(p.name for p in folder.iterdir())))


if __name__ == "__main__":
    main()
