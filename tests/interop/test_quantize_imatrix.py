"""`owl quantize --imatrix` writes the file `llama-quantize --imatrix` writes, byte for byte, given
the same importance matrix: one that llama.cpp's own llama-imatrix computed on a small Llama-shaped
model (rows multiples of 256) over a short story, in its GGUF format and in the legacy .dat. Every
mix that needs or changes with an imatrix, and every single type (--pure). Also what both refuse:
a mix that needs an imatrix without one, an imatrix that lacks a tensor or has the wrong width,
and hostile imatrix files.

The llama.cpp tools come from $OWL_LLAMA_CPP_TOOLS (tools/setup.sh builds them), else from
~/.cache/owl/llama-cpp-0.3.36-tools/bin."""

import os
import struct
import subprocess
import sys
from pathlib import Path

import gguf
import numpy as np
import pytest

import gguf_util as gu
from test_quantize_llama_cpp import SYNTH, check_same_file, check_same_tensors

TOOLS = Path(os.environ.get("OWL_LLAMA_CPP_TOOLS",
                            Path.home() / ".cache/owl/llama-cpp-0.3.36-tools/bin"))
THREADS = 2

# Mixes whose types or bytes depend on an importance matrix.
IMATRIX_MIXES = ["IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS", "IQ3_XS",
                 "IQ3_S", "IQ3_M", "Q2_K_S", "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S",
                 "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "IQ4_NL",
                 "IQ4_XS", "Q1_0", "Q2_0"]
# Each type alone (--pure), by a mix whose base type it is.
PURE = {"Q4_0": "Q4_0", "Q4_1": "Q4_1", "Q5_0": "Q5_0", "Q5_1": "Q5_1", "Q2_K": "Q2_K",
        "Q3_K": "Q3_K_M", "Q4_K": "Q4_K_M", "Q5_K": "Q5_K_M", "Q6_K": "Q6_K", "IQ4_NL": "IQ4_NL",
        "IQ4_XS": "IQ4_XS", "IQ1_S": "IQ1_S", "IQ1_M": "IQ1_M", "IQ2_XXS": "IQ2_XXS",
        "IQ2_XS": "IQ2_XS", "IQ2_S": "IQ2_M", "IQ3_XXS": "IQ3_XXS", "IQ3_S": "IQ3_S",
        "Q1_0": "Q1_0", "Q2_0": "Q2_0"}
# ggml cannot make these without importance weights (it asserts): token_embd and output.weight,
# which llama-imatrix does not see, get another type.
NO_UNWEIGHTED = {"IQ1_S", "IQ2_XXS", "IQ2_XS"}

# Eight layers (the rules by layer pick different types across the model), two query heads per
# key/value head (so that attn_v keeps the i-quants), rows of 256 and 512.
MODEL = ["--hidden", "256", "--layers", "8", "--ffn", "512", "--heads", "4", "--kv", "2",
         "--vocab", "512"]
CTX = 128
CHUNKS = 3


def tool(name):
    path = TOOLS / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: tools/setup.sh's owl_build_llama_cpp_tools builds it "
                    f"(or set OWL_LLAMA_CPP_TOOLS)", pytrace=False)
    return path


def run_tool(name, *args, ok=True):
    p = subprocess.run([str(tool(name)), *map(str, args)], capture_output=True, text=True,
                       timeout=600, stdin=subprocess.DEVNULL)
    if ok:
        assert p.returncode == 0, f"{name} {args} failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p


@pytest.fixture(scope="module")
def model(owl, tmp_path_factory):
    """An f16 Llama GGUF with the stories260K tokenizer, so that llama.cpp can run it."""
    if not SYNTH.is_file():
        pytest.fail(f"{SYNTH} is missing (the shared tools folder beside the repository)")
    tmp = tmp_path_factory.mktemp("imatrix_model")
    subprocess.run([sys.executable, str(SYNTH), str(tmp / "hf"), *MODEL], check=True,
                   capture_output=True)
    return gu.convert(owl, tmp / "hf", tmp / "model.f16.gguf", "--dtype", "f16", "--tokenizer",
                      gu.STORIES / "tok512.bin")


