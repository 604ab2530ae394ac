"""llama.cpp (through llama-cpp-python) runs owl's GGUF exactly as it runs the GGUF that llama.cpp's
own converter made from the same Hugging Face folder: same tokenization, same logits."""

import pytest

import gguf_util as gu

# The default-dtype case writes the same file as llama-f16: one run of llama.cpp is enough.
# EmbeddingGemma has no LM head to compare logits by (test_hf_embeddinggemma.py covers it).
CASES = {k: v for k, v in gu.REFERENCE_CASES.items()
         if k not in ("llama-default-dtype", "embeddinggemma-f16")}

# Plain text that exercises merges, digits, runs of spaces and newlines, byte fallback
# (emoji, CJK, Cyrillic) and words the tokenizers never saw.
TEXTS = [
    "Once upon a time, the owl counted 2048 stars above the hills.",
    "  Leading spaces,\ttabs\tand\n\nnew lines;   three   spaces.",
    "Café Zürich — naïve façade; числа: один, два. 日本語 🦉🌙✨ xyzzy QWERTY 3.14159",
    "def add(a, b):\n    return a + b  # indented\n",
]
# Text with special tokens written out, parsed as special tokens when llama.cpp is asked to.
CHATML = "<|im_start|>user\nHi owl!<|im_end|>\n<|im_start|>assistant\n"
SPECIAL_TEXTS = {
    "tiny-llama": "Hello</s> there<s> again",
    "tiny-qwen2": CHATML,
    "tiny-llama3": "<|start_header_id|>user<|end_header_id|>\n\nHi owl!<|eot_id|>",
    "tiny-qwen3": CHATML,
    "tiny-mistral": "Hello</s> there<s> again",
    "tiny-gemma": "Hello</s> there<s> again",
    "tiny-gemma2": "Hello</s> there<s> again",
    "tiny-gemma3": "Hello</s> there<s> again",
    "tiny-phi3": "<|user|>\nHi owl!<|end|>\n<|assistant|>\n<|endoftext|>",
    "tiny-phi3-longrope": "<|user|>\nHi owl!<|end|>\n<|assistant|>\n<|endoftext|>",
    "tiny-mixtral": "Hello</s> there<s> again",
    "tiny-qwen2moe": CHATML,
    "tiny-qwen3moe": CHATML,
    "tiny-olmoe": CHATML,
    "tiny-granitemoe": "Hello</s> there<s> again",
    "tiny-granitemoeshared": "Hello</s> there<s> again",
    "tiny-deepseek2": CHATML,
    "tiny-deepseek3": CHATML,
    "tiny-deepseek3-fp8": CHATML,
    "tiny-gptoss": CHATML,
    "tiny-gptoss-bf16": CHATML,
    "tiny-llama4": "<|start_header_id|>user<|end_header_id|>\n\nHi owl!<|eot_id|>",
    "tiny-llama4-multimodal": "<|start_header_id|>user<|end_header_id|>\n\nHi owl!<|eot_id|>",
}


@pytest.fixture(scope="module", params=list(CASES))
def models(request, owl, tmp_path_factory):
    """(owl's model, the reference model, folder name) loaded by llama.cpp."""
    folder, ref_name, flags = CASES[request.param]
    tmp = tmp_path_factory.mktemp(request.param)
    out = gu.convert(owl, gu.hf_copy(folder, tmp), tmp / "out" / "model.gguf", *flags)
    try:
        mine = gu.load_llama(out)
    except Exception as e:
        pytest.fail(f"llama.cpp cannot load owl's {out.name} ({request.param}): {e}")
    return mine, gu.load_llama(gu.REFERENCE / ref_name), folder


@pytest.mark.parametrize("text", TEXTS, ids=[f"text{i}" for i in range(len(TEXTS))])
def test_same_tokens(models, text):
    mine, ref, _ = models
    for add_bos in (True, False):
        want = ref.tokenize(text.encode(), add_bos=add_bos)
        got = mine.tokenize(text.encode(), add_bos=add_bos)
        assert got == want, f"add_bos={add_bos}: {got} != {want}"
        assert mine.detokenize(got) == ref.detokenize(want)


def test_same_special_tokens(models):
    mine, ref, folder = models
    text = SPECIAL_TEXTS[folder].encode()
    for special in (True, False):
        want = ref.tokenize(text, add_bos=True, special=special)
        assert mine.tokenize(text, add_bos=True, special=special) == want, f"special={special}"
    assert (mine.token_bos(), mine.token_eos()) == (ref.token_bos(), ref.token_eos())


def test_same_vocabulary(models):
    mine, ref, _ = models
    assert mine.n_vocab() == ref.n_vocab()
    n = ref.n_vocab()
    got = [mine.detokenize([i], special=True) for i in range(n)]
    want = [ref.detokenize([i], special=True) for i in range(n)]
    diff = [i for i in range(n) if got[i] != want[i]]
    assert not diff, f"{len(diff)} tokens differ, first: " + ", ".join(
        f"{i}: {got[i]!r} vs {want[i]!r}" for i in diff[:5])


@pytest.mark.parametrize("text", TEXTS[:2], ids=["text0", "text1"])
def test_same_logits(models, text):
    mine, ref, _ = models
    tokens = ref.tokenize(text.encode(), add_bos=True)
    gu.check_same_logits(gu.logits(mine, tokens), gu.logits(ref, tokens), text)


def test_same_chat_template(models):
    mine, ref, _ = models
    key = "tokenizer.chat_template"
    assert mine.metadata.get(key) == ref.metadata.get(key)
