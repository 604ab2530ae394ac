"""A GGUF converted back to a Hugging Face folder carries tokenizer files made from the GGUF's
vocabulary: transformers' AutoTokenizer loads the folder and gives, on plain text, the token ids
llama.cpp gives for the GGUF, for byte-level BPE vocabularies (Llama 3, Qwen2, Qwen3), and decodes
them back to the text. A SentencePiece vocabulary gets a warning and no tokenizer.json, which owl
itself could not read back; the folder still converts and validates."""

import json
import os

import pytest

import gguf_util as gu

# Dense families that go back to Hugging Face, one per tokenizer kind and pre-tokenizer.
MODELS = ["tiny-llama3", "tiny-qwen2", "tiny-qwen3"]

TEXTS = [
    "Once upon a time, the owl counted 2048 stars above the hills.",
    "  Leading spaces,\ttabs\tand\n\nnew lines;   three   spaces.",
    "Café Zürich — naïve façade; числа: один, два. 日本語 🦉🌙✨ xyzzy QWERTY 3.14159",
    "def add(a, b):\n    return a + b  # indented\n",
]


@pytest.fixture(scope="module", params=MODELS)
def converted(request, owl, tmp_path_factory):
    """(folder owl wrote from the reference GGUF, llama.cpp on that GGUF)."""
    name = request.param
    out = tmp_path_factory.mktemp(name) / "hf"
    gu.convert(owl, gu.REFERENCE / f"{name}.f16.gguf", out / "model.safetensors")
    return out, gu.load_llama(gu.REFERENCE / f"{name}.f16.gguf", vocab_only=True), name


def auto_tokenizer(folder):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder))


@pytest.mark.parametrize("text", TEXTS, ids=[f"text{i}" for i in range(len(TEXTS))])
def test_auto_tokenizer_gives_llama_cpp_ids(converted, text):
    folder, llama, _ = converted
    tok = auto_tokenizer(folder)
    want = llama.tokenize(text.encode(), add_bos=True, special=False)
    got = tok(text)["input_ids"]
    assert got == want, f"transformers {got}\nllama.cpp    {want}"


def test_decoding_gives_the_text_back(converted):
    folder, llama, _ = converted
    tok = auto_tokenizer(folder)
    for text in TEXTS:
        ids = llama.tokenize(text.encode(), add_bos=False, special=False)
        assert tok.decode(ids) == text


def test_special_tokens_and_chat_template(converted):
    folder, _, name = converted
    meta = gu.metadata(gu.REFERENCE / f"{name}.f16.gguf")
    tokens = meta["tokenizer.ggml.tokens"].value
    tok = auto_tokenizer(folder)
    assert tok.bos_token == tokens[meta["tokenizer.ggml.bos_token_id"].value]
    assert tok.eos_token == tokens[meta["tokenizer.ggml.eos_token_id"].value]
    if "tokenizer.chat_template" in meta:
        assert tok.chat_template == meta["tokenizer.chat_template"].value


def test_sentencepiece_vocabulary_is_a_warning_and_the_folder_still_reads(owl, tmp_path):
    out = tmp_path / "hf"
    out.mkdir()
    r = owl("convert", gu.REFERENCE / "tiny-llama.f16.gguf", "-o", out / "model.safetensors",
            "--no-provenance")
    assert r.returncode == 0, r.describe()
    assert "no tokenizer files written" in r.stderr and "SentencePiece" in r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    back = owl("convert", out, "-o", tmp_path / "back.gguf", "--quiet")
    assert back.returncode == 0, back.describe()
