// The pass behind `--dtype`: every float tensor stored as one float type.
#pragma once

#include <cstddef>

#include "converters/graph.h"

namespace owl {

// Rewrites every F64/F32/F16/BF16 tensor to `target` (lazily: data is cast when pulled).
// Integer, boolean, 8-bit-and-smaller float and quantized tensors are left as they are.
// Returns how many tensors changed type.
size_t cast_float_tensors(Graph& g, ElemType target);

}  // namespace owl
