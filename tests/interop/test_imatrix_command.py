"""`owl imatrix` computes the importance matrix llama-imatrix computes: on the same f32 model (and
an f32 KV cache without flash attention for llama.cpp), text,
context and chunks, the same entries (every blk.* matrix product, output.weight with
--process-output), the same counts and chunk metadata, and sums within 1e-3 relative (the sums run
in a different order); the same perplexity per chunk. Also the legacy .dat, --in-file combination
against llama-imatrix's own combination, --save-frequency, and `owl quantize` with owl's matrix.

Models: the real stories260K (GGUF conversion of the bundled llama2.c checkpoint) and a random
Llama-shaped model whose rows are multiples of 256 (so that every i-quant applies); and the five
mixture-of-experts fixtures, whose stacked experts get sums and token counts per expert; and the
Phi-3 fixtures (fused q/k/v and gate/up matrices, LongRoPE)."""

import json
import re
import struct
import subprocess
import sys
import time

import gguf
import numpy as np
import pytest

import gguf_util as gu
from test_quantize_imatrix import MODEL, SYNTH, THREADS, run_tool

CTX = 128
CHUNKS = 3
RTOL = 1e-3


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    path = tmp_path_factory.mktemp("imatrix_text") / "story.txt"
    path.write_text((gu.STORIES / "story.txt").read_text() * 8)
    return path


@pytest.fixture(scope="module", params=["stories260K", "synth"])
def model(request, owl, tmp_path_factory):
    """An f32 GGUF that llama.cpp runs, so that both sides multiply the same numbers."""
    tmp = tmp_path_factory.mktemp("imatrix_model")
    tok = ["--tokenizer", gu.STORIES / "tok512.bin"]
    if request.param == "stories260K":
        return gu.convert(owl, gu.STORIES / "stories260K.bin", tmp / "stories260K.gguf", "--dtype",
                          "f32", *tok)
    if not SYNTH.is_file():
        pytest.fail(f"{SYNTH} is missing (the shared tools folder beside the repository)")
    subprocess.run([sys.executable, str(SYNTH), str(tmp / "hf"), *MODEL], check=True,
                   capture_output=True)
    return gu.convert(owl, tmp / "hf", tmp / "synth.gguf", "--dtype", "f32", *tok)


def owl_imatrix(owl, *args):
    r = owl("imatrix", *args, "--threads", THREADS, timeout=300)
    assert r.returncode == 0, r.describe()
    return r


def llama_imatrix(*args):
    # An f32 KV cache and no flash attention: llama.cpp's defaults round keys, values and queries
    # to f16 (4e-4 relative at the first attn_output already), which owl keeps in f32.
    return run_tool("llama-imatrix", *args, "-t", THREADS, "-ctk", "f32", "-ctv", "f32", "-fa",
                    "off")


def read_gguf_imatrix(path):
    """(entries {name: (sums [experts, cols], counts [experts])}, metadata)."""
    r = gguf.GGUFReader(str(path))
    t = {x.name: np.array(x.data, dtype=np.float64) for x in r.tensors}
    entries = {}
    for name in t:
        if name.endswith(".in_sum2"):
            base = name[:-len(".in_sum2")]
            counts = t[base + ".counts"].reshape(-1)
            entries[base] = (t[name].reshape(len(counts), -1), counts)
    return entries, gu.metadata(path, r)


def read_dat_imatrix(path):
    """({name: (values, ncall)}, chunk_count, dataset) of a legacy .dat."""
    b = path.read_bytes()
    off = 0

    def take(fmt):
        nonlocal off
        v = struct.unpack_from(fmt, b, off)
        off += struct.calcsize(fmt)
        return v

    entries = {}
    (n,) = take("<i")
    for _ in range(n):
        (ln,) = take("<i")
        name = b[off:off + ln].decode()
        off += ln
        ncall, nval = take("<ii")
        entries[name] = (np.array(take(f"<{nval}f"), dtype=np.float64), ncall)
    (chunks,) = take("<i")
    (ln,) = take("<i")
    return entries, chunks, b[off:off + ln].decode()


def check_close(got, want, what):
    """Each entry's sums within RTOL of the largest in its row (tiny sums round in absolute
    terms), and its counts equal."""
    assert sorted(got) == sorted(want), what
    worst = 0.0
    for name, (gs, gc) in got.items():
        ws, wc = want[name]
        assert np.array_equal(gc, wc), f"{what}: {name} counts {gc} != {wc}"
        assert gs.shape == ws.shape, f"{what}: {name} shape"
        rel = np.abs(gs - ws) / np.maximum(np.abs(ws), 1e-3 * np.abs(ws).max())
        worst = max(worst, float(rel.max()))
        assert rel.max() <= RTOL, f"{what}: {name} differs by {rel.max():.2e} relative"
    return worst


