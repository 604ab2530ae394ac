// ggml's legacy block types: 32 weights per block, one scale (and offset) per block.
//
// Each quantizer reproduces ggml's `quantize_row_<type>_ref` bit for bit, which is what
// llama-quantize runs for these types without an importance matrix. `n` is a multiple of 32 and
// the input is finite (the checked entry points in quant/codec.h enforce both). Each dequantizer
// reproduces ggml's `dequantize_row_<type>`.
//
// The `_weighted` quantizers reproduce ggml's `quantize_row_<type>_impl` given an importance
// matrix: `x` is one row of `n` values, `weights` its n column importances. Q8_0 has none: ggml
// ignores the matrix for it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace owl {

inline constexpr size_t kLegacyBlockElems = 32;
inline constexpr size_t kQ4_0BlockBytes = 18;  // f16 d, 16 bytes of nibbles
inline constexpr size_t kQ4_1BlockBytes = 20;  // f16 d, f16 min, nibbles
inline constexpr size_t kQ5_0BlockBytes = 22;  // f16 d, 32 high bits, nibbles
inline constexpr size_t kQ5_1BlockBytes = 24;  // f16 d, f16 min, 32 high bits, nibbles
inline constexpr size_t kQ8_0BlockBytes = 34;  // f16 d, 32 int8
inline constexpr size_t kQ8_1BlockBytes = 36;  // f16 d, f16 d * sum(q), 32 int8
inline constexpr size_t kQ8_0BlockElems = kLegacyBlockElems;

// Symmetric 4 bits: d = the signed largest-magnitude weight / -8, q = trunc(x/d + 8.5) <= 15.
void quantize_q4_0(const float* x, std::byte* out, size_t n);
void quantize_q4_0_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void dequantize_q4_0(const std::byte* in, float* y, size_t n);

// Affine 4 bits: d = (max - min) / 15, q = trunc((x - min)/d + 0.5) <= 15.
void quantize_q4_1(const float* x, std::byte* out, size_t n);
void quantize_q4_1_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void dequantize_q4_1(const std::byte* in, float* y, size_t n);

// Q4_0 with a fifth bit: d = signed max / -16, q <= 31.
void quantize_q5_0(const float* x, std::byte* out, size_t n);
void quantize_q5_0_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void dequantize_q5_0(const std::byte* in, float* y, size_t n);

// Q4_1 with a fifth bit: d = (max - min) / 31.
void quantize_q5_1(const float* x, std::byte* out, size_t n);
void quantize_q5_1_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void dequantize_q5_1(const std::byte* in, float* y, size_t n);

// scale = max|x| / 127 stored as f16, each weight round(x / scale) with halves away from zero.
void quantize_q8_0(const float* x, std::byte* out, size_t n);
void dequantize_q8_0(const std::byte* in, float* y, size_t n);

// Q8_0 plus the block's sum (d * sum of q, as f16), the activation type of Q4_1/Q5_1 dot products.
void quantize_q8_1(const float* x, std::byte* out, size_t n);
void dequantize_q8_1(const std::byte* in, float* y, size_t n);

// The scalar references of the weighted quantizers above, which search eight blocks at a time
// where the CPU has AVX2 (the two give the same bytes; tests hold them equal).
namespace scalar {
void quantize_q4_0_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void quantize_q4_1_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void quantize_q5_0_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void quantize_q5_1_weighted(const float* x, std::byte* out, size_t n, const float* weights);
}  // namespace scalar

}  // namespace owl