@pytest.fixture(scope="module")
def imatrices(model, tmp_path_factory):
    """{"gguf": path, "dat": path}: llama-imatrix's two formats, on the same text."""
    tmp = tmp_path_factory.mktemp("imatrix")
    # The story eight times over: enough tokens for a few chunks of CTX.
    text = tmp / "story.txt"
    text.write_text((gu.STORIES / "story.txt").read_text() * 8)
    out = {}
    for fmt in ("gguf", "dat"):
        path = tmp / f"imatrix.{fmt}"
        run_tool("llama-imatrix", "-m", model, "-f", text, "-o", path,
                 "-c", CTX, "--chunks", CHUNKS, "-t", THREADS, "--output-format", fmt, "--no-ppl")
        out[fmt] = path
    # A second matrix on other text (the story's words backwards) and fewer chunks, to combine.
    rev = tmp / "reversed.txt"
    rev.write_text(" ".join(reversed(text.read_text().split())))
    out["other"] = tmp / "other.gguf"
    run_tool("llama-imatrix", "-m", model, "-f", rev, "-o", out["other"], "-c", CTX, "--chunks", 2,
             "-t", THREADS, "--no-ppl")
    return out


def llama_quantize(src, dst, mix, *flags, ok=True):
    return run_tool("llama-quantize", *flags, src, dst, mix, THREADS, ok=ok)


def owl_quantize(owl, src, dst, mix, *flags):
    return owl("quantize", src, "-o", dst, "-t", mix, "--quiet", "--no-provenance", "--threads",
               THREADS, *flags,
               timeout=300)


def both(owl, model, tmp_path, mix, *flags):
    want, got = tmp_path / "llama.gguf", tmp_path / "owl.gguf"
    llama_quantize(model, want, mix, *flags)
    r = owl_quantize(owl, model, got, mix, *flags)
    assert r.returncode == 0, r.describe()
    return got, want


@pytest.mark.parametrize("mix", IMATRIX_MIXES)
def test_mix_with_imatrix_types_and_keys_match(owl, model, imatrices, tmp_path, mix):
    """The plan (every tensor's type) and the metadata, quantize.imatrix.* included."""
    got, want = both(owl, model, tmp_path, mix, "--imatrix", imatrices["gguf"])
    if got.read_bytes() == want.read_bytes():
        return  # (gguf-py 0.19 cannot read Q1_0 and Q2_0 files, but equal bytes say it all)
    got_t, want_t = gu.tensors(got), gu.tensors(want)
    assert {n: t.type for n, t in got_t.items()} == {n: t.type for n, t in want_t.items()}
    got_m, want_m = gu.metadata(got), gu.metadata(want)
    assert list(got_m) == list(want_m)
    assert {k: e.raw for k, e in got_m.items()} == {k: e.raw for k, e in want_m.items()}
    assert want_m["quantize.imatrix.entries_count"].value == 56  # 7 matrices x 8 layers


@pytest.mark.parametrize("mix", IMATRIX_MIXES)
def test_mix_with_imatrix_is_byte_identical(owl, model, imatrices, tmp_path, mix):
    check_same_file(*both(owl, model, tmp_path, mix, "--imatrix", imatrices["gguf"]))


@pytest.mark.parametrize("qtype", list(PURE))
def test_single_type_with_imatrix_is_byte_identical(owl, model, imatrices, tmp_path, qtype):
    flags = ["--imatrix", imatrices["gguf"], "--pure"]
    if qtype in NO_UNWEIGHTED:
        flags += ["--token-embedding-type", "q8_0", "--output-tensor-type", "q8_0"]
    check_same_file(*both(owl, model, tmp_path, PURE[qtype], *flags))


@pytest.mark.parametrize("mix", ["Q4_K_M", "IQ2_XS", "IQ3_XXS"])
def test_legacy_dat_imatrix_is_byte_identical(owl, model, imatrices, tmp_path, mix):
    check_same_file(*both(owl, model, tmp_path, mix, "--imatrix", imatrices["dat"]))


@pytest.mark.parametrize("flag,part", [("--include-weights", "attn"),
                                       ("--exclude-weights", "ffn_down")])
