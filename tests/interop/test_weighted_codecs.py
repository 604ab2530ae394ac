"""owl's block quantizers give ggml's bytes with an importance matrix, as they do without one.

For every type with an importance-weighted path in ggml, random rows of several kinds (normal,
heavy-tailed, with zeros, tiny, with one huge outlier, with a scale that drifts per group) and
several widths are quantized by ggml's own `ggml_quantize_chunk` (ggml_quant.py) and by owl
(the test-only tests/codec_probe.cpp, built next to the owl binary), with no importance matrix
and with several: random positive weights, the same with zeros among them, and all ones. The
types whose quantizer ggml runs without reading the matrix are checked the same way: owl must
ignore it too."""

import subprocess
from pathlib import Path

import numpy as np
import pytest

import ggml_quant

# name: ggml type id
WEIGHTED = {"Q4_0": 2, "Q4_1": 3, "Q5_0": 6, "Q5_1": 7, "Q2_K": 10, "Q3_K": 11, "Q4_K": 12,
            "Q5_K": 13, "Q6_K": 14, "IQ4_NL": 20, "IQ4_XS": 23}
IGNORES_WEIGHTS = {"Q8_0": 8, "TQ1_0": 34, "TQ2_0": 35, "MXFP4": 39, "NVFP4": 40, "Q1_0": 41,
                   "Q2_0": 42}

WIDTHS = [256, 768, 2048, 4096]
ROWS_PER_KIND = 4


def row_kinds(rng: np.random.Generator, width: int) -> list[np.ndarray]:
    def normal(scale=1.0):
        return rng.standard_normal(width) * scale

    drift = np.repeat(np.exp(rng.standard_normal(width // 16) * 1.5), 16)
    outlier = normal(0.02)
    outlier[rng.integers(width)] = 300.0
    zeros = np.where(rng.random(width) < 0.6, 0.0, normal())
    zeros[: width // 4] = 0.0  # whole blocks and super-blocks of zeros
    return [
        normal(),
        rng.standard_t(2.5, width) * 0.05,  # heavy tails, as real weight rows have
        zeros,
        normal(1e-6),  # tiny, but above ggml's all-zero threshold
        normal(1e-20),  # below it, or near
        outlier,
        normal(0.01) * drift,
        np.abs(normal()) + 0.3,  # positive only: the min matters
        rng.integers(-4, 5, width).astype(np.float64),  # ties in every rounding
        np.zeros(width),
    ]


def rows_for(width: int) -> np.ndarray:
    rng = np.random.default_rng(1000 + width)
    rows = [kind for _ in range(ROWS_PER_KIND) for kind in row_kinds(rng, width)]
    return np.stack(rows).astype(np.float32)


def imatrices(width: int) -> dict:
    rng = np.random.default_rng(2000 + width)
    positive = rng.lognormal(0.0, 1.5, width)
    with_zeros = positive * (rng.random(width) < 0.7)
    with_zeros[32:64] = 0.0  # a whole block without importance
    return {
        "none": None,
        "random": positive.astype(np.float32),
        "zeros": with_zeros.astype(np.float32),
        "ones": np.ones(width, np.float32),
    }


def owl_quantize(probe: Path, tmp_path: Path, name: str, rows: np.ndarray, imatrix) -> bytes:
    rows_file, out_file, w_file = tmp_path / "rows.f32", tmp_path / "out.bin", tmp_path / "w.f32"
    rows_file.write_bytes(rows.astype("<f4").tobytes())
    argv = [str(probe), name, str(rows.shape[1]), str(rows_file), str(out_file)]
    if imatrix is not None:
        w_file.write_bytes(imatrix.astype("<f4").tobytes())
        argv.append(str(w_file))
    p = subprocess.run(argv, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    return out_file.read_bytes()


def first_difference(owl: bytes, ggml: bytes, row_bytes: int, kinds: int) -> str:
    for i, (a, b) in enumerate(zip(owl, ggml)):
        if a != b:
            row = i // row_bytes
            return (f"row {row} (kind {row % kinds}) byte {i % row_bytes}: "
                    f"owl {a:#04x}, ggml {b:#04x}")
    return "sizes differ" if len(owl) != len(ggml) else ""


@pytest.fixture(scope="module")
def probe(owl_bin) -> Path:
    path = Path(owl_bin).parent / "owl_codec_probe"
    if not path.is_file():
        pytest.fail(f"{path} not found: build the owl_codec_probe target (tests/CMakeLists.txt)",
                    pytrace=False)
    return path


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", list(WEIGHTED) + list(IGNORES_WEIGHTS))
def test_owl_quantizes_as_ggml_with_and_without_an_importance_matrix(probe, tmp_path, name,
                                                                     width):
    type_id = {**WEIGHTED, **IGNORES_WEIGHTS}[name]
    rows = rows_for(width)
    kinds = len(rows) // ROWS_PER_KIND
    row_bytes = int(ggml_quant.lib().ggml_row_size(type_id, width))
    for label, imatrix in imatrices(width).items():
        ggml = ggml_quant.quantize(type_id, rows, imatrix)
        owl = owl_quantize(probe, tmp_path, name, rows, imatrix)
        assert owl == ggml, (f"{name}, width {width}, imatrix {label}: "
                             f"{first_difference(owl, ggml, row_bytes, kinds)}")


@pytest.mark.parametrize("name", list(WEIGHTED))
def test_the_importance_matrix_changes_ggml_bytes(name):
    """Guards the test above: for the weighted types ggml's bytes do depend on the matrix, so
    owl's equality with it is not the unweighted path agreeing by accident."""
    width = 2048
    rows = rows_for(width)
    matrices = imatrices(width)
    plain = ggml_quant.quantize(WEIGHTED[name], rows, None)
    assert ggml_quant.quantize(WEIGHTED[name], rows, matrices["random"]) != plain


@pytest.mark.parametrize("name", list(IGNORES_WEIGHTS))
def test_ggml_ignores_the_importance_matrix_for_these_types(name):
    width = 2048
    rows = rows_for(width)
    plain = ggml_quant.quantize(IGNORES_WEIGHTS[name], rows, None)
    assert ggml_quant.quantize(IGNORES_WEIGHTS[name], rows, imatrices(width)["random"]) == plain
