"""`owl quantize --target-bpw / --target-size` (measured recipes): the file lands within the
target, gguf-py reads it and llama.cpp runs it, the bytes and the measurement do not depend on the
thread count, and at Q4_0's size the recipe's KL divergence from the f32 model (llama.cpp's
logits) is below Q4_0's. How well the predicted error ranks each matrix's drift is measured by
tools/bench/recipe_kld.sh on a larger model (too slow for this test).

Model: the real stories260K (llama2.c's tinyllamas, converted to f32): rows of 64 and 172, so the
choice is among the 32-element block types, and ffn_down (172) keeps its fallback."""

import json

import gguf
import numpy as np
import pytest

import gguf_util as gu
from test_quantize_optimize import CTX, eval_chunks, log_probs
from test_quantize_optimize import setup  # noqa: F401 (a fixture: the f32 model and its log-probs)

CANDIDATES = {"Q2_K", "Q3_K", "Q4_0", "IQ4_XS", "IQ4_NL", "Q4_1", "Q4_K", "Q5_0", "Q5_1", "Q5_K",
              "Q6_K", "Q8_0"}


@pytest.fixture(scope="module")
def measured(owl, setup):
    """The f32 model, its reference log-probabilities, and its measurement at 1 and 2 threads."""
    tmp, ref, calib, reference = setup
    sens = {}
    for threads in (1, 2):
        sens[threads] = tmp / f"sens{threads}.json"
        run(owl, "quantize", ref, "--text", calib, "--calibration-ctx", CTX, "--sensitivity-out",
            sens[threads], "--threads", threads)
    return tmp, ref, sens, reference


def run(owl, *args):
    r = owl(*args, "--quiet", timeout=300)
    assert r.returncode == 0, r.describe()
    return r


def q4_0(owl, ref, tmp):
    out = tmp / "q4_0.gguf"
    if not out.exists():
        run(owl, "quantize", ref, "-o", out, "-t", "Q4_0")
    plan = json.loads(run(owl, "quantize", ref, "-t", "Q4_0", "--dry-run", "--json").stdout)
    return out, plan["bits_per_weight"]


def mean_kld(reference, model):
    chunks, p = reference
    q = log_probs(model, chunks)
    return float((np.exp(p) * (p - q)).sum(axis=-1).mean())


def bits_per_weight(path):
    tensors = gguf.GGUFReader(str(path)).tensors
    return 8 * sum(int(t.n_bytes) for t in tensors) / sum(int(t.n_elements) for t in tensors)


def test_measurement_is_the_same_for_any_thread_count(measured):
    _, _, sens, _ = measured
    assert sens[1].read_bytes() == sens[2].read_bytes()
    table = json.loads(sens[1].read_text())
    assert table["format"] == "owl-sensitivity"
    names = {t["name"] for t in table["tensors"]}
    assert "blk.0.attn_q.weight" in names and "token_embd.weight" in names
    assert "blk.0.ffn_down.weight" not in names  # rows of 172: no candidate fits


def test_target_bpw_lands_within_and_beats_q4_0(owl, measured):
    tmp, ref, sens, reference = measured
    plain, target = q4_0(owl, ref, tmp)
    outs = {}
    for threads in (1, 2):
        outs[threads] = tmp / f"bpw{threads}.gguf"
        r = run(owl, "quantize", ref, "-o", outs[threads], "--target-bpw", target,
                "--sensitivity", sens[1], "--threads", threads, "--json")
    assert outs[1].read_bytes() == outs[2].read_bytes()
    plan = json.loads(r.stdout)
    got = bits_per_weight(outs[1])
    assert target * 0.97 <= got <= target, (got, target)
    assert abs(plan["bits_per_weight"] - got) < 1e-9
    types = {t.name: t.tensor_type.name for t in gguf.GGUFReader(str(outs[1])).tensors}
    assert {t["name"]: t["to"] for t in plan["tensors"]} == types
    chosen = {t["to"] for t in plan["tensors"] if "predicted_error" in t}
    assert chosen <= CANDIDATES and len(chosen) >= 2, chosen
    total = sum(t["predicted_error"] for t in plan["tensors"] if "predicted_error" in t)
    assert total == pytest.approx(plan["target"]["predicted_error"], rel=1e-9)
    kld_recipe, kld_plain = mean_kld(reference, outs[1]), mean_kld(reference, plain)
    print(f"stories260K at {target:.4f} bpw: mean KLD {kld_recipe:.5f} measured recipe, "
          f"{kld_plain:.5f} Q4_0")
    assert kld_recipe < kld_plain


