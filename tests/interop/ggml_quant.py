"""ggml's own quantizers, called through the libggml-base.so that llama-cpp-python ships.

The codec tests hold owl's bytes to these: `quantize(type_id, rows, imatrix)` runs
`ggml_quantize_chunk`, the function llama-quantize calls for every tensor, with or without an
importance matrix (one weight per column).
"""

import ctypes
from functools import lru_cache
from pathlib import Path

import numpy as np


@lru_cache(maxsize=1)
def lib():
    import llama_cpp

    path = Path(llama_cpp.__file__).resolve().parent / "lib" / "libggml-base.so"
    ggml = ctypes.CDLL(str(path))
    ggml.ggml_quantize_init.argtypes = [ctypes.c_int]
    ggml.ggml_quantize_init.restype = None
    ggml.ggml_quantize_requires_imatrix.argtypes = [ctypes.c_int]
    ggml.ggml_quantize_requires_imatrix.restype = ctypes.c_bool
    ggml.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
    ggml.ggml_row_size.restype = ctypes.c_size_t
    ggml.ggml_quantize_chunk.argtypes = [
        ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
        ctypes.c_int64, ctypes.c_void_p
    ]
    ggml.ggml_quantize_chunk.restype = ctypes.c_size_t
    return ggml


def requires_imatrix(type_id: int) -> bool:
    return bool(lib().ggml_quantize_requires_imatrix(type_id))


def quantize(type_id: int, rows: np.ndarray, imatrix: np.ndarray | None = None) -> bytes:
    """The bytes ggml writes for `rows` (2-D, float32, C order) as type `type_id`."""
    ggml = lib()
    rows = np.ascontiguousarray(rows, dtype=np.float32)
    n_rows, n_per_row = rows.shape
    if imatrix is not None:
        imatrix = np.ascontiguousarray(imatrix, dtype=np.float32)
        assert imatrix.shape == (n_per_row,)
    ggml.ggml_quantize_init(type_id)  # builds the i-quant grids once; a no-op for other types
    out = ctypes.create_string_buffer(n_rows * ggml.ggml_row_size(type_id, n_per_row))
    written = ggml.ggml_quantize_chunk(type_id, rows.ctypes.data, out, 0, n_rows, n_per_row,
                                       None if imatrix is None else imatrix.ctypes.data)
    assert written == len(out.raw)
    return out.raw