def perplexities(stdout):
    return [float(x) for x in re.findall(r"\[\d+\]([0-9.]+),", stdout)]


@pytest.fixture(scope="module")
def pair(owl, model, text, tmp_path_factory):
    """owl's and llama-imatrix's matrices on the same model, text, context and chunks (with
    --process-output), and both commands' outputs and times."""
    tmp = tmp_path_factory.mktemp("imatrix_pair")
    common = ["--process-output", "--chunks", CHUNKS]
    t0 = time.perf_counter()
    llama = llama_imatrix("-m", model, "-f", text, "-o", tmp / "llama.gguf", "-c", CTX, *common)
    t1 = time.perf_counter()
    mine = owl_imatrix(owl, model, "--text", text, "-o", tmp / "owl.gguf", "--ctx", CTX, *common)
    t2 = time.perf_counter()
    print(f"\n{model.stem}: llama-imatrix {t1 - t0:.2f} s, owl imatrix {t2 - t1:.2f} s")
    return {"model": model, "llama": tmp / "llama.gguf", "owl": tmp / "owl.gguf",
            "llama_out": llama.stdout + llama.stderr,
            "owl_out": mine.stdout, "tmp": tmp}


def test_entries_counts_and_sums_agree_with_llama_imatrix(pair):
    got, got_meta = read_gguf_imatrix(pair["owl"])
    want, want_meta = read_gguf_imatrix(pair["llama"])
    worst = check_close(got, want, "owl vs llama-imatrix")
    print(f"worst relative difference {worst:.2e} over {len(got)} entries")
    # --process-output; stories260K's output is its token embedding, which neither collects.
    assert ("output.weight" in got) == ("output.weight" in gu.tensors(pair["model"]))
    assert all(n.startswith("blk.") or n == "output.weight" for n in got)
    for key in ("general.type", "imatrix.chunk_count", "imatrix.chunk_size"):
        assert got_meta[key].value == want_meta[key].value, key
    assert got_meta["imatrix.chunk_count"].value == CHUNKS
    assert got_meta["imatrix.datasets"].value == want_meta["imatrix.datasets"].value


def test_perplexity_per_chunk_agrees_with_llama_imatrix(pair):
    got, want = perplexities(pair["owl_out"]), perplexities(pair["llama_out"])
    assert len(got) == CHUNKS and "Final estimate: PPL = " in pair["owl_out"], pair["owl_out"]
    # llama.cpp logs from a thread that may not flush its last lines before the process exits.
    assert want, pair["llama_out"]
    assert np.allclose(got[:len(want)], want, rtol=1e-3), (got, want)


def test_without_process_output_output_weight_is_left_out(owl, model, text, tmp_path):
    owl_imatrix(owl, model, "--text", text, "-o", tmp_path / "m.gguf", "--ctx", CTX, "--chunks", 1,
                "--no-ppl")
    entries, meta = read_gguf_imatrix(tmp_path / "m.gguf")
    assert "output.weight" not in entries
    assert meta["imatrix.chunk_count"].value == 1
    assert all(c[0] == CTX for _, c in entries.values())


def test_dat_agrees_with_llama_imatrix_dat(owl, model, text, tmp_path):
    args = ["--chunks", CHUNKS, "--output-format", "dat"]
    owl_imatrix(owl, model, "--text", text, "-o", tmp_path / "owl.dat", "--ctx", CTX, "--no-ppl",
                *args)
    llama_imatrix("-m", model, "-f", text, "-o", tmp_path / "llama.dat", "-c", CTX, "--no-ppl",
                  *args)
    got, got_chunks, got_set = read_dat_imatrix(tmp_path / "owl.dat")
    want, want_chunks, want_set = read_dat_imatrix(tmp_path / "llama.dat")
    assert (got_chunks, got_set) == (want_chunks, want_set)
    check_close({n: (v, np.array([c])) for n, (v, c) in got.items()},
                {n: (v, np.array([c])) for n, (v, c) in want.items()}, "dat")


