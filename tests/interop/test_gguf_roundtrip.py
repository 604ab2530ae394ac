"""GGUF -> GGUF without --dtype keeps every metadata entry (key, type, value bytes, order) and
every tensor (name, type, shape, bytes, order), for files written by gguf-py and by llama.cpp."""

import os

import pytest

import gguf_util as gu
import stutil as su


def roundtrip(owl, src, out_dir):
    before = su.dir_snapshot(src.parent)
    out = gu.convert(owl, src, out_dir / "copy.gguf")
    assert su.dir_snapshot(src.parent) == before, "owl changed its input"
    assert os.listdir(out_dir) == ["copy.gguf"]
    return out


def check_same_file_content(got_path, want_path):
    gu.check_layout(got_path)
    got, want = gu.metadata(got_path), gu.metadata(want_path)
    assert list(got) == list(want), (
        f"metadata keys differ: added {[k for k in got if k not in want]}, dropped "
        f"{[k for k in want if k not in got]} (or the order changed)")
    bad = [f"{k}: {gu.describe_difference(got[k], w)}" for k, w in want.items()
           if got[k].raw != w.raw]
    assert not bad, "\n".join(bad)
    got_t, want_t = gu.tensors(got_path), gu.tensors(want_path)
    assert list(got_t) == list(want_t), "tensor names differ (or their order)"
    bad = [f"{n}: {g.type} {g.shape} vs {w.type} {w.shape}" + (
        "" if (g.type, g.shape) != (w.type, w.shape) else " (bytes differ)")
        for n, w in want_t.items() for g in [got_t[n]] if (g.type, g.shape, g.data)
        != (w.type, w.shape, w.data)]
    assert not bad, "\n".join(bad)


def test_gguf_py_sample(owl, in_dir, out_dir):
    src = gu.write_gguf_py_sample(in_dir / "sample.gguf")
    check_same_file_content(roundtrip(owl, src, out_dir), src)


def test_nested_arrays(owl, in_dir, out_dir):
    # owl reads arrays of arrays (gguf-py writes them; `owl inspect` shows them) but never
    # writes them, since ggml's loader refuses such a file: the copy is refused by name.
    src = gu.write_gguf_py_sample(in_dir / "nested.gguf", gu.SAMPLE_METADATA[:3] +
                                  gu.NESTED_METADATA)
    r = owl("convert", src, "-o", out_dir / "copy.gguf", "--quiet", "--no-provenance")
    assert r.returncode != 0, r.describe()
    assert r.stderr.count("\n") == 1 and "nested arrays" in r.stderr, r.stderr
    assert os.listdir(out_dir) == []
    r = owl("inspect", src, "--json")
    assert r.returncode == 0, r.describe()
    assert '"elem_type": "array"' in r.stdout


def test_edge_values(owl, in_dir, out_dir):
    src = gu.write_edge_sample(in_dir / "edge.gguf")
    check_same_file_content(roundtrip(owl, src, out_dir), src)


@pytest.mark.parametrize("qtype", gu.KNOWN_GGML_TYPES, ids=lambda t: t.name)
def test_each_ggml_type(owl, in_dir, out_dir, qtype):
    src = gu.write_one_type(in_dir / "one.gguf", qtype)
    check_same_file_content(roundtrip(owl, src, out_dir), src)


@pytest.mark.parametrize("qtype", gu.NEWER_GGML_TYPES, ids=lambda t: t.name)
def test_newer_ggml_type_kept_or_refused(owl, in_dir, out_dir, qtype):
    """Types ggml added after the snapshot owl follows: kept byte for byte, or refused with a
    clean error that names the tensor; never written wrong."""
    src = gu.write_one_type(in_dir / "one.gguf", qtype)
    r = owl("convert", src, "-o", out_dir / "copy.gguf", "--quiet", "--no-provenance")
    if r.returncode == 0:
        check_same_file_content(out_dir / "copy.gguf", src)
        return
    assert r.returncode == 2, r.describe()
    assert r.stderr.startswith("owl: error: ") and r.stderr.count("\n") <= 1, r.describe()
    assert f"t_{qtype.name.lower()}" in r.stderr, r.describe()
    assert os.listdir(out_dir) == []


@pytest.fixture(scope="module")
def wide_llama(tmp_path_factory):
    return gu.write_wide_llama(tmp_path_factory.mktemp("wide") / "wide.f16.gguf")


# llama.cpp's quantizer on a model with 256-wide rows (real K-quant and IQ4 blocks), and on the
# tiny reference (64-wide rows: llama.cpp falls back to Q5_0 / Q8_0 there).
QUANTIZED = ["Q4_K_M", "Q2_K", "Q3_K_M", "Q5_K_S", "Q6_K", "IQ4_XS", "IQ4_NL", "Q8_0"]


@pytest.mark.parametrize("ftype", QUANTIZED)
def test_llama_cpp_quantized(owl, wide_llama, tmp_path, ftype):
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    src = gu.llama_quantize(wide_llama, src_dir / f"wide.{ftype}.gguf", ftype)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    check_same_file_content(roundtrip(owl, src, out_dir), src)


def test_llama_cpp_quantized_tiny_reference(owl, tmp_path):
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    src = gu.llama_quantize(gu.REFERENCE / "tiny-llama.f16.gguf", src_dir / "q.gguf", "Q4_K_M")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    check_same_file_content(roundtrip(owl, src, out_dir), src)


@pytest.mark.parametrize("name", ["tiny-llama.f16.gguf", "tiny-llama.q8_0.gguf",
                                  "tiny-qwen2.f16.gguf"])
def test_reference_files(owl, tmp_path, name):
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    src = src_dir / name
    src.write_bytes((gu.REFERENCE / name).read_bytes())
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    check_same_file_content(roundtrip(owl, src, out_dir), src)


def test_llama_cpp_runs_the_copy(owl, wide_llama, tmp_path):
    """The copy of a K-quantized file gives llama.cpp the same logits as the original."""
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    src = gu.llama_quantize(wide_llama, src_dir / "q4km.gguf", "Q4_K_M")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = roundtrip(owl, src, out_dir)
    tokens = [1, 300, 301, 302, 17, 400, 2]
    gu.check_same_logits(gu.logits(gu.load_llama(out), tokens),
                         gu.logits(gu.load_llama(src), tokens), "Q4_K_M copy")

