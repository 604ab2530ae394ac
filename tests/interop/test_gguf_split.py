"""Split GGUF output (--split-max-tensors, --split-max-size) as llama.cpp's gguf-split writes it:
OUT-0000k-of-0000N.gguf, all metadata in the first part, split.no / split.count /
split.tensors.count in every part; llama.cpp loads it from the first part; owl reads it back."""

import os

import pytest

import gguf_util as gu
import stutil as su

MAX_TENSORS = 5


def part_names(stem, n):
    return [f"{stem}-{k:05d}-of-{n:05d}.gguf" for k in range(1, n + 1)]


def gguf_split_groups(tensors, max_tensors=None, max_bytes=None):
    """The tensor names of each part, as gguf-split groups them: every max_tensors tensors, or
    a new part when the next tensor (padded to 32 bytes) would pass max_bytes."""
    groups, size = [[]], 0
    for i, (name, t) in enumerate(tensors.items()):
        padded = len(t.data) + (-len(t.data) % gu.DEFAULT_ALIGNMENT)
        if max_tensors is not None:
            new = i > 0 and i % max_tensors == 0
        else:
            new = bool(groups[-1]) and size + padded > max_bytes
        if new:
            groups.append([])
            size = 0
        groups[-1].append(name)
        size += padded
    return groups


@pytest.fixture(scope="module")
def made(owl, tmp_path_factory):
    """(the unsplit GGUF, the folder of parts) made from the tiny-llama HF folder."""
    tmp = tmp_path_factory.mktemp("split")
    src = gu.hf_copy("tiny-llama", tmp)
    whole = gu.convert(owl, src, tmp / "whole" / "m.gguf", "--dtype", "f16")
    parts = tmp / "parts"
    gu.convert(owl, src, parts / "m.gguf", "--dtype", "f16", "--split-max-tensors", MAX_TENSORS)
    return whole, parts


def parts_of(whole, parts):
    n = -(-len(gu.tensors(whole)) // MAX_TENSORS)
    return [parts / p for p in part_names("m", n)]


def test_part_names(made):
    whole, parts = made
    assert sorted(os.listdir(parts)) == [p.name for p in parts_of(whole, parts)]


def test_split_keys(made):
    whole, parts = made
    paths = parts_of(whole, parts)
    n_tensors = len(gu.tensors(whole))
    for k, p in enumerate(paths):
        meta = gu.metadata(p)
        got = {key: (meta[key].types, meta[key].value) for key in
               ("split.no", "split.count", "split.tensors.count") if key in meta}
        assert got == {"split.no": (("UINT16",), k),
                       "split.count": (("UINT16",), len(paths)),
                       "split.tensors.count": (("INT32",), n_tensors)}, p.name


def test_parts_layout_and_grouping(made):
    whole, parts = made
    want = gu.tensors(whole)
    groups = [list(gu.tensors(p)) for p in parts_of(whole, parts)]
    for p in parts_of(whole, parts):
        gu.check_layout(p)
    assert groups == gguf_split_groups(want, max_tensors=MAX_TENSORS)


def test_parts_hold_the_tensors(made):
    whole, parts = made
    want = gu.tensors(whole)
    got = {}
    for p in parts_of(whole, parts):
        got.update(gu.tensors(p))
    assert list(got) == list(want)
    bad = [n for n in want if (got[n].type, got[n].shape, got[n].data)
           != (want[n].type, want[n].shape, want[n].data)]
    assert not bad, f"tensors differ: {bad}"


def test_first_part_holds_the_metadata(made):
    whole, parts = made
    first = gu.metadata(parts_of(whole, parts)[0])
    want = gu.metadata(whole)
    missing = [k for k in want if k not in first]
    changed = [k for k in want if k in first and first[k].raw != want[k].raw]
    extra = [k for k in first if k not in want and not k.startswith("split.")]
    assert (missing, changed, extra) == ([], [], [])


def test_llama_cpp_loads_the_first_part(made):
    whole, parts = made
    first = parts_of(whole, parts)[0]
    try:
        llm = gu.load_llama(first)
    except Exception as e:
        pytest.fail(f"llama.cpp cannot load {first.name}: {e}")
    ref = gu.load_llama(whole)
    tokens = ref.tokenize(b"Once upon a time, the owl counted the stars.", add_bos=True)
    assert llm.tokenize(b"Once upon a time, the owl counted the stars.", add_bos=True) == tokens
    gu.check_same_logits(gu.logits(llm, tokens), gu.logits(ref, tokens), "split model")


def test_owl_reads_the_parts_back(owl, made, tmp_path):
    whole, parts = made
    before = su.dir_snapshot(parts)
    merged = gu.convert(owl, parts_of(whole, parts)[0], tmp_path / "merged.gguf")
    assert su.dir_snapshot(parts) == before
    assert gu.metadata(merged).keys() == gu.metadata(whole).keys(), \
        "the merged file should hold the unsplit file's keys (no split.*)"
    assert all(gu.metadata(merged)[k].raw == e.raw for k, e in gu.metadata(whole).items())
    got, want = gu.tensors(merged), gu.tensors(whole)
    assert [(n, t.type, t.shape, t.data) for n, t in got.items()] == \
        [(n, t.type, t.shape, t.data) for n, t in want.items()]


def test_split_by_size(owl, tmp_path):
    """--split-max-size on a GGUF input, grouped as gguf-split groups by size."""
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    src = gu.write_wide_llama(src_dir / "wide.gguf")  # 1.3 MB of tensors
    limit = 500_000
    out = tmp_path / "out"
    gu.convert(owl, src, out / "w.gguf", "--split-max-size", "500KB")
    want = gu.tensors(src)
    groups = gguf_split_groups(want, max_bytes=limit)
    names = part_names("w", len(groups))
    assert sorted(os.listdir(out)) == names
    assert [list(gu.tensors(out / n)) for n in names] == groups
    for n in names:
        size = sum(len(t.data) for t in gu.tensors(out / n).values())
        assert size <= limit or len(gu.tensors(out / n)) == 1, n
