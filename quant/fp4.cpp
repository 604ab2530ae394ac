#include "quant/fp4.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "quant/block_math.h"

namespace owl {

using block::u8;

namespace {

// E2M1 values, doubled so they are integers (the scales carry the half).
constexpr int8_t kE2M1Doubled[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// The code whose value times `d` is nearest `x`; the lowest code on ties.
uint8_t nearest_e2m1(float x, float d) {
  uint8_t best = 0;
  float best_err = std::fabs(static_cast<float>(kE2M1Doubled[0]) * d - x);
  for (uint8_t i = 1; i < 16; ++i) {
    const float err = std::fabs(static_cast<float>(kE2M1Doubled[i]) * d - x);
    if (err < best_err) {
      best = i;
      best_err = err;
    }
  }
  return best;
}

// Half of 2^(e - 127): the E8M0 scale, halved to undo the doubled E2M1 table.
float e8m0_half(uint8_t e) {
  const uint32_t bits = e < 2 ? (0x00200000u << e) : (static_cast<uint32_t>(e - 1) << 23);
  return std::bit_cast<float>(bits);
}

// Unsigned E4M3 (bias 7, no infinities; 0x7f reads as 0 as in ggml), halved likewise.
float ue4m3_half(uint8_t x) {
  if (x == 0 || x == 0x7f) return 0.0f;
  const int exp = (x >> 3) & 0xf, man = x & 0x7;
  const float raw = exp == 0 ? std::ldexp(static_cast<float>(man), -9)
                             : std::ldexp(1.0f + static_cast<float>(man) / 8.0f, exp - 7);
  return raw * 0.5f;
}

// ggml's rounding of a positive scale to UE4M3: the top three mantissa bits rounded by the
// next one (ties up), saturating at 448, subnormals rounded half up.
uint8_t to_ue4m3(float x) {
  if (!(x > 0.0f)) return 0;
  if (x > 448.0f) x = 448.0f;
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  const int exponent = static_cast<int>((bits >> 23) & 0xff) - 127 + 7;
  if (exponent <= 0) {
    const int man = std::min(7, static_cast<int>(block::truncate_x86(x * 512.0f + 0.5f)));
    return man < 1 ? 0 : static_cast<uint8_t>(man);
  }
  if (exponent >= 15) return 0x7e;
  int man = static_cast<int>((bits >> 20) & 0x7) + static_cast<int>((bits >> 19) & 1);
  int exp = exponent;
  if (man > 7) {
    man = 0;
    if (++exp >= 15) return 0x7e;
  }
  return static_cast<uint8_t>((exp << 3) | man);
}

float first_absmax(const float* x, size_t n) {
  float amax = 0;
  for (size_t j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) amax = std::fabs(x[j]);
  }
  return amax;
}

// Weights j and j + half of a run share byte j: low nibble, high nibble.
void pack_e2m1(const float* x, size_t half, float d, std::byte* qs) {
  for (size_t j = 0; j < half; ++j)
    qs[j] = static_cast<std::byte>(nearest_e2m1(x[j], d) | (nearest_e2m1(x[j + half], d) << 4));
}

void unpack_e2m1(const std::byte* qs, size_t half, float d, float* y) {
  for (size_t j = 0; j < half; ++j) {
    y[j] = static_cast<float>(kE2M1Doubled[u8(qs, j) & 0xf]) * d;
    y[j + half] = static_cast<float>(kE2M1Doubled[u8(qs, j) >> 4]) * d;
  }
}

constexpr size_t kNVFP4Sub = 16;

}  // namespace

void quantize_mxfp4(const float* x, std::byte* out, size_t n) {
  for (size_t b = 0; b < n / kMXFP4BlockElems;
       ++b, x += kMXFP4BlockElems, out += kMXFP4BlockBytes) {
    const float amax = first_absmax(x, kMXFP4BlockElems);
    // The exponent that puts the largest weight at 4 to 8 times the scale (E2M1 tops out at 6).
    // log2f, as ggml uses, rounds up just below a power of two; owl calls the same libm.
    const uint8_t e = amax > 0.0f ? block::to_uint8_x86(std::floor(std::log2(amax)) - 2 + 127) : 0;
    out[0] = std::byte{e};
    pack_e2m1(x, kMXFP4BlockElems / 2, e8m0_half(e), out + 1);
  }
}

void dequantize_mxfp4(const std::byte* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kMXFP4BlockElems; ++b, in += kMXFP4BlockBytes, y += kMXFP4BlockElems)
    unpack_e2m1(in + 1, kMXFP4BlockElems / 2, e8m0_half(u8(in, 0)), y);
}

void quantize_nvfp4(const float* x, std::byte* out, size_t n) {
  for (size_t b = 0; b < n / kNVFP4BlockElems; ++b, out += kNVFP4BlockBytes) {
    for (size_t s = 0; s < kNVFP4BlockElems / kNVFP4Sub; ++s, x += kNVFP4Sub) {
      const uint8_t scale = to_ue4m3(first_absmax(x, kNVFP4Sub) / 6.0f);
      out[s] = std::byte{scale};
      pack_e2m1(x, kNVFP4Sub / 2, ue4m3_half(scale), out + 4 + s * kNVFP4Sub / 2);
    }
  }
}

void dequantize_nvfp4(const std::byte* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kNVFP4BlockElems; ++b, in += kNVFP4BlockBytes) {
    for (size_t s = 0; s < kNVFP4BlockElems / kNVFP4Sub; ++s, y += kNVFP4Sub)
      unpack_e2m1(in + 4 + s * kNVFP4Sub / 2, kNVFP4Sub / 2, ue4m3_half(u8(in, s)), y);
  }
}

}  // namespace owl