def test_in_file_combines_as_llama_imatrix_does(owl, model, pair, tmp_path):
    """A GGUF and a .dat combined (no text): the same sums, counts and datasets as
    llama-imatrix --in-file gives for the same files."""
    dat = tmp_path / "one.dat"
    owl_imatrix(owl, "--in-file", pair["owl"], "-o", dat, "--output-format", "dat", "--ctx", CTX)
    for who in ("owl", "llama"):
        inputs = ["--in-file", pair["llama"], "--in-file", dat]
        if who == "owl":
            owl_imatrix(owl, *inputs, "-o", tmp_path / "owl.gguf", "--ctx", CTX)
        else:
            llama_imatrix("-m", model, *inputs, "-o", tmp_path / "llama.gguf", "-c", CTX)
    got, got_meta = read_gguf_imatrix(tmp_path / "owl.gguf")
    want, want_meta = read_gguf_imatrix(tmp_path / "llama.gguf")
    check_close(got, want, "combined")
    assert got_meta["imatrix.chunk_count"].value == 2 * CHUNKS
    assert got_meta["imatrix.chunk_count"].value == want_meta["imatrix.chunk_count"].value
    assert got_meta["imatrix.datasets"].value == want_meta["imatrix.datasets"].value


def test_dat_round_trip_keeps_the_mean_squares(owl, pair, tmp_path):
    owl_imatrix(owl, "--in-file", pair["owl"], "-o", tmp_path / "m.dat", "--output-format", "dat",
                "--ctx", CTX)
    owl_imatrix(owl, "--in-file", tmp_path / "m.dat", "-o", tmp_path / "back.gguf", "--ctx", CTX)
    got, _ = read_gguf_imatrix(tmp_path / "back.gguf")
    want, _ = read_gguf_imatrix(pair["owl"])
    # The legacy file holds mean squares times whole chunks: the same means come back.
    check_close({n: (s / c[:, None], np.ones_like(c)) for n, (s, c) in got.items()},
                {n: (s / c[:, None], np.ones_like(c)) for n, (s, c) in want.items()}, "round trip")


def test_same_bytes_whatever_the_thread_count(owl, model, text, tmp_path):
    files = []
    for threads in (1, 2, 3):
        out = tmp_path / f"t{threads}.gguf"
        r = owl("imatrix", model, "--text", text, "-o", out, "--ctx", CTX, "--chunks", 2,
                "--threads", threads, "--quiet", timeout=300)
        assert r.returncode == 0, r.describe()
        files.append(out.read_bytes())
    assert files[0] == files[1] == files[2]


def test_save_frequency_writes_partial_matrices(owl, model, text, tmp_path):
    out = tmp_path / "m.gguf"
    owl_imatrix(owl, model, "--text", text, "-o", out, "--ctx", CTX, "--chunks", CHUNKS,
                "--save-frequency", 2, "--no-ppl")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.gguf", "m.gguf.at_2"]
    partial, meta = read_gguf_imatrix(tmp_path / "m.gguf.at_2")
    assert meta["imatrix.chunk_count"].value == 2
    assert all(c[0] == 2 * CTX for _, c in partial.values())


def test_quantizing_with_owls_imatrix_drifts_as_with_llamas(owl, model, text, pair, tmp_path):
    """Q2_K (the k-quant an imatrix changes most) with owl's matrix and with llama-imatrix's:
    the same mean KL divergence from the f32 model, within 2%, on the same text. On the real
    model only: on random weights Q2_K's searches are near ties, and the 1e-6 differences between
    the matrices flip 2-5% of the bytes, moving the mean KLD by up to 5% either way."""
    if model.stem != "stories260K":
        pytest.skip("random weights: the KLD of near-identical quantizations is noise")
    kld = {}
    for who in ("owl", "llama"):
        q = tmp_path / f"{who}.gguf"
        r = owl("quantize", model, "-o", q, "-t", "Q2_K", "--imatrix", pair[who], "--quiet",
                "--threads", THREADS, timeout=300)
        assert r.returncode == 0, r.describe()
        meta = gu.metadata(q)
        assert meta["quantize.imatrix.file"].value == str(pair[who])
        assert meta["quantize.imatrix.chunks_count"].value == CHUNKS
        report = tmp_path / f"{who}.json"
        r = owl("validate", model, q, "--text", text, "--ctx", CTX, "--chunks", CHUNKS,
                "--no-tensors", "--json", report, "--quiet", timeout=300)
        assert r.returncode == 0, r.describe()
        kld[who] = json.loads(report.read_text())["kld"]["mean"]
    print(f"mean KLD with owl's imatrix {kld['owl']:.6f}, with llama-imatrix's {kld['llama']:.6f}")
    assert kld["owl"] > 0
    assert abs(kld["owl"] - kld["llama"]) <= 0.02 * kld["llama"], kld


