// The pass behind `--dtype`: every float tensor stored as one float type.
#pragma once

#include <cstddef>

#include "converters/graph.h"

namespace owl {

// Rewrites every F64/F32/F16/BF16 tensor to `target` (lazily: data is cast when pulled), and
// dequantizes every ggml block tensor owl can dequantize to it. Integer, boolean and
// 8-bit-and-smaller float tensors are left as they are. Returns how many tensors changed type.
size_t cast_float_tensors(Graph& g, ElemType target);

}  // namespace owl