def test_target_size_lands_within(owl, measured):
    tmp, ref, sens, _ = measured
    plain, _ = q4_0(owl, ref, tmp)
    size = plain.stat().st_size
    out = tmp / "size.gguf"
    run(owl, "quantize", ref, "-o", out, "--target-size", size, "--sensitivity", sens[1])
    assert size * 0.97 <= out.stat().st_size <= size, (out.stat().st_size, size)
    gu.check_layout(out)
    llm = gu.load_llama(out, n_ctx=CTX)
    assert np.isfinite(gu.logits(llm, eval_chunks(out)[0])).all()


def test_target_size_with_optimize(owl, measured):
    """A measured recipe rounded with error feedback: measured (here: once, on the text) and
    calibrated in one pass, the recipe's types and size, the same bytes on 1 and 2 threads, and
    a lower mean KLD than the recipe rounded plainly."""
    tmp, ref, _, reference = measured
    plain, _ = q4_0(owl, ref, tmp)
    size = plain.stat().st_size
    calib = tmp / "calib.txt"
    recipe = tmp / "recipe.gguf"
    run(owl, "quantize", ref, "-o", recipe, "--target-size", size, "--text", calib,
        "--calibration-ctx", CTX)
    outs = {}
    for threads in (1, 2):
        outs[threads] = tmp / f"size-opt{threads}.gguf"
        run(owl, "quantize", ref, "-o", outs[threads], "--target-size", size, "--text", calib,
            "--calibration-ctx", CTX, "--optimize", "--threads", threads)
    assert outs[1].read_bytes() == outs[2].read_bytes()
    assert outs[1].stat().st_size == recipe.stat().st_size
    assert outs[1].read_bytes() != recipe.read_bytes()
    types = {t.name: t.tensor_type for t in gguf.GGUFReader(str(recipe)).tensors}
    assert {t.name: t.tensor_type for t in gguf.GGUFReader(str(outs[1])).tensors} == types
    kld_opt, kld_recipe = mean_kld(reference, outs[1]), mean_kld(reference, recipe)
    print(f"stories260K at Q4_0's size: mean KLD {kld_opt:.5f} recipe with --optimize, "
          f"{kld_recipe:.5f} without, {mean_kld(reference, plain):.5f} Q4_0")
    assert kld_opt < kld_recipe


def test_dry_run_shows_types_and_predictions(owl, measured):
    tmp, ref, sens, _ = measured
    _, target = q4_0(owl, ref, tmp)
    r = run(owl, "quantize", ref, "--target-bpw", target, "--sensitivity", sens[1], "--dry-run")
    assert "measured: predicted error" in r.stdout
    assert not list(tmp.glob("*.tmp*"))


@pytest.mark.parametrize("args,message", [
    (["--target-bpw", "1.5"], "too small"),
    (["--target-bpw", "5", "-t", "Q4_0"], "--type"),
    (["--target-bpw", "5", "--target-size", "1M"], "not both"),
    (["--target-size", "lots"], "not a size"),
])
def test_bad_targets_fail_cleanly(owl, measured, tmp_path, args, message):
    _, ref, sens, _ = measured
    out = tmp_path / "x.gguf"
    r = owl("quantize", ref, "-o", out, "--sensitivity", sens[1], *args)
    assert r.returncode != 0
    assert message in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_a_measurement_of_another_model_is_refused(owl, measured, tmp_path):
    _, ref, sens, _ = measured
    table = json.loads(sens[1].read_text())
    table["tensors"][0]["name"] = "blk.99.attn_q.weight"
    other = tmp_path / "other.json"
    other.write_text(json.dumps(table))
    r = owl("quantize", ref, "-o", tmp_path / "x.gguf", "--target-bpw", "9", "--sensitivity", other)
    assert r.returncode != 0
    assert str(other) in r.stderr and "another model" in r.stderr, r.stderr
    assert not (tmp_path / "x.gguf").exists()
