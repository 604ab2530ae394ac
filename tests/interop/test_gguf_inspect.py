"""`owl inspect --json --hash` on GGUF files agrees with the reference reader (gguf-py): tensor
names, row-major shapes, type names, byte sizes and xxh3 of the bytes; metadata keys, GGUF value
types and values, nested arrays included."""

import math
import os

import pytest

import gguf_util as gu
import stutil as su


def sample_files(d):
    """{id: path} of the files to inspect, made in folder d."""
    wide = gu.write_wide_llama(d / "wide.f16.gguf")
    return {
        "gguf_py_sample": gu.write_gguf_py_sample(d / "sample.gguf"),
        "nested_arrays": gu.write_gguf_py_sample(d / "nested.gguf", gu.SAMPLE_METADATA[:2] +
                                                 gu.NESTED_METADATA),
        "edge_values": gu.write_edge_sample(d / "edge.gguf"),
        "llama_cpp_q4_k_m": gu.llama_quantize(wide, d / "wide.q4_k_m.gguf", "Q4_K_M"),
        "reference_f16": gu.REFERENCE / "tiny-llama.f16.gguf",
        "reference_q8_0": gu.REFERENCE / "tiny-llama.q8_0.gguf",
        "reference_qwen2": gu.REFERENCE / "tiny-qwen2.f16.gguf",
    }


FILE_IDS = ["gguf_py_sample", "nested_arrays", "edge_values", "llama_cpp_q4_k_m",
            "reference_f16", "reference_q8_0", "reference_qwen2"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return sample_files(tmp_path_factory.mktemp("inspect"))


@pytest.fixture(scope="module", params=FILE_IDS)
def described(request, owl, files):
    """(path, owl's description with hashes)."""
    path = files[request.param]
    return path, su.inspect(owl, path, "--hash")


def test_format_and_architecture(described):
    path, desc = described
    assert desc.get("format") == "gguf"
    arch = gu.metadata(path)["general.architecture"].value
    assert desc.get("architecture") == arch


def test_tensors(described):
    path, desc = described
    want = gu.tensors(path)
    got = desc.get("tensors", [])
    assert [t["name"] for t in got] == list(want), "tensor names (in file order)"
    bad = []
    for t in got:
        w = want[t["name"]]
        seen = (t.get("type"), su.tensor_shape(t), su.u64(t, "byte_size"), t.get("xxh3_128"))
        expected = (w.type, w.shape, len(w.data), su.xxh3(w.data))
        if seen != expected:
            bad.append(f"{t['name']}: {seen}, expected {expected}")
    assert not bad, "\n".join(bad)
    numel = sum(math.prod(w.shape) for w in want.values())
    assert su.u64(desc, "parameter_count") == numel


def test_metadata(described):
    path, desc = described
    want = gu.typed_tree_from_file(path)
    got = [(e["key"], gu.typed_tree_from_inspect(e.get("value", {})))
           for e in desc.get("metadata", [])]
    assert [k for k, _ in got] == [k for k, _ in want], "metadata keys (in file order)"
    bad = [f"{k}:{d}" for (k, g), (_, w) in zip(got, want)
           for d in [gu.typed_difference(g, w)] if d]
    assert not bad, "\n".join(bad)


def test_files(described):
    path, desc = described
    listed = desc.get("files", [])
    assert [os.path.basename(f["path"]) for f in listed] == [path.name]
    assert su.u64(listed[0], "size") == os.path.getsize(path)
    assert su.u64(desc, "size_on_disk") == os.path.getsize(path)


# --- self-checks of the helpers (no owl needed) ---------------------------------------------

@pytest.mark.parametrize("file_id", FILE_IDS)
def test_typed_tree_agrees_with_gguf_py(files, file_id):
    """The test's own metadata parser reads what gguf-py reads (gguf-py flattens nested arrays,
    so those are compared flattened)."""
    path = files[file_id]
    ref = gu.metadata(path)
    tree = gu.typed_tree_from_file(path)
    assert [k for k, _ in tree] == list(ref)

    def flat(t):
        if t[0] == "array":
            return [x for i in t[2] for x in (flat(i) if i[0] == "array" else [flat(i)])]
        return t[1]

    for key, t in tree:
        want = ref[key].value
        got = flat(t)
        if t[0] != "array":
            got_types = [t[0]]
        else:
            got_types = ["array"]
            inner = t
            while inner[0] == "array" and inner[1] == "array" and inner[2]:
                got_types.append("array")
                inner = inner[2][0]
            got_types.append(inner[1] if inner[0] == "array" else inner[0])
        if not ref[key].types or (t[0] == "array" and not t[2]):
            continue  # gguf-py lists no item type for an empty array
        assert got_types == [gu.VALUE_TYPE_NAME[gu.VT[n]] for n in ref[key].types], key
        if any(isinstance(x, float) and math.isnan(x) for x in (got if isinstance(got, list)
                                                                   else [got])):
            continue
        assert got == want, key
