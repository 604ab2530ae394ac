"""owl's text tokenizer (`owl validate --text`) gives llama.cpp's token ids for byte-level BPE
models.

- The ids committed in tests/data/tokenizers/*/llama_cpp_ids.json, which the C++ unit tests hold
  owl to, are what llama.cpp gives for owl's GGUF of each fixture.
- With $OWL_LLAMA_CPP_VOCABS set to a folder holding llama.cpp's full test vocabularies
  (models/ggml-vocab-*.gguf of a llama.cpp checkout, with their .inp texts), owl tokenizes a
  varied text with each exactly as llama.cpp does. That needs `owl validate --dump-tokens`; the
  test is skipped where the option or the folder is missing.
"""

import json
import os
import random
import sys
from pathlib import Path

import pytest

from gguf_util import REPO

TOKENIZERS = REPO / "tests" / "data" / "tokenizers"
sys.path.insert(0, str(TOKENIZERS))
import make_llama_cpp_ids as fixture_ids  # noqa: E402

# llama.cpp test vocabularies whose pre-tokenizer owl has, each a different rule set or merge list.
VOCABS = ["gpt-2", "llama-bpe", "qwen2", "starcoder", "refact", "command-r", "mpt", "falcon",
          "llama-spm", "phi-3"]

# Bits of text mixed at random into one long text, beside the fixture texts and llama.cpp's own.
PIECES = ["hello", "Hello", " world", "  ", "   ", "\t", "\n", "\r\n", "\n\n", " \n ", "12345678",
          "3.14", "1,000", "'s", "'S", "'re", "'RE", "'ll", "'Ll", "'ve", "'d", "'m", "'t", "don't",
          "I'M", "日本語", "中文字符", "한국어", "🦉", "🌙✨", "👨‍👩‍👧", "Café", "naïve", "Zürich", "ǅ",
          "!!!", "...", "?!", "---", "$100", "a+b=c", "<|endoftext|>", "`code`", "\u00a0", "\u2003",
          "\u3000", "\u0085", "\u200b", "٣", "Ⅻ", "½", "x\u0301", "Привет", "مرحبا", "(\n)", "];\n",
          "    return", "\u2028", "𝓗𝓮𝓵𝓵𝓸", "\ufffd"]


def test_fixture_ids_are_what_llama_cpp_gives(owl, tmp_path):
    for fixture in fixture_ids.FIXTURES:
        gguf = fixture_ids.tokenizer_gguf(owl.binary, fixture, tmp_path)
        want = json.loads(fixture_ids.render(fixture, fixture_ids.llama_cpp_ids(gguf)))
        got = json.loads((TOKENIZERS / fixture / "llama_cpp_ids.json").read_text(encoding="utf-8"))
        assert got == want, f"{fixture}: rerun tests/data/tokenizers/make_llama_cpp_ids.py"


def varied_text(vocab_path):
    texts = list(fixture_ids.TEXTS)
    inp = Path(str(vocab_path) + ".inp")
    if inp.is_file():
        texts += [t.encode() for t in inp.read_text(encoding="utf-8").split("\n__ggml_vocab_test__\n")]
    rng = random.Random(7)
    texts.append("".join(rng.choice(PIECES) for _ in range(4000)).encode())
    return b"\n".join(texts)


@pytest.fixture(scope="module")
def vocab_folder():
    env = os.environ.get("OWL_LLAMA_CPP_VOCABS")
    if not env:
        pytest.skip("set OWL_LLAMA_CPP_VOCABS to llama.cpp's models/ folder (ggml-vocab-*.gguf)")
    return Path(env)


@pytest.fixture(scope="module")
def dump_tokens_supported(owl):
    if "--dump-tokens" not in owl("validate", "--help").stdout:
        pytest.skip("owl validate has no --dump-tokens option to print the ids of --text")


def check_same_ids(owl, tmp_path, vocab, text, what):
    """`owl validate --dump-tokens` gives llama.cpp's ids for `text` (no BOS, special tokens not
    parsed); returns them."""
    from llama_cpp import Llama

    text_file = tmp_path / "text.txt"
    text_file.write_bytes(text)
    ids_file = tmp_path / "ids.txt"
    r = owl("validate", vocab, vocab, "--text", text_file, "--dump-tokens", ids_file)
    assert r.returncode == 0, r.describe()
    got = [int(x) for x in ids_file.read_text().split()]
    want = Llama(model_path=str(vocab), vocab_only=True, verbose=False).tokenize(
        text, add_bos=False, special=False)
    assert got == want, (
        f"{what}: first difference at token "
        f"{next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))}")
    return want


@pytest.mark.parametrize("name", VOCABS)
def test_full_vocabularies_tokenize_as_llama_cpp(owl, tmp_path, vocab_folder, dump_tokens_supported,
                                                  name):
    vocab = vocab_folder / f"ggml-vocab-{name}.gguf"
    if not vocab.is_file():
        pytest.skip(f"{vocab} not found")
    check_same_ids(owl, tmp_path, vocab, varied_text(vocab), name)


def test_unicode_table_is_generated_from_unicode_15_1():
    """validate/unicode_tables.cpp is what tools/gen_unicode_tables.py writes from Unicode 15.1,
    the version of llama.cpp's tables."""
    import subprocess

    ud = pytest.importorskip("unicodedata2")
    if ud.unidata_version != "15.1.0":
        pytest.skip(f"unicodedata2 is Unicode {ud.unidata_version}; the table is made from 15.1.0")
    r = subprocess.run([sys.executable, str(REPO / "tools" / "gen_unicode_tables.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


# Pieces of llama-spm's vocabulary made user-defined in a copy, as Gemma's vocabulary has
# user-defined tokens inside a SentencePiece model: llama.cpp finds them in the text first, and
# the text after each one gets the space prefix again.
SPM_USER_DEFINED = ["et", "st", "ch", "ro", "il", "de", "ct", "am", "ol", "im", "ot", "ad", "ut",
                    "ing", "(", "12", "日", "ñ"]


def test_user_defined_tokens_in_a_sentencepiece_vocabulary(owl, tmp_path, vocab_folder,
                                                           dump_tokens_supported):
    import shutil

    import gguf

    src = vocab_folder / "ggml-vocab-llama-spm.gguf"
    if not src.is_file():
        pytest.skip(f"{src} not found")
    vocab = tmp_path / "spm-user-defined.gguf"
    shutil.copyfile(src, vocab)
    r = gguf.GGUFReader(vocab, "r+")
    tokens, types = r.fields["tokenizer.ggml.tokens"], r.fields["tokenizer.ggml.token_type"]
    ids = {bytes(tokens.parts[tokens.data[i]]).decode(): i for i in range(len(tokens.data))}
    chosen = [t for t in SPM_USER_DEFINED if t in ids]
    assert len(chosen) >= 12, chosen
    for t in chosen:
        types.parts[types.data[ids[t]]][0] = gguf.TokenType.USER_DEFINED
    del r

    want = check_same_ids(owl, tmp_path, vocab, varied_text(src), "llama-spm, user-defined")
    assert sum(1 for i in want if i in {ids[t] for t in chosen}) > 100
