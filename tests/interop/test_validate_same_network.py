"""`owl validate` compares a model with a copy of itself, position by position. Two different
networks (here stories260K, 5 layers, against a 2-layer Llama with the same width and
vocabulary) are refused with one line naming what differs; copies in another format or type
still run."""

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "tests" / "data"
STORIES = DATA / "stories260K" / "stories260K.bin"
TOK512 = DATA / "stories260K" / "tok512.bin"
TINY_LLAMA = DATA / "hf" / "tiny-llama"
TINY_MISTRAL = DATA / "hf" / "tiny-mistral"
SMOKE = ["--random-tokens", "128", "--ctx", "64", "--no-tensors", "--quiet"]


def check(r):
    assert r.returncode == 0, r.describe()
    return r


@pytest.fixture(scope="module")
def stories_copies(owl, tmp_path_factory):
    d = tmp_path_factory.mktemp("stories")
    check(owl("convert", STORIES, "--tokenizer", TOK512, "-o", d / "s.gguf", "--quiet"))
    check(owl("quantize", d / "s.gguf", "-o", d / "s-q8_0.gguf", "-t", "Q8_0", "--quiet"))
    (d / "st").mkdir()
    check(owl("convert", d / "s.gguf", "-o", d / "st" / "model.safetensors", "--quiet"))
    return d


@pytest.mark.parametrize("ref, test, differs", [
    (STORIES, TINY_LLAMA, "layers 5 vs 2"),
    (TINY_LLAMA, STORIES, "layers 2 vs 5"),
    (TINY_LLAMA, TINY_MISTRAL, "embedding width 64 vs 16"),
])
def test_different_networks_are_refused(owl, ref, test, differs):
    r = owl("validate", ref, test, *SMOKE)
    assert r.returncode == 2, r.describe()
    line = r.stderr.strip()
    assert "\n" not in line and line.startswith("owl: error: "), r.describe()
    assert "different networks" in line and differs in line, r.describe()
    assert r.stdout == "", r.describe()


@pytest.mark.parametrize("ref, test", [
    ("bin", "s.gguf"), ("bin", "s-q8_0.gguf"), ("s.gguf", "st"), ("st", "s-q8_0.gguf")])
def test_copies_of_one_model_are_compared(owl, stories_copies, ref, test):
    path = {"bin": STORIES}.get(ref, stories_copies / ref)
    r = check(owl("validate", path, stories_copies / test, *SMOKE))
    assert "KL divergence" in r.stdout, r.describe()
