// ggml's 4-bit float types: each weight an E2M1 value (0, ±0.5, ±1, ±1.5, ±2, ±3, ±4, ±6),
// scaled per block by a power of two (MXFP4) or per 16 weights by an unsigned E4M3 (NVFP4).
//
// The quantizers reproduce ggml's `quantize_row_mxfp4_ref` / `quantize_row_nvfp4_ref` bit for
// bit (finite input, `n` a multiple of the block), the dequantizers its `dequantize_row_*`.
#pragma once

#include <cstddef>
#include <cstdint>

namespace owl {

inline constexpr size_t kMXFP4BlockElems = 32;
inline constexpr size_t kMXFP4BlockBytes = 17;  // E8M0 exponent, 16 bytes of nibbles
inline constexpr size_t kNVFP4BlockElems = 64;
inline constexpr size_t kNVFP4BlockBytes = 36;  // four UE4M3 scales, 32 bytes of nibbles

void quantize_mxfp4(const float* x, std::byte* out, size_t n);
void dequantize_mxfp4(const std::byte* in, float* y, size_t n);

void quantize_nvfp4(const float* x, std::byte* out, size_t n);
void dequantize_nvfp4(const std::byte* in, float* y, size_t n);

}  // namespace owl
