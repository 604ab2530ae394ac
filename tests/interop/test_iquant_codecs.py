"""owl's grid i-quant quantizers (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M) write
ggml's bytes: rows of several distributions and widths, quantized by ggml's own
ggml_quantize_chunk (ggml_quant.py) and by owl's codec (the test-only owl_codec_probe, built next
to owl), with an importance matrix and, where ggml quantizes without one, without."""

import os
import subprocess

import numpy as np
import pytest
from gguf import GGMLQuantizationType as Q

import ggml_quant
from gguf_util import REPO

TYPES = ["IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S", "IQ1_S", "IQ1_M"]
WIDTHS = [256, 512, 4096]
ROWS = {256: 24, 512: 12, 4096: 3}


def rows_normal(rng, n_rows, width):
    return rng.standard_normal((n_rows, width)).astype(np.float32)


def rows_heavy_tailed(rng, n_rows, width):
    # Student's t with 2 degrees of freedom: rare values tens of times the typical one.
    return (rng.standard_t(2, (n_rows, width)) * 0.02).astype(np.float32)


def rows_with_zeros(rng, n_rows, width):
    """Scattered zeros, whole groups of 8, 16 and 32 zeros, a whole zero super-block and a zero
    row: the types skip all-zero groups, each in its own way."""
    x = rng.standard_normal((n_rows, width)).astype(np.float32)
    x[rng.random((n_rows, width)) < 0.3] = 0
    for r in range(n_rows):
        for size in (8, 16, 32):
            start = int(rng.integers(0, width // size)) * size
            x[r, start:start + size] = 0
    x[0, :256] = 0
    x[-1, :] = 0
    x[1, :] = np.where(rng.random(width) < 0.5, -0.0, 0.0).astype(np.float32)
    if n_rows > 3:
        x[2, ::2] = 0
    return x


def rows_tiny(rng, n_rows, width):
    """Values around the types' 'all zeros' thresholds (1e-15 .. 1e-7) and well above them."""
    scales = np.array([1e-16, 1e-13, 1e-10, 1e-8, 1e-7, 1e-6, 1e-4], dtype=np.float64)
    s = scales[np.arange(n_rows * width // 16) % len(scales)].reshape(n_rows, width // 16)
    return (rng.standard_normal((n_rows, width)) * np.repeat(s, 16, axis=1)).astype(np.float32)


def rows_outlier(rng, n_rows, width):
    """One value per row hundreds of times the rest, and ties (repeated values) around it."""
    x = (rng.standard_normal((n_rows, width)) * 0.01).astype(np.float32)
    for r in range(n_rows):
        x[r, int(rng.integers(0, width))] = float(rng.choice([-1, 1])) * 5.0
        start = int(rng.integers(0, width // 32)) * 32
        x[r, start:start + 32] = np.float32(0.01) * rng.integers(-2, 3, 32)
    return x


DISTRIBUTIONS = {
    "normal": rows_normal,
    "heavy_tailed": rows_heavy_tailed,
    "zeros": rows_with_zeros,
    "tiny": rows_tiny,
    "outlier": rows_outlier,
}


def importance(rng, width):
    """Random positive column weights, a tenth of them zero and a few large."""
    w = rng.gamma(1.0, 1.0, width).astype(np.float32)
    w[rng.random(width) < 0.1] = 0
    w[rng.integers(0, width, 4)] *= 100
    return w


@pytest.fixture(scope="module")
def probe():
    env = os.environ.get("OWL_BIN")
    owl = os.path.abspath(env) if env else str(REPO / "build" / "bin" / "owl")
    path = os.path.join(os.path.dirname(owl), "owl_codec_probe")
    if not os.access(path, os.X_OK):
        pytest.fail(f"owl_codec_probe not found next to owl at {path}; build the tests",
                    pytrace=False)
    return path


def owl_quantize(probe, tmp_path, type_name, rows, weights):
    rows_file, out_file = tmp_path / "rows.f32", tmp_path / "out.bin"
    rows.astype("<f4").tofile(rows_file)
    argv = [probe, type_name, str(rows.shape[1]), str(rows_file), str(out_file)]
    if weights is not None:
        weights_file = tmp_path / "weights.f32"
        weights.astype("<f4").tofile(weights_file)
        argv.append(str(weights_file))
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return out_file.read_bytes()


def first_difference(owl, ggml, block_bytes, width):
    if len(owl) != len(ggml):
        return f"sizes differ: owl {len(owl)}, ggml {len(ggml)}"
    diff = np.flatnonzero(np.frombuffer(owl, np.uint8) != np.frombuffer(ggml, np.uint8))
    at = int(diff[0])
    row_bytes = width // 256 * block_bytes
    return (f"{len(diff)} bytes differ; first: row {at // row_bytes}, block "
            f"{at % row_bytes // block_bytes}, byte {at % block_bytes}: owl {owl[at]:#04x}, "
            f"ggml {ggml[at]:#04x}")


BLOCK_BYTES = {"IQ2_XXS": 66, "IQ2_XS": 74, "IQ2_S": 82, "IQ3_XXS": 98, "IQ3_S": 110,
               "IQ1_S": 50, "IQ1_M": 56}


@pytest.mark.parametrize("weighted", [True, False], ids=["imatrix", "no_imatrix"])
@pytest.mark.parametrize("distribution", list(DISTRIBUTIONS))
@pytest.mark.parametrize("type_name", TYPES)
def test_owl_writes_ggml_bytes(probe, tmp_path, type_name, distribution, weighted):
    type_id = int(Q[type_name])
    if not weighted and ggml_quant.requires_imatrix(type_id):
        pytest.skip(f"ggml quantizes {type_name} only with an importance matrix")
    seed = (TYPES.index(type_name) * 100 + list(DISTRIBUTIONS).index(distribution)) * 2 + weighted
    rng = np.random.default_rng(seed)
    for width in WIDTHS:
        rows = DISTRIBUTIONS[distribution](rng, ROWS[width], width)
        weights = importance(rng, width) if weighted else None
        ggml = ggml_quant.quantize(type_id, rows, weights)
        owl = owl_quantize(probe, tmp_path, type_name, rows, weights)
        assert owl == ggml, (f"{type_name} {distribution} width {width}: "
                             f"{first_difference(owl, ggml, BLOCK_BYTES[type_name], width)}")


@pytest.mark.parametrize("type_name", ["IQ2_XXS", "IQ2_XS", "IQ1_S"])
def test_types_that_need_an_importance_matrix_refuse_without_one(probe, tmp_path, type_name):
    rows = np.ones((1, 256), np.float32)
    (tmp_path / "rows.f32").write_bytes(rows.tobytes())
    p = subprocess.run([probe, type_name, "256", str(tmp_path / "rows.f32"),
                        str(tmp_path / "out.bin")], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert type_name in p.stderr and len(p.stderr.strip().splitlines()) == 1
