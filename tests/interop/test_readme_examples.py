"""README examples run as written: the `owl validate` figures it shows are what owl prints for
the run it names (tools/demo.sh's first validation), and examples that write into a folder
create it first."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
STORIES = REPO / "tests" / "data" / "stories260K"
VALIDATE_EXAMPLE = "$ owl validate stories260K.bin stories260K-Q8_0.gguf --text stories.txt --ctx 128"
FIGURES = ("scored", "perplexity", "KL divergence", "top-1 agree", "delta p RMS")


def code_blocks(text):
    return re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.S | re.M)


def numbers(line):
    return [float(x) for x in re.findall(r"[-+]?\d+\.?\d*(?:e[-+]?\d+)?", line)]


def figure_lines(output):
    return {ln.split("  ")[0]: ln for ln in output.splitlines() if ln.startswith(FIGURES)}


def test_validate_example_is_what_owl_prints(owl, tmp_path):
    blocks = [b for b in code_blocks(README.read_text()) if b.startswith(VALIDATE_EXAMPLE)]
    assert len(blocks) == 1, f"README has no block starting with {VALIDATE_EXAMPLE!r}"
    shown = figure_lines(blocks[0])
    assert len(shown) == len(FIGURES), shown

    f16, q8 = tmp_path / "stories260K-f16.gguf", tmp_path / "stories260K-Q8_0.gguf"
    for args in (["convert", STORIES / "stories260K.bin", "--tokenizer", STORIES / "tok512.bin",
                  "-o", f16], ["quantize", f16, "-o", q8, "-t", "Q8_0"]):
        r = owl(*args, "--quiet")
        assert r.returncode == 0, r.describe()
    text = tmp_path / "stories.txt"
    text.write_bytes((STORIES / "story.txt").read_bytes() * 6)
    r = owl("validate", STORIES / "stories260K.bin", q8, "--text", text, "--ctx", "128", "--quiet")
    assert r.returncode == 0, r.describe()
    printed = figure_lines(r.stdout)

    for name, line in shown.items():
        # The last digit may differ where another CPU picks another matrix kernel.
        assert numbers(printed[name]) == pytest.approx(numbers(line), rel=2e-3, abs=2e-6), \
            f"README shows\n  {line}\nowl prints\n  {printed[name]}"


def test_examples_that_write_into_a_folder_create_it():
    for block in code_blocks(README.read_text()):
        made = set(re.findall(r"mkdir -p (\S+)", block))
        for folder in re.findall(r"-o (\w[\w.-]*)/", block):
            assert folder in made, f"README writes into {folder}/ without creating it:\n{block}"
