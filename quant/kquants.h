// ggml's k-quants: super-blocks of 256 weights split into groups of 16 or 32, each group with
// its own small scale (and min), the scales themselves quantized against one f16 per
// super-block.
//
// Each quantizer reproduces ggml's `quantize_row_<type>_ref` bit for bit: what llama-quantize
// runs for these types without an importance matrix. Each `_weighted` one reproduces ggml's
// `quantize_row_<type>_impl` given an importance matrix: `x` is one row of `n` values and
// `weights` its n column importances (ggml's quant_weights). `n` is a multiple of 256 and the
// input is finite (the checked entry points in quant/codec.h enforce both). Each dequantizer
// reproduces ggml's `dequantize_row_<type>`.
#pragma once

#include <cstddef>
#include <cstdint>

namespace owl {

inline constexpr size_t kSuperBlockElems = 256;  // ggml's QK_K
inline constexpr size_t kQ2_KBlockBytes =
    84;  // 16 4-bit scale|min pairs, 2-bit quants, f16 d, dmin
inline constexpr size_t kQ3_KBlockBytes = 110;  // high bits, 2-bit quants, 16 6-bit scales, f16 d
inline constexpr size_t kQ4_KBlockBytes = 144;  // f16 d, dmin, 8 6-bit scale|min pairs, nibbles
inline constexpr size_t kQ5_KBlockBytes = 176;  // as Q4_K plus a high bit per weight
inline constexpr size_t kQ6_KBlockBytes = 210;  // low nibbles, high 2 bits, 16 int8 scales, f16 d
inline constexpr size_t kQ8_KBlockBytes = 292;  // f32 d, 256 int8, 16 int16 group sums

// 2.625 bits: 16 groups of 16, x ~ d * sc * q - dmin * m with 4-bit sc, m and 2-bit q.
void quantize_q2_K(const float* x, std::byte* out, size_t n);
void quantize_q2_K_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void dequantize_q2_K(const std::byte* in, float* y, size_t n);

// 3.4375 bits: 16 groups of 16, x ~ d * sc * q with 6-bit signed sc and 3-bit signed q.
void quantize_q3_K(const float* x, std::byte* out, size_t n);
void quantize_q3_K_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void dequantize_q3_K(const std::byte* in, float* y, size_t n);

// 4.5 bits: 8 groups of 32, x ~ d * sc * q - dmin * m with 6-bit sc, m and 4-bit q.
void quantize_q4_K(const float* x, std::byte* out, size_t n);
void quantize_q4_K_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void dequantize_q4_K(const std::byte* in, float* y, size_t n);

// 5.5 bits: as Q4_K with 5-bit q.
void quantize_q5_K(const float* x, std::byte* out, size_t n);
void quantize_q5_K_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void dequantize_q5_K(const std::byte* in, float* y, size_t n);

// 6.5625 bits: 16 groups of 16, x ~ d * sc * q with int8 sc and 6-bit signed q.
void quantize_q6_K(const float* x, std::byte* out, size_t n);
void quantize_q6_K_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void dequantize_q6_K(const std::byte* in, float* y, size_t n);

// The plain scalar quantizers, kept as the reference for the vectorised versions that the ones
// above use where the CPU has AVX2 (the two give the same bytes; tests hold them equal). Q3_K's
// plain quantizer has no vectorised search; its weighted one does.
namespace scalar {
void quantize_q2_K(const float* x, std::byte* out, size_t n);
void quantize_q4_K(const float* x, std::byte* out, size_t n);
void quantize_q5_K(const float* x, std::byte* out, size_t n);
void quantize_q6_K(const float* x, std::byte* out, size_t n);
void quantize_q2_K_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void quantize_q3_K_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void quantize_q4_K_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void quantize_q5_K_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void quantize_q6_K_weighted(const float* x, std::byte* out, size_t n, const float* weights);
}  // namespace scalar

// 8 bits with an f32 scale per 256 and sums per 16: the activation type of k-quant dot products.
void quantize_q8_K(const float* x, std::byte* out, size_t n);
void dequantize_q8_K(const std::byte* in, float* y, size_t n);

}  // namespace owl
