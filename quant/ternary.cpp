#include "quant/ternary.h"

#include <algorithm>
#include <cmath>

#include "quant/block_math.h"

namespace owl {

using block::load_f16;
using block::store_f16;
using block::u8;

namespace {

constexpr size_t kQK = 256;
constexpr size_t kQs1 = 48, kQh1 = 4;  // TQ1_0: trit bytes, then the 4-trit bytes

// d = max|x|, stored as f16; returns 1/d (0 for an all-zero block).
float store_absmax_scale(const float* x, std::byte* d_field) {
  float amax = 0;
  for (size_t j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
  store_f16(d_field, amax);
  return amax != 0 ? 1.0f / amax : 0.0f;
}

// A weight's trit + 1: 0, 1 or 2 for finite input.
int trit(float x, float id) {
  return static_cast<int>(block::lround_x86(x * id) + 1);
}

// `count` trits (most significant first) as the base-3 fraction of 256 that TQ1_0 stores,
// rounded up so that the decoder's multiply-and-shift recovers each digit.
uint8_t pack_trits(const float* x, size_t stride, size_t count, float id) {
  uint8_t q = 0;
  for (size_t k = 0; k < count; ++k) q = static_cast<uint8_t>(q * 3 + trit(x[k * stride], id));
  if (count == 4) q = static_cast<uint8_t>(q * 3);  // the first trit becomes the top digit
  return static_cast<uint8_t>((static_cast<uint16_t>(q) * 256 + (243 - 1)) / 243);
}

// Digit k (0 = most significant) of a packed byte, as a weight of -1, 0 or 1.
float unpack_trit(uint8_t packed, int k) {
  constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  const uint8_t shifted = static_cast<uint8_t>(packed * kPow3[k]);
  return static_cast<float>(((static_cast<uint16_t>(shifted) * 3) >> 8) - 1);
}

}  // namespace

void quantize_tq1_0(const float* x, std::byte* out, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, x += kQK, out += kTQ1_0BlockBytes) {
    const float id = store_absmax_scale(x, out + kQs1 + kQh1);
    // Bytes 0..31 hold weights m + 32 k (k = 0..4), bytes 32..47 weights 160 + m + 16 k, and the
    // four qh bytes weights 240 + j + 4 k (k = 0..3).
    for (size_t m = 0; m < 32; ++m) out[m] = std::byte{pack_trits(x + m, 32, 5, id)};
    for (size_t m = 0; m < 16; ++m) out[32 + m] = std::byte{pack_trits(x + 160 + m, 16, 5, id)};
    for (size_t j = 0; j < kQh1; ++j) out[kQs1 + j] = std::byte{pack_trits(x + 240 + j, 4, 4, id)};
  }
}

void dequantize_tq1_0(const std::byte* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, in += kTQ1_0BlockBytes, y += kQK) {
    const float d = load_f16(in + kQs1 + kQh1);
    for (int k = 0; k < 5; ++k)
      for (size_t m = 0; m < 32; ++m) y[32 * k + m] = unpack_trit(u8(in, m), k) * d;
    for (int k = 0; k < 5; ++k)
      for (size_t m = 0; m < 16; ++m) y[160 + 16 * k + m] = unpack_trit(u8(in, 32 + m), k) * d;
    for (int k = 0; k < 4; ++k)
      for (size_t j = 0; j < kQh1; ++j) y[240 + 4 * k + j] = unpack_trit(u8(in, kQs1 + j), k) * d;
  }
}

void quantize_tq2_0(const float* x, std::byte* out, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, x += kQK, out += kTQ2_0BlockBytes) {
    const float id = store_absmax_scale(x, out + 64);
    // Byte 32 h + m holds weights 128 h + m + 32 k in bits 2k.
    for (size_t h = 0; h < 2; ++h) {
      for (size_t m = 0; m < 32; ++m) {
        unsigned q = 0;
        for (size_t k = 0; k < 4; ++k)
          q += static_cast<unsigned>(trit(x[128 * h + m + 32 * k], id) & 3) << (2 * k);
        out[32 * h + m] = static_cast<std::byte>(q);
      }
    }
  }
}

void dequantize_tq2_0(const std::byte* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, in += kTQ2_0BlockBytes, y += kQK) {
    const float d = load_f16(in + 64);
    for (size_t h = 0; h < 2; ++h)
      for (size_t k = 0; k < 4; ++k)
        for (size_t m = 0; m < 32; ++m)
          y[128 * h + 32 * k + m] =
              static_cast<float>(((u8(in, 32 * h + m) >> (2 * k)) & 3) - 1) * d;
  }
}

}  // namespace owl
