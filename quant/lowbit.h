// ggml's Q1_0 and Q2_0: one f16 scale per block and one or two bits per weight. Q1_0 keeps only
// each weight's sign against the block's mean magnitude (128 weights, 1.125 bits); Q2_0 rounds
// each weight to -1, 0, 1 or 2 times the block's largest magnitude (64 weights, 2.25 bits).
//
// The quantizers reproduce ggml's `quantize_row_q1_0_ref` / `quantize_row_q2_0_ref` bit for bit,
// which is what llama-quantize runs with or without an importance matrix (ggml ignores it for
// these types). `n` is a multiple of the block and the input is finite (the checked entry points
// in quant/codec.h enforce both). The dequantizers reproduce ggml's `dequantize_row_q1_0/q2_0`.
#pragma once

#include <cstddef>

namespace owl {

inline constexpr size_t kQ1_0BlockElems = 128;
inline constexpr size_t kQ1_0BlockBytes = 18;  // f16 d, 128 sign bits
inline constexpr size_t kQ2_0BlockElems = 64;
inline constexpr size_t kQ2_0BlockBytes = 18;  // f16 d, 64 2-bit codes

// d = mean |x|; bit j of the block is set where x[j] >= 0, and reads back as +d, else -d.
void quantize_q1_0(const float* x, std::byte* out, size_t n);
void dequantize_q1_0(const std::byte* in, float* y, size_t n);

// d = max |x|; code j = round(x[j] / d) + 1 clamped to 0..3, read back as (code - 1) * d.
void quantize_q2_0(const float* x, std::byte* out, size_t n);
void dequantize_q2_0(const std::byte* in, float* y, size_t n);

}  // namespace owl
