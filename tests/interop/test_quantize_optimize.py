"""`owl quantize --optimize` (error-compensated rounding from calibration second moments) writes
files that llama.cpp loads and runs unchanged, with the same tensor types and size as plain
rounding, the same bytes whatever the thread count, and a lower KL divergence from the f32 model
as llama.cpp computes the logits (KL divergence as llama-perplexity --kl-divergence scores it).

Model: the real stories260K (llama2.c's tinyllamas, converted to f32). Calibration: story.txt;
evaluation: story_eval.txt, a different text."""

import gguf
import numpy as np
import pytest

import gguf_util as gu
from test_quantize_imatrix import THREADS

CTX = 128


@pytest.fixture(scope="module")
def setup(owl, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("optimize")
    ref = gu.convert(owl, gu.STORIES / "stories260K.bin", tmp / "ref.gguf", "--dtype", "f32",
                     "--tokenizer", gu.STORIES / "tok512.bin")
    calib = tmp / "calib.txt"
    calib.write_text((gu.STORIES / "story.txt").read_text() * 4)
    return tmp, ref, calib, reference_log_probs(ref)


def log_probs(model, chunks):
    """llama.cpp's log-probabilities over the second half of each chunk, as llama-perplexity
    --kl-divergence scores them (in-process: its closing statistics do not survive a pipe)."""
    llm = gu.load_llama(model, n_ctx=CTX, n_batch=CTX)
    out = []
    for tokens in chunks:
        x = gu.logits(llm, tokens)[CTX // 2:CTX - 1].astype(np.float64)
        x -= x.max(axis=-1, keepdims=True)
        out.append(x - np.log(np.exp(x).sum(axis=-1, keepdims=True)))
    return np.concatenate(out)


def eval_chunks(model):
    llm = gu.load_llama(model, n_ctx=CTX, vocab_only=True)
    ids = llm.tokenize((gu.STORIES / "story_eval.txt").read_bytes(), add_bos=False)
    return [[llm.token_bos()] + ids[i + 1:i + CTX] for i in range(0, len(ids) - CTX + 1, CTX)]


def reference_log_probs(ref):
    chunks = eval_chunks(ref)
    assert len(chunks) >= 2
    return chunks, log_probs(ref, chunks)


def quantize(owl, ref, out, mix, *flags, threads=THREADS):
    r = owl("quantize", ref, "-o", out, "-t", mix, "--threads", threads, "--quiet",
            "--no-provenance", *flags, timeout=300)
    assert r.returncode == 0, r.describe()
    return out


def mean_kld(reference, model):
    chunks, p = reference
    q = log_probs(model, chunks)
    return float((np.exp(p) * (p - q)).sum(axis=-1).mean())


def tensor_types(path):
    return {t.name: (t.tensor_type, tuple(t.shape)) for t in gguf.GGUFReader(str(path)).tensors}


@pytest.mark.parametrize("mix", ["Q4_0", "Q4_K_M"])
def test_optimize_runs_in_llama_cpp_with_lower_kld(owl, setup, mix):
    tmp, ref, calib, reference = setup
    plain = quantize(owl, ref, tmp / f"plain-{mix}.gguf", mix)
    opt_flags = ("--optimize", "--text", calib, "--calibration-ctx", CTX)
    opt = quantize(owl, ref, tmp / f"opt-{mix}.gguf", mix, *opt_flags)
    assert tensor_types(opt) == tensor_types(plain)
    assert opt.stat().st_size == plain.stat().st_size
    assert opt.read_bytes() != plain.read_bytes()
    one = quantize(owl, ref, tmp / f"opt1-{mix}.gguf", mix, *opt_flags, threads=1)
    assert one.read_bytes() == opt.read_bytes()
    kld_plain, kld_opt = mean_kld(reference, plain), mean_kld(reference, opt)
    print(f"stories260K {mix}: mean KLD {kld_opt:.5f} with --optimize, {kld_plain:.5f} without")
    assert kld_opt < kld_plain, f"{mix}: mean KLD {kld_opt} with --optimize, {kld_plain} without"


def test_optimize_needs_text(owl, setup, tmp_path):
    _, ref, _, _ = setup
    r = owl("quantize", ref, "-o", tmp_path / "x.gguf", "-t", "Q4_0", "--optimize")
    assert r.returncode != 0
    assert "--text" in r.stderr
    assert not (tmp_path / "x.gguf").exists()