def test_include_and_exclude_weights(owl, model, imatrices, tmp_path, flag, part):
    got, want = both(owl, model, tmp_path, "Q4_K_M", "--imatrix", imatrices["gguf"], flag, part)
    n = 32 if flag == "--include-weights" else 48
    assert gu.metadata(got)["quantize.imatrix.entries_count"].value == n
    check_same_file(got, want)


def refused(owl, model, tmp_path, mix, *flags):
    """Both tools fail; returns owl's one-line error."""
    assert llama_quantize(model, tmp_path / "llama.gguf", mix, *flags, ok=False).returncode != 0
    r = owl_quantize(owl, model, tmp_path / "owl.gguf", mix, *flags)
    assert r.returncode != 0, r.describe()
    assert not (tmp_path / "owl.gguf").exists()
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.describe()
    return lines[0]


@pytest.mark.parametrize("mix", ["IQ1_S", "IQ2_XXS", "IQ3_XXS", "Q2_K_S"])
def test_mix_needing_an_imatrix_is_refused_without_one(owl, model, tmp_path, mix):
    err = refused(owl, model, tmp_path, mix)
    assert "blk.0." in err and "--imatrix" in err


def test_tensor_type_needing_an_imatrix_is_refused_without_one(owl, model, tmp_path):
    err = refused(owl, model, tmp_path, "Q4_K_M", "--tensor-type", "attn_q=iq2_xxs")
    assert "blk.0.attn_q.weight" in err and "IQ2_XXS" in err


def test_imatrix_lacking_a_tensor_is_refused(owl, model, imatrices, tmp_path):
    err = refused(owl, model, tmp_path, "IQ2_XXS", "--imatrix", imatrices["gguf"],
                  "--exclude-weights", "attn_k")
    assert "blk.0.attn_k.weight" in err and "no entry" in err


def rewrite_imatrix(src, dst, change):
    """A copy of a GGUF imatrix with `change(name, array)` applied to each tensor's values."""
    r = gguf.GGUFReader(src)
    w = gguf.GGUFWriter(dst, arch="", endianess=gguf.GGUFEndian.LITTLE)
    w.kv_data[0].clear()  # no general.architecture
    w.add_string("general.type", "imatrix")
    w.add_array("imatrix.datasets", [str(bytes(r.fields["imatrix.datasets"].parts[-1]), "utf-8")])
    w.add_uint32("imatrix.chunk_count", CHUNKS)
    w.add_uint32("imatrix.chunk_size", CTX)
    for t in r.tensors:
        values = change(t.name, np.array(t.data, dtype=np.float32).reshape(-1))
        w.add_tensor(t.name, values)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return dst


def test_imatrix_of_the_wrong_width_is_refused(owl, model, imatrices, tmp_path):
    narrow = rewrite_imatrix(imatrices["gguf"], tmp_path / "narrow.gguf",
                             lambda n, v: v[:128] if n == "blk.3.ffn_up.weight.in_sum2" else v)
    err = refused(owl, model, tmp_path, "Q4_K_M", "--imatrix", narrow)
    assert "blk.3.ffn_up.weight" in err and "128" in err


def test_imatrix_with_nan_is_refused(owl, model, imatrices, tmp_path):
    bad = rewrite_imatrix(imatrices["gguf"], tmp_path / "nan.gguf",
                          lambda n, v: np.where(np.arange(v.size) == 3, np.nan, v).astype(np.float32)
                          if n == "blk.1.attn_q.weight.in_sum2" else v)
    err = refused(owl, model, tmp_path, "Q4_K_M", "--imatrix", bad)
    assert str(bad) in err and "blk.1.attn_q.weight" in err


@pytest.mark.parametrize("cut", [3, 30, 1000])
def test_truncated_dat_imatrix_is_refused(owl, model, imatrices, tmp_path, cut):
    data = Path(imatrices["dat"]).read_bytes()
    bad = tmp_path / "cut.dat"
    bad.write_bytes(data[:cut])
    r = owl_quantize(owl, model, tmp_path / "owl.gguf", "Q4_K_M", "--imatrix", bad)
    assert r.returncode == 2, r.describe()
    assert str(bad) in r.stderr and "truncated" in r.stderr


