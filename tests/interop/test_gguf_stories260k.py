"""A real trained model end to end: llama2.c's stories260K checkpoint and its tok512 tokenizer,
converted by owl to GGUF, generate the TinyStories text llama2.c itself generates when
llama.cpp runs them greedily from BOS."""

import struct

import pytest

import gguf_util as gu

EXPECTED = ("Once upon a time, there was a little girl named Lily. She loved to play outside "
            "in the park. One day, she saw a big, red ball. She wanted to play with")
N_TOKENS = 50


def greedy(llm, n):
    """n tokens picked by argmax from BOS, as text."""
    llm.reset()
    llm.eval([llm.token_bos()])
    out = []
    for _ in range(n):
        nxt = int(llm.scores[llm.n_tokens - 1].argmax())
        out.append(nxt)
        if nxt == llm.token_eos():
            break
        llm.eval([nxt])
    return llm.detokenize(out).decode("utf-8", "replace")


@pytest.mark.parametrize("flags", [[], ["--dtype", "f32"]], ids=["default", "f32"])
def test_generates_the_story(owl, tmp_path, flags):
    out = gu.convert(owl, gu.STORIES / "stories260K.bin", tmp_path / "s.gguf", "--tokenizer",
                     gu.STORIES / "tok512.bin", *flags)
    try:
        llm = gu.load_llama(out, n_ctx=256)
    except Exception as e:
        pytest.fail(f"llama.cpp cannot load owl's {out.name}: {e}")
    text = greedy(llm, N_TOKENS).lstrip(" ")
    assert text.startswith(EXPECTED), f"generated: {text!r}"


def read_tok512():
    """[(piece bytes, score)] from llama2.c's tokenizer file: max_token_length (i32), then per
    token score (f32), length (i32), bytes."""
    blob = (gu.STORIES / "tok512.bin").read_bytes()
    pos, out = 4, []
    while pos < len(blob):
        score, n = struct.unpack_from("<fi", blob, pos)
        out.append((blob[pos + 8:pos + 8 + n], score))
        pos += 8 + n
    return out


def llama2c_encode(text, vocab):
    """llama2.c's encoder: a leading space, one token per character (bytes as <0xXX> + 3 when
    the character is not a piece), then merge the best-scoring adjacent pair until none is a
    piece."""
    ids = {piece: i for i, (piece, _) in enumerate(vocab)}
    tokens = []
    for ch in " " + text:
        b = ch.encode()
        tokens += [ids[b]] if b in ids else [x + 3 for x in b]
    while True:
        best = None
        for i in range(len(tokens) - 1):
            merged = vocab[tokens[i]][0] + vocab[tokens[i + 1]][0]
            if merged in ids and (best is None or vocab[ids[merged]][1] > best[0]):
                best = (vocab[ids[merged]][1], i, ids[merged])
        if best is None:
            return tokens
        _, i, tok = best
        tokens[i:i + 2] = [tok]


TOKENIZER_TEXTS = ["Once upon a time", "Lily saw a big red ball, and she smiled.",
                   "The cat's hat: 42 blue birds!", "Zürich 🦉"]


@pytest.mark.parametrize("text", TOKENIZER_TEXTS)
def test_tokenizer_matches_llama2c(owl, tmp_path, text):
    out = gu.convert(owl, gu.STORIES / "stories260K.bin", tmp_path / "s.gguf", "--tokenizer",
                     gu.STORIES / "tok512.bin")
    llm = gu.load_llama(out, n_ctx=256)
    vocab = read_tok512()
    assert llm.n_vocab() == len(vocab) == 512
    assert llm.tokenize(text.encode(), add_bos=True) == [1] + llama2c_encode(text, vocab)
