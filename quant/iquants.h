// ggml's i-quants: non-uniform codebooks. IQ4_NL and IQ4_XS map each weight to one of 16
// non-linear levels, per block of 32 (IQ4_NL) or per 32 within a super-block of 256 with 6-bit
// sub-scales (IQ4_XS).
//
// The quantizers reproduce what llama-quantize runs for these types without an importance matrix
// (ggml's `quantize_iq4_nl` / `quantize_iq4_xs` with no weights: seven scale tries each side,
// which the `quantize_row_*_ref` functions do not do), bit for bit, for finite input and `n` a
// multiple of the block. The `_weighted` ones reproduce the same functions given an importance
// matrix: `x` is one row of `n` values, `weights` its n column importances. The dequantizers
// reproduce ggml's `dequantize_row_iq4_*`.
#pragma once

#include <cstddef>
#include <cstdint>

namespace owl {

inline constexpr size_t kIQ4_NLBlockElems = 32;
// The 16 levels of IQ4_NL and IQ4_XS, ascending (ggml's kvalues_iq4nl).
inline constexpr int8_t kIQ4Levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                          1,    13,   25,  38,  53,  69,  89,  113};
inline constexpr size_t kIQ4_NLBlockBytes = 18;   // f16 d, 16 bytes of level indices
inline constexpr size_t kIQ4_XSBlockBytes = 136;  // f16 d, 8 6-bit sub-scales, level indices

void quantize_iq4_nl(const float* x, std::byte* out, size_t n);
void quantize_iq4_nl_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void dequantize_iq4_nl(const std::byte* in, float* y, size_t n);

void quantize_iq4_xs(const float* x, std::byte* out, size_t n);
void quantize_iq4_xs_weighted(const float* x, std::byte* out, size_t n, const float* weights);

// The scalar references of the four quantizers above, which search eight groups of 32 at a time
// where the CPU has AVX2 (the two give the same bytes; tests hold them equal).
namespace scalar {
void quantize_iq4_nl(const float* x, std::byte* out, size_t n);
void quantize_iq4_nl_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void quantize_iq4_xs(const float* x, std::byte* out, size_t n);
void quantize_iq4_xs_weighted(const float* x, std::byte* out, size_t n, const float* weights);
}  // namespace scalar
void dequantize_iq4_xs(const std::byte* in, float* y, size_t n);

// The grid types. owl reads them as ggml's `dequantize_row_*` does (quant/iq_grid_dequant.cpp)
// and writes them as ggml's `quantize_iq*` does, bit for bit for finite input: with an importance
// matrix (`*_weighted`: one row, one weight a column), and without one where ggml allows that
// (IQ2_S, IQ3_XXS, IQ3_S, IQ1_M; ggml_quantize_requires_imatrix names the other three).
// quant/iq2_quantize.cpp, iq3_quantize.cpp and iq1_quantize.cpp hold the quantizers.
inline constexpr size_t kIQ2_XXSBlockBytes = 66;
inline constexpr size_t kIQ2_XSBlockBytes = 74;
inline constexpr size_t kIQ2_SBlockBytes = 82;
inline constexpr size_t kIQ3_XXSBlockBytes = 98;
inline constexpr size_t kIQ3_SBlockBytes = 110;
inline constexpr size_t kIQ1_SBlockBytes = 50;
inline constexpr size_t kIQ1_MBlockBytes = 56;

void dequantize_iq2_xxs(const std::byte* in, float* y, size_t n);
void dequantize_iq2_xs(const std::byte* in, float* y, size_t n);
void dequantize_iq2_s(const std::byte* in, float* y, size_t n);
void dequantize_iq3_xxs(const std::byte* in, float* y, size_t n);
void dequantize_iq3_s(const std::byte* in, float* y, size_t n);
void dequantize_iq1_s(const std::byte* in, float* y, size_t n);
void dequantize_iq1_m(const std::byte* in, float* y, size_t n);

void quantize_iq2_xxs_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void quantize_iq2_xs_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void quantize_iq2_s(const float* x, std::byte* out, size_t n);
void quantize_iq2_s_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void quantize_iq3_xxs(const float* x, std::byte* out, size_t n);
void quantize_iq3_xxs_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void quantize_iq3_s(const float* x, std::byte* out, size_t n);
void quantize_iq3_s_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void quantize_iq1_s_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void quantize_iq1_m(const float* x, std::byte* out, size_t n);
void quantize_iq1_m_weighted(const float* x, std::byte* out, size_t n, const float* weights);

// The scalar references of the grid quantizers above, which round the scale trials, search the
// grid neighbours and (IQ1) try the splits eight at a time where the CPU has AVX2 (the two give
// the same bytes; tests hold them equal).
namespace scalar {
void quantize_iq2_xxs_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void quantize_iq2_xs_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void quantize_iq2_s(const float* x, std::byte* out, size_t n);
void quantize_iq2_s_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void quantize_iq3_xxs(const float* x, std::byte* out, size_t n);
void quantize_iq3_xxs_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void quantize_iq3_s(const float* x, std::byte* out, size_t n);
void quantize_iq3_s_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void quantize_iq1_s_weighted(const float* x, std::byte* out, size_t n, const float* weights);
void quantize_iq1_m(const float* x, std::byte* out, size_t n);
void quantize_iq1_m_weighted(const float* x, std::byte* out, size_t n, const float* weights);
}  // namespace scalar

}  // namespace owl