def test_refusals(owl, model, tmp_path):
    r = owl("imatrix", "-o", tmp_path / "m.gguf")
    assert r.returncode != 0 and "--text" in r.stderr
    short = tmp_path / "short.txt"
    short.write_text("Once upon a time.")
    r = owl("imatrix", model, "--text", short, "-o", tmp_path / "m.gguf")
    assert r.returncode != 0 and "short.txt" in r.stderr and "fewer than one chunk" in r.stderr
    assert not (tmp_path / "m.gguf").exists()
    r = owl("imatrix", "--in-file", text_not_imatrix(tmp_path), "-o", tmp_path / "m.gguf")
    assert r.returncode != 0 and "story.txt" in r.stderr, r.describe()


def text_not_imatrix(tmp_path):
    path = tmp_path / "story.txt"
    path.write_text((gu.STORIES / "story.txt").read_text())
    return path


@pytest.mark.parametrize("folder", ["tiny-mixtral", "tiny-qwen2moe", "tiny-qwen3moe", "tiny-olmoe",
                                    "tiny-granitemoe", "tiny-gptoss-bf16", "tiny-llama4"])
def test_moe_experts_agree_with_llama_imatrix(owl, text, tmp_path, folder):
    """Each expert's sums and token count apart, as the router sends tokens to it (Qwen2-MoE adds
    a shared expert and its gate, which every token goes through)."""
    got, want = fixture_imatrices(owl, text, tmp_path, folder)
    stacks = [n for n in want if "_exps." in n]
    assert stacks and all(len(want[n][1]) > 1 for n in stacks)
    check_close(got, want, f"{folder}: owl vs llama-imatrix")


def fixture_imatrices(owl, text, tmp_path, folder):
    """owl's and llama-imatrix's entries for the f32 copy of a fixture's reference GGUF."""
    model = gu.convert(owl, gu.REFERENCE / f"{folder}.f16.gguf", tmp_path / "model.gguf",
                       "--dtype", "f32")
    llama_imatrix("-m", model, "-f", text, "-o", tmp_path / "llama.gguf", "-c", CTX, "--chunks",
                  CHUNKS, "--no-ppl")
    owl_imatrix(owl, model, "--text", text, "-o", tmp_path / "owl.gguf", "--ctx", CTX, "--chunks",
                CHUNKS, "--no-ppl")
    return read_gguf_imatrix(tmp_path / "owl.gguf")[0], read_gguf_imatrix(tmp_path / "llama.gguf")[0]


@pytest.mark.parametrize("folder", ["tiny-phi3", "tiny-phi3-longrope"])
def test_phi3_fused_matrices_agree_with_llama_imatrix(owl, text, tmp_path, folder):
    """Phi-3's fused q/k/v and gate/up matrices are one entry each, fed the normed input; the
    LongRoPE fixture runs its long factors at this context (llama.cpp rounds 128 up to 256)."""
    got, want = fixture_imatrices(owl, text, tmp_path, folder)
    assert {"blk.0.attn_qkv.weight", "blk.0.ffn_up.weight", "blk.0.ffn_down.weight"} <= set(want)
    check_close(got, want, f"{folder}: owl vs llama-imatrix")


@pytest.mark.parametrize("folder", ["tiny-gemma", "tiny-gemma2", "tiny-gemma3-swa"])
def test_gemma_agrees_with_llama_imatrix(owl, text, tmp_path, folder):
    """The Gemma forward pass under the collector: GeGLU's gate and up products, the sandwich
    norms, soft-capping (Gemma 2) and the sliding layers (tiny-gemma3-swa: a window of 8 on six of
    its seven layers), on owl's f32 conversion of the folder; the perplexity per chunk too."""
    model = gu.convert(owl, gu.hf_copy(folder, tmp_path), tmp_path / "gemma.gguf", "--dtype",
                       "f32")
    common = ["--chunks", CHUNKS, "--process-output"]
    llama = llama_imatrix("-m", model, "-f", text, "-o", tmp_path / "llama.gguf", "-c", CTX,
                          *common)
    mine = owl_imatrix(owl, model, "--text", text, "-o", tmp_path / "owl.gguf", "--ctx", CTX,
                       *common)
    got, _ = read_gguf_imatrix(tmp_path / "owl.gguf")
    want, _ = read_gguf_imatrix(tmp_path / "llama.gguf")
    assert any("ffn_gate" in n for n in want)
    check_close(got, want, f"{folder}: owl vs llama-imatrix")
    got_ppl, want_ppl = perplexities(mine.stdout), perplexities(llama.stdout + llama.stderr)
    assert want_ppl and np.allclose(got_ppl[:len(want_ppl)], want_ppl, rtol=1e-3), (got_ppl,
                                                                                      want_ppl)
