"""Hugging Face folder -> GGUF, compared with what llama.cpp's own converter (convert_hf_to_gguf.py)
wrote from the same folder, for each architecture family owl normalizes
(tests/data/hf/reference/, see tests/data/hf/make_fixtures.py): the same tensors (names, types,
shapes, bytes) and the same metadata (keys, GGUF types, values)."""

import pytest

import gguf_util as gu
import stutil as su

# Keys that may differ or be missing, and why.
MAY_DIFFER = {
    # The converter derives these from the folder name and the parameter count (naming
    # heuristics), not from the model; nothing in llama.cpp reads them.
    "general.name": "derived from the folder path",
    "general.basename": "derived from the folder path",
    "general.finetune": "derived from the folder path",
    "general.version": "derived from the folder path",
    "general.size_label": "a rounded parameter count for display",
}
# Keys that may be absent, but must be equal when present.
MAY_BE_ABSENT = {
    "general.type": "descriptive ('model' vs 'adapter'); llama.cpp does not need it for models",
}
# Keys that either side may leave out, because llama.cpp derives the same value when they are
# absent; when only one side writes them, the value must be that derived one. The converter
# writes them when the config it reads has head_dim, and it reads config.json through
# transformers, whose LlamaConfig fills head_dim in (MistralConfig does not).
DERIVED_HEAD_DIM = ["attention.key_length", "attention.value_length"]


def derived_head_dim(meta, arch):
    """embedding_length / head_count from the entries of the file itself."""
    return (meta[f"{arch}.embedding_length"].value //
            meta[f"{arch}.attention.head_count"].value)


CASES = gu.REFERENCE_CASES


@pytest.fixture(scope="module", params=list(CASES))
def converted(request, owl, tmp_path_factory):
    """(owl's GGUF, the reference GGUF) for one case."""
    folder, ref_name, flags = CASES[request.param]
    tmp = tmp_path_factory.mktemp(request.param)
    src = gu.hf_copy(folder, tmp)
    before = su.dir_snapshot(src)
    out = tmp / "out" / "model.gguf"
    out.parent.mkdir()
    r = owl("convert", src, "-o", out, *flags, "--quiet", "--no-provenance")
    assert r.returncode == 0, r.describe()
    assert su.dir_snapshot(src) == before, "owl changed its input folder"
    return out, gu.REFERENCE / ref_name


def test_layout(converted):
    out, _ = converted
    gu.check_layout(out)


def test_same_tensor_names(converted):
    out, ref = converted
    got, want = set(gu.tensors(out)), set(gu.tensors(ref))
    assert got == want, f"missing: {sorted(want - got)}; unexpected: {sorted(got - want)}"


def test_same_tensors(converted):
    out, ref = converted
    got, want = gu.tensors(out), gu.tensors(ref)
    bad = []
    for name, w in want.items():
        g = got.get(name)
        if g is None:
            continue  # reported by test_same_tensor_names
        if (g.type, g.shape) != (w.type, w.shape):
            bad.append(f"{name}: {g.type} {g.shape}, expected {w.type} {w.shape}")
        elif g.data != w.data:
            n = sum(a != b for a, b in zip(g.data, w.data))
            bad.append(f"{name}: {n} of {len(w.data)} bytes differ")
    assert not bad, "\n".join(bad)


def test_same_metadata(converted):
    out, ref = converted
    got, want = gu.metadata(out), gu.metadata(ref)
    arch = want["general.architecture"].value
    bad = []
    for suffix in DERIVED_HEAD_DIM:
        key = f"{arch}.{suffix}"
        only = got if key not in want else want if key not in got else None
        if only is not None and key in only:
            if only[key].types != ("UINT32",) or only[key].value != derived_head_dim(only, arch):
                bad.append(f"{key}: {gu.describe_entry(only[key])} in one file only, and not "
                           f"embedding_length / head_count")
            got.pop(key, None)
            want.pop(key, None)
    for key, w in want.items():
        if key in MAY_DIFFER:
            continue
        g = got.get(key)
        if g is None:
            if key not in MAY_BE_ABSENT:
                bad.append(f"{key}: missing (expected {gu.describe_entry(w)})")
        elif g.raw != w.raw:
            bad.append(f"{key}: {gu.describe_difference(g, w)}")
    extra = [k for k in got if k not in want and k not in MAY_DIFFER]
    for key in extra:
        bad.append(f"{key}: not written by llama.cpp's converter ({gu.describe_entry(got[key])})")
    assert not bad, "\n".join(bad)