def test_dry_run_names_the_weighted_tensors(owl, model, imatrices):
    r = owl("quantize", model, "-t", "IQ2_XS", "--imatrix", imatrices["gguf"], "--dry-run",
            "--json")
    assert r.returncode == 0, r.describe()
    import json
    plan = json.loads(r.stdout)
    weighted = {t["name"] for t in plan["tensors"] if "imatrix" in t}
    assert "blk.0.attn_q.weight" in weighted and "token_embd.weight" not in weighted
    assert len(weighted) == 56


def test_override_kv_is_byte_identical(owl, model, imatrices, tmp_path):
    got, want = both(owl, model, tmp_path, "Q4_K_M", "--imatrix", imatrices["gguf"],
                     "--override-kv", "general.name=str:owl test", "--override-kv",
                     "test.count=int:-7", "--override-kv", "test.scale=float:1.5",
                     "--override-kv", "test.flag=bool:true")
    check_same_file(got, want)
    assert gu.metadata(got)["test.count"].value == 7  # as uint32 of its absolute value


def test_tensor_type_file_is_byte_identical(owl, model, imatrices, tmp_path):
    types = tmp_path / "types.txt"
    types.write_text("attn_v=q8_0 ATTN_K=q5_k\nblk\\.[0-3]\\.ffn_down=iq4_nl\n")
    check_same_file(*both(owl, model, tmp_path, "IQ3_M", "--imatrix", imatrices["gguf"],
                          "--tensor-type-file", types))


@pytest.mark.parametrize("layers", ["0", "1,5", "7,3,3"])
def test_prune_layers_is_byte_identical(owl, model, imatrices, tmp_path, layers):
    got, want = both(owl, model, tmp_path, "Q4_K_M", "--imatrix", imatrices["gguf"],
                     "--prune-layers", layers)
    check_same_file(got, want)
    assert gu.metadata(got)["llama.block_count"].value == 8 - len(set(layers.split(",")))


@pytest.mark.parametrize("fmt", ["gguf", "dat"])
def test_inspect_describes_the_imatrix(owl, imatrices, fmt):
    r = owl("inspect", imatrices[fmt], "--json")
    assert r.returncode == 0, r.describe()
    import json
    d = json.loads(r.stdout)
    assert d["format"] == fmt and d["entries"] == 56 and d["chunks"] == CHUNKS
    assert len(d["datasets"]) == 1 and d["datasets"][0].endswith("story.txt")
    assert d["zero_counts"] == []
    q = next(t for t in d["tensors"] if t["name"] == "blk.0.attn_q.weight")
    assert q["experts"] == 1 and q["columns"] == 256
    r = owl("inspect", imatrices[fmt])
    assert r.returncode == 0 and "56 entries" in r.stdout, r.describe()


@pytest.mark.parametrize("ins,fmt", [(["gguf"], "gguf"), (["gguf", "other"], "gguf"),
                                     (["dat"], "gguf"), (["gguf"], "dat"),
                                     (["dat", "other"], "gguf"), (["other", "dat"], "dat")])
def test_combined_imatrix_is_byte_identical(owl, model, imatrices, tmp_path, ins, fmt):
    """owl imatrix --in-file ... writes what llama-imatrix --in-file ... writes (it needs -m but
    does not run the model when it only combines)."""
    files = [a for name in ins for a in ("--in-file", imatrices[name])]
    want, got = tmp_path / f"llama.{fmt}", tmp_path / f"owl.{fmt}"
    run_tool("llama-imatrix", "-m", model, *files, "-o", want, "--output-format", fmt, "-c", CTX)
    r = owl("imatrix", *files, "-o", got, "--output-format", fmt, "-c", CTX, "--quiet")
    assert r.returncode == 0, r.describe()
    assert got.read_bytes() == want.read_bytes()


def test_combining_matrices_of_other_widths_is_refused(owl, imatrices, tmp_path):
    narrow = rewrite_imatrix(imatrices["gguf"], tmp_path / "narrow.gguf",
                             lambda n, v: v[:128] if n == "blk.3.ffn_up.weight.in_sum2" else v)
    r = owl("imatrix", "--in-file", imatrices["gguf"], "--in-file", narrow, "-o",
            tmp_path / "x.gguf")
    assert r.returncode == 2, r.describe()
    assert str(narrow) in r.stderr and "blk.3.ffn_up.weight" in r.stderr
    assert not (tmp_path / "x.gguf").exists()
