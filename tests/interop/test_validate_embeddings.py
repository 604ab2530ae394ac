"""owl validate on a sentence-embedding model (EmbeddingGemma, architecture gemma-embedding):
there are no logits, so it compares the two models' pooled embeddings of each chunk by cosine.

The Hugging Face folder tests/data/hf/tiny-embeddinggemma against the GGUF files llama.cpp's
converter wrote from it (tests/data/hf/reference, with and without the sentence-transformers
Dense modules) and against owl's quantizations of those. That owl's embedding is the one
transformers and the sentence-transformers modules give is tests/validate/gemma_test.cpp's
check (tests/data/hf/make_embeddinggemma_reference.py wrote the expected vectors). llama.cpp's
own embedding of these files cannot be had from llama-cpp-python 0.3.36: embed() aborts, and so
does the C API (llama_decode hands the batch to encode(), which stops on GGML_ASSERT(buffer) in
ggml-backend.cpp, with flash attention on or off)."""

import json

import numpy as np
import pytest

import gguf_util as gu

FOLDER = "tiny-embeddinggemma"
CTX = 16  # within llama.cpp's symmetric window (17 // 2 either way) and transformers' (< 33)
TOKENS = np.random.default_rng(3).integers(3, 512, 4 * CTX).tolist()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return gu.hf_copy(FOLDER, tmp_path_factory.mktemp("embeddinggemma"))


def validate(owl, ref, test, tmp_path, *flags):
    ids = tmp_path / "tokens.txt"
    ids.write_text(" ".join(map(str, TOKENS)))
    report = tmp_path / "report.json"
    r = owl("validate", ref, test, "--tokens", ids, "--ctx", CTX, "--json", report, "--quiet",
            *flags, timeout=300)
    assert r.returncode == 0, r.describe()
    return json.loads(report.read_text()), r.stdout


def quantize(owl, src, out, mix):
    r = owl("quantize", src, "-o", out, "-t", mix, "--quiet", "--no-provenance", timeout=300)
    assert r.returncode == 0, r.describe()
    return out


def test_folder_and_its_f16_gguf_give_the_same_embeddings(owl, folder, tmp_path):
    report, text = validate(owl, folder, gu.REFERENCE / f"{FOLDER}.dense.f16.gguf", tmp_path)
    e = report["embedding"]
    assert report["architecture"] == "gemma-embedding" and report["chunks"] == 4
    assert "kld" not in report and "ppl" not in report
    assert e["pooling"] == "mean" and e["dense_layers"] == "both models"
    assert len(e["cosine"]["per_chunk"]) == 4
    assert min(e["cosine"]["per_chunk"]) == e["cosine"]["min"]
    # f16 weights against the folder's f32 ones.
    assert 0.9999 < e["cosine"]["min"] <= e["cosine"]["mean"] <= 1.0 + 1e-9
    assert "embedding cosine  mean" in text and "dense layers      both models" in text
    assert "KL divergence" not in text


def test_quantization_lowers_the_cosine_in_order(owl, folder, tmp_path):
    f16 = gu.REFERENCE / f"{FOLDER}.dense.f16.gguf"
    got = {}
    for mix in ("Q8_0", "Q4_0"):
        q = quantize(owl, f16, tmp_path / f"{mix}.gguf", mix)
        got[mix] = validate(owl, folder, q, tmp_path)[0]["embedding"]["cosine"]["mean"]
    print(f"tiny EmbeddingGemma, mean cosine to the folder: {got}")
    assert 0.9 < got["Q4_0"] < got["Q8_0"] < 1.0


def test_dense_layers_only_run_when_both_models_have_them(owl, folder, tmp_path):
    plain = gu.REFERENCE / f"{FOLDER}.f16.gguf"  # converted without the Dense modules
    report, text = validate(owl, folder, plain, tmp_path)
    e = report["embedding"]
    assert e["dense_layers"] == "only the reference (not applied)"
    assert e["cosine"]["min"] > 0.9999
    report, _ = validate(owl, plain, plain, tmp_path)
    assert report["embedding"]["dense_layers"] == "neither model"
    assert report["embedding"]["cosine"]["min"] == pytest.approx(1.0, abs=1e-12)


def test_logit_files_are_refused(owl, folder, tmp_path):
    ids = tmp_path / "tokens.txt"
    ids.write_text(" ".join(map(str, TOKENS)))
    r = owl("validate", folder, folder, "--tokens", ids, "--ctx", CTX, "--save-ref",
            tmp_path / "ref.owlref", "--quiet", timeout=300)
    assert r.returncode != 0 and "sentence embeddings" in r.stderr, r.describe()
    assert not (tmp_path / "ref.owlref").exists()

