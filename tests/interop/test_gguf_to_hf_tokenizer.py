"""A GGUF converted back to a Hugging Face folder carries tokenizer files made from the GGUF's
vocabulary: transformers' AutoTokenizer loads the folder and gives, on plain text, the token ids
llama.cpp gives for the GGUF, and decodes them back to the text. Byte-level BPE vocabularies
(Llama 3, Qwen2, Qwen3) become a tokenizer.json; SentencePiece ones (Llama's, and Gemma 3's,
which adds no space prefix; llama2.c's stories260K) a tokenizer.model for LlamaTokenizer, which
owl and llama.cpp's converter read back to the same tokenizer keys."""

import json
import os

import pytest

import gguf_util as gu

# Dense families that go back to Hugging Face, one per tokenizer kind and pre-tokenizer.
MODELS = ["tiny-llama3", "tiny-qwen2", "tiny-qwen3", "tiny-llama", "tiny-gemma3"]
SENTENCEPIECE = {"tiny-llama", "tiny-gemma3"}

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
    folder, llama, name = converted
    if name in SENTENCEPIECE and text[0].isspace():
        pytest.skip("transformers' Metaspace adds no space prefix to text that starts with a "
                    "space, where SentencePiece and llama.cpp do; the original folder's "
                    "tokenizer does the same (test_sentencepiece_ids_equal_the_original_tokenizers)")
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


def test_sentencepiece_folder_holds_the_tokenizer_files(converted):
    folder, _, name = converted
    names = {p.name for p in folder.iterdir()}
    if name in SENTENCEPIECE:
        assert {"tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"} <= names
        assert "tokenizer.json" not in names
    else:
        assert {"tokenizer.json", "tokenizer_config.json"} <= names


@pytest.fixture(scope="module")
def llama_folders(owl, tmp_path_factory):
    """(tests/data/hf/tiny-llama with its SentencePiece tokenizer.model, the folder owl writes
    from the GGUF llama.cpp's converter made of it)."""
    out = tmp_path_factory.mktemp("tiny-llama-spm") / "hf"
    gu.convert(owl, gu.REFERENCE / "tiny-llama.f16.gguf", out / "model.safetensors")
    return gu.HF_DATA / "tiny-llama", out


@pytest.mark.parametrize("text", TEXTS, ids=[f"text{i}" for i in range(len(TEXTS))])
def test_sentencepiece_ids_equal_the_original_tokenizers(llama_folders, text):
    original, folder = llama_folders
    assert auto_tokenizer(folder)(text)["input_ids"] == auto_tokenizer(original)(text)["input_ids"]


def tokenizer_keys(path):
    return {k: (v.types, v.value) for k, v in gu.metadata(path).items()
            if k.startswith("tokenizer.")}


def test_sentencepiece_round_trip_keeps_the_tokenizer_keys(owl, tmp_path):
    """Hugging Face -> GGUF -> Hugging Face -> GGUF: the same tokenizer.* keys, types and values,
    both times from owl's own reading of the folder."""
    first = gu.convert(owl, gu.HF_DATA / "tiny-llama", tmp_path / "a.gguf")
    gu.convert(owl, first, tmp_path / "hf" / "model.safetensors")
    second = gu.convert(owl, tmp_path / "hf", tmp_path / "b.gguf")
    assert tokenizer_keys(second) == tokenizer_keys(first)


@pytest.mark.parametrize("name", ["tiny-llama", "tiny-mistral", "tiny-gemma", "tiny-gemma3",
                                  "tiny-phi3"])
def test_converter_gguf_comes_back_to_the_same_tokenizer_keys(owl, tmp_path, name):
    """The converter's GGUF (Gemma's extra special tokens, no space prefix; Phi-3's added chat
    tokens) -> Hugging Face -> GGUF: owl reads its own folder back to the converter's keys."""
    ref = gu.REFERENCE / f"{name}.f16.gguf"
    gu.convert(owl, ref, tmp_path / "hf" / "model.safetensors")
    back = gu.convert(owl, tmp_path / "hf", tmp_path / "back.gguf")
    assert tokenizer_keys(back) == tokenizer_keys(ref)


@pytest.fixture(scope="module")
def stories(owl, tmp_path_factory):
    """llama2.c's stories260K and its tok512 vocabulary (a real SentencePiece vocabulary) as a
    GGUF, that GGUF back as a Hugging Face folder, and llama.cpp on the GGUF."""
    tmp = tmp_path_factory.mktemp("stories")
    gguf_path = gu.convert(owl, gu.STORIES / "stories260K.bin", tmp / "s.gguf", "--tokenizer",
                           gu.STORIES / "tok512.bin")
    gu.convert(owl, gguf_path, tmp / "hf" / "model.safetensors")
    return tmp / "hf", gguf_path, gu.load_llama(gguf_path, vocab_only=True)


def test_stories260k_folder_tokenizes_as_llama_cpp(stories):
    folder, _, llama = stories
    tok = auto_tokenizer(folder)
    text = (gu.STORIES / "story.txt").read_text()[:2000]
    for sample in [text, *(t for t in TEXTS if not t[0].isspace())]:
        want = llama.tokenize(sample.encode(), add_bos=True, special=False)
        assert tok(sample)["input_ids"] == want


def test_stories260k_folder_reads_back_to_the_same_vocabulary(owl, stories, tmp_path):
    """The vocabulary and its specials come back; the keys a Hugging Face folder decides
    (tokenizer.ggml.pre, add_bos/add_eos, no unknown_token_id: the converter takes that from
    config.json, which has none) are the converter's, and stay so round after round."""
    folder, gguf_path, _ = stories
    back = gu.convert(owl, folder, tmp_path / "back.gguf")
    got, want = tokenizer_keys(back), tokenizer_keys(gguf_path)
    for key in ["model", "tokens", "scores", "token_type", "bos_token_id", "eos_token_id"]:
        assert got[f"tokenizer.ggml.{key}"] == want[f"tokenizer.ggml.{key}"], key
    gu.convert(owl, back, tmp_path / "hf2" / "model.safetensors")
    again = gu.convert(owl, tmp_path / "hf2", tmp_path / "again.gguf")
    assert tokenizer_keys(again) == got
