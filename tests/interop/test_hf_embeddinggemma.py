"""EmbeddingGemma (transformers' Gemma3TextModel, a sentence-embedding model without an LM head)
-> GGUF, as llama.cpp's converter writes it (architecture gemma-embedding): tests/data/hf/
tiny-embeddinggemma and its reference GGUF (tests/data/hf/make_embeddinggemma_fixture.py).
test_gguf_hf_reference.py compares tensors and key values; this file adds their order, the
pooling read from the sentence-transformers modules, the Dense modules on request
(--sentence-transformers-dense, the converter's --sentence-transformers-dense-modules).
llama-cpp-python 0.3.36 cannot embed with a gemma-embedding file (its embed() aborts on
GGML_ASSERT(buffer), the converter's file as owl's), so nothing here runs one."""

import json
import shutil

import pytest

import gguf_util as gu

FOLDER = "tiny-embeddinggemma"
REFERENCE = gu.REFERENCE / f"{FOLDER}.f16.gguf"
# The converter names the model from its folder and counts its parameters for display.
NAMING = {"general.name", "general.size_label"}


@pytest.fixture(scope="module")
def converted(owl, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("embeddinggemma")
    return gu.convert(owl, gu.hf_copy(FOLDER, tmp), tmp / "out" / "model.gguf", "--dtype", "f16")


def test_keys_and_tensors_in_the_converters_order(converted):
    got, want = gu.metadata(converted), gu.metadata(REFERENCE)
    assert [k for k in got if k not in NAMING] == [k for k in want if k not in NAMING]
    assert list(gu.tensors(converted)) == list(gu.tensors(REFERENCE))
    assert got["general.architecture"].value == "gemma-embedding"
    assert got["gemma-embedding.pooling_type"].value == 1  # 1_Pooling: mean
    # config.json's window, not the one transformers' config class derives from it.
    assert got["gemma-embedding.attention.sliding_window"].value == 33
    # The folder's name is the reference's, so even the derived names agree: the whole file.
    assert converted.read_bytes() == REFERENCE.read_bytes()


def test_dense_modules_on_request_as_the_converter_adds_them(owl, tmp_path):
    src = gu.hf_copy(FOLDER, tmp_path)
    out = gu.convert(owl, src, tmp_path / "out" / "dense.gguf", "--dtype", "f16",
                     "--sentence-transformers-dense")
    ref = gu.REFERENCE / f"{FOLDER}.dense.f16.gguf"
    got, want = gu.metadata(out), gu.metadata(ref)
    assert [k for k in got if k not in NAMING] == [k for k in want if k not in NAMING]
    bad = [k for k in want if k not in NAMING and got[k].raw != want[k].raw]
    assert not bad, bad
    got_t, want_t = gu.tensors(out), gu.tensors(ref)
    assert list(got_t) == list(want_t)
    assert list(want_t)[:2] == ["dense_2.weight", "dense_3.weight"]
    for name, w in want_t.items():
        g = got_t[name]
        assert (g.type, g.shape, g.data) == (w.type, w.shape, w.data), name
    assert out.read_bytes() == ref.read_bytes()


def test_without_sentence_transformers_modules_there_is_no_pooling_key(owl, tmp_path):
    src = gu.hf_copy(FOLDER, tmp_path)
    (src / "modules.json").unlink()
    out = gu.convert(owl, src, tmp_path / "out" / "m.gguf", "--dtype", "f16")
    assert "gemma-embedding.pooling_type" not in gu.metadata(out)


@pytest.mark.parametrize("case", ["max-pooling", "path-outside", "modules-not-a-list"])
def test_a_pooling_llama_cpp_cannot_run_is_a_one_line_error(owl, tmp_path, case):
    src = gu.hf_copy(FOLDER, tmp_path)
    if case == "max-pooling":
        cfg = json.loads((src / "1_Pooling" / "config.json").read_text())
        cfg.update(pooling_mode_mean_tokens=False, pooling_mode_max_tokens=True)
        (src / "1_Pooling" / "config.json").write_text(json.dumps(cfg))
        bad = src / "1_Pooling" / "config.json"
    elif case == "path-outside":
        modules = json.loads((src / "modules.json").read_text())
        modules[1]["path"] = "../elsewhere"
        (src / "modules.json").write_text(json.dumps(modules))
        bad = src / "modules.json"
    else:
        (src / "modules.json").write_text('{"path": "1_Pooling"}')
        bad = src / "modules.json"
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    r = owl("convert", src, "-o", out_dir / "m.gguf")
    assert r.returncode != 0, r.describe()
    assert r.stderr.startswith(f"owl: error: {bad}: "), r.stderr
    assert r.stderr.count("\n") == 1, r.stderr
    assert list(out_dir.iterdir()) == []


def test_an_unsupported_architecture_is_named_before_the_tokenizer(owl, tmp_path):
    """BertModel (all-MiniLM) in the same folder: the architecture is the error, at once."""
    src = gu.hf_copy(FOLDER, tmp_path)
    cfg = json.loads((src / "config.json").read_text())
    cfg.update(architectures=["BertModel"], model_type="bert")
    (src / "config.json").write_text(json.dumps(cfg))
    shutil.copy(src / "config.json", tmp_path / "config.json")
    (src / "tokenizer.model").write_bytes(b"not a tokenizer")
    r = owl("convert", src, "-o", tmp_path / "m.gguf")
    assert r.returncode == 2, r.describe()
    assert "unsupported architecture \"BertModel\"" in r.stderr, r.stderr
