// The float-to-integer steps and field accessors every block codec shares. Bit-exactness with
// ggml's reference quantizers depends on each of these doing exactly what ggml's C does on x86.
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "quant/float_codec.h"

namespace owl::block {

// ggml's `nearest_int`: adding 1.5 * 2^23 moves the integer part of `x` into the low mantissa
// bits, where the FPU's own rounding (to nearest, ties to even) rounds it. Meaningful only for
// |x| < 2^22; beyond that it yields the same garbage as ggml's.
inline int nearest_int(float x) {
  const float biased = x + 12582912.0f;
  return static_cast<int>(std::bit_cast<uint32_t>(biased) & 0x007fffffu) - 0x00400000;
}

// C's conversion of a float to a narrow integer as compiled for x86 (cvttss2si, then the low
// bits): truncation toward zero, and INT32_MIN for NaN or anything outside int32, where C leaves
// the result undefined. ggml's reference reaches those cases for denormal blocks, whose inverse
// scale overflows to infinity.
inline int32_t truncate_x86(float x) {
  if (!(x >= -2147483648.0f && x < 2147483648.0f)) return INT32_MIN;
  return static_cast<int32_t>(x);
}
// glibc's lroundf on x86-64 (halves away from zero); NaN and out-of-range values give the
// conversion's INT64_MIN, where C leaves the result unspecified.
inline int64_t lround_x86(float x) {
  if (!(x >= -9223372036854775808.0f && x < 9223372036854775808.0f)) return INT64_MIN;
  return std::lround(x);
}
inline int8_t to_int8_x86(float x) {
  return static_cast<int8_t>(truncate_x86(x));
}
inline uint8_t to_uint8_x86(float x) {
  return static_cast<uint8_t>(truncate_x86(x));
}

// sum(x^2) over `n` values, added in order as ggml's loops add it.
inline float sum_squares(const float* x, size_t n) {
  float sum = 0;
  for (size_t i = 0; i < n; ++i) sum += x[i] * x[i];
  return sum;
}

// ggml's importance of each weight under an importance matrix: the matrix's column weight `qw`
// times the weight's size measured against the row's (or super-block's) variance `sigma2`.
inline void importance_weights(const float* x, const float* qw, float sigma2, size_t n, float* w) {
  for (size_t i = 0; i < n; ++i) w[i] = qw[i] * std::sqrt(sigma2 + x[i] * x[i]);
}

// Little-endian fields of a block.
inline float load_f16(const std::byte* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}
inline void store_f16(std::byte* p, float v) {
  const uint16_t h = f32_to_f16(v);
  std::memcpy(p, &h, 2);
}
inline uint8_t u8(const std::byte* p, size_t i) {
  return static_cast<uint8_t>(p[i]);
}
inline int8_t i8(const std::byte* p, size_t i) {
  return static_cast<int8_t>(p[i]);
}

}  // namespace owl::block
