"""Model cards (README.md front matter): owl writes the general.* keys llama.cpp's gguf-py
derives from the same folder, and a card that gguf-py's PyYAML refuses only warns.

The cards are the committed fixtures of tests/data/model_cards/ (made by make_cards.py), each
put beside a copy of tests/data/hf/tiny-llama3.
"""

import json
import shutil
from pathlib import Path

import gguf
import gguf.metadata
import pytest

import gguf_util as gu

CARDS = gu.REPO / "tests" / "data" / "model_cards"
EXPECTED = json.loads((CARDS / "expected.json").read_text(encoding="utf-8"))
GOOD = sorted(n for n, e in EXPECTED.items() if e["error"] is None and e["front_matter"])
BROKEN = sorted(n for n, e in EXPECTED.items() if e["error"] is not None)

# Keys the pipeline writes, not the model card or the folder.
NOT_FROM_CARD = {"general.architecture", "general.type", "general.file_type",
                 "general.quantization_version", "general.alignment"}


def folder_with_card(tmp_path, card):
    folder = gu.hf_copy("tiny-llama3", tmp_path)
    shutil.copyfile(CARDS / f"{card}.md", folder / "README.md")
    return folder


def general_keys(path):
    return {k: e.value for k, e in gu.metadata(path).items()
            if k.startswith("general.") and k not in NOT_FROM_CARD}


def reference_general_keys(folder, total_params, tmp_path):
    """What convert_hf_to_gguf.py writes: gguf-py's Metadata for the folder, its fallbacks for the
    name and size label, through GGUFWriter, read back."""
    meta = gguf.metadata.Metadata.load(None, folder, None, total_params)
    if meta.name is None:
        meta.name = folder.name
    if meta.size_label is None and total_params > 0:
        meta.size_label = gguf.size_label(total_params, 0, 0, 0)
    path = tmp_path / "reference.gguf"
    w = gguf.GGUFWriter(path, "llama")
    meta.set_gguf_meta_model(w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.close()
    return general_keys(path)


def total_params(path):
    return sum(int(t.n_elements) for t in gu.reader(path).tensors)


@pytest.mark.parametrize("card", GOOD)
def test_model_card_keys_match_gguf_py(owl, tmp_path, card):
    folder = folder_with_card(tmp_path, card)
    out = tmp_path / "out.gguf"
    r = owl("convert", folder, "-o", out)
    assert r.returncode == 0, r.describe()
    assert "model card" not in r.stderr, r.describe()
    got = general_keys(out)
    want = reference_general_keys(folder, total_params(out), tmp_path)
    assert got == want
    # The cards carry keys: the comparison is not between two empty sets.
    assert any(k.startswith(("general.license", "general.base_model", "general.dataset",
                             "general.tags", "general.description")) for k in got)


@pytest.mark.parametrize("card", BROKEN)
def test_broken_model_card_only_warns(owl, tmp_path, card):
    with pytest.raises(Exception):  # convert_hf_to_gguf.py stops on these
        gguf.metadata.Metadata.load_model_card(folder_with_card(tmp_path / "ref", card))
    folder = folder_with_card(tmp_path, card)
    out = tmp_path / "out.gguf"
    r = owl("convert", folder, "-o", out)
    assert r.returncode == 0, r.describe()
    lines = [ln for ln in r.stderr.splitlines() if "model card is ignored" in ln]
    assert len(lines) == 1, r.describe()
    assert "README.md: front matter" in lines[0]
    # The card's keys are left out; the rest is what a folder without a card gives.
    got = general_keys(out)
    assert "general.license" not in got
    (folder / "README.md").unlink()
    plain = tmp_path / "plain.gguf"
    gu.convert(owl, folder, plain)
    assert got == general_keys(plain)
    # --quiet silences the warning with the rest.
    r = owl("convert", folder_with_card(tmp_path / "q", card), "-o", tmp_path / "q.gguf", "--quiet")
    assert r.returncode == 0 and r.stderr == "", r.describe()


def test_hostile_model_card_is_cheap(owl, tmp_path):
    """Billion laughs through merge keys, deep nesting and a control character: each only warns,
    and quickly (the owl fixture's timeout)."""
    laughs = ["l0: &l0 {" + ", ".join(f"k{i}: v" for i in range(10)) + "}"]
    for i in range(1, 8):
        laughs.append(f"l{i}: &l{i} {{<<: [" + ", ".join([f"*l{i - 1}"] * 10) + "]}")
    laughs.append("<<: *l7")
    cards = {
        "laughs": "\n".join(laughs),
        "deep": "a: " + "[" * 50_000,
        "control": "license: mit\x01",
    }
    for name, body in cards.items():
        folder = gu.hf_copy("tiny-llama3", tmp_path / name)
        (folder / "README.md").write_text(f"---\n{body}\n---\n", encoding="utf-8")
        r = owl("convert", folder, "-o", tmp_path / f"{name}.gguf", timeout=30)
        assert r.returncode == 0, r.describe()
        assert "model card is ignored" in r.stderr, r.describe()


def test_model_card_warning_is_escaped(owl, tmp_path):
    """The file's path reaches the terminal with its control characters escaped."""
    folder = folder_with_card(tmp_path / "esc\x1b[31m", "broken_quote")
    r = owl("convert", folder, "-o", tmp_path / "out.gguf")
    assert r.returncode == 0, r.describe()
    assert "\x1b" not in r.stderr and "esc\\x1b[31m" in r.stderr, r.describe()
