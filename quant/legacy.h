// ggml's legacy block types: 32 weights per block, one scale (and offset) per block.
#pragma once

#include <cstddef>
#include <cstdint>

namespace owl {

inline constexpr size_t kQ8_0BlockElems = 32;
inline constexpr size_t kQ8_0BlockBytes = 34;  // f16 scale + 32 int8

// Quantizes `n` floats (a multiple of 32) to Q8_0 blocks exactly as ggml's reference does:
// scale = max|x| / 127 stored as f16, each weight round(x / scale) with halves away from zero.
void quantize_q8_0(const float* x, std::byte* out, size_t n);
void dequantize_q8_0(const std::byte* in, float* y, size_t n);

}  // namespace owl
