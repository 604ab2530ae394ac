// ggml's ternary types for BitNet-style models: 256 weights in {-1, 0, 1} times one f16 scale.
//
// The quantizers reproduce ggml's `quantize_row_tq1_0_ref` / `quantize_row_tq2_0_ref` bit for
// bit (finite input, `n` a multiple of 256); the dequantizers its `dequantize_row_tq*_0`.
#pragma once

#include <cstddef>
#include <cstdint>

namespace owl {

inline constexpr size_t kTQ1_0BlockBytes = 54;  // 48 bytes of 5 trits, 4 of 4 trits, f16 d
inline constexpr size_t kTQ2_0BlockBytes = 66;  // 64 bytes of four 2-bit trits, f16 d

// 1.6875 bits: trits packed five to a byte as a base-3 fraction of 256.
void quantize_tq1_0(const float* x, std::byte* out, size_t n);
void dequantize_tq1_0(const std::byte* in, float* y, size_t n);

// 2.0625 bits: each trit + 1 in two bits.
void quantize_tq2_0(const float* x, std::byte* out, size_t n);
void dequantize_tq2_0(const std::byte* in, float* y, size_t n);

}  // namespace owl
