#include "quant/legacy.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "quant/block_math.h"
#include "quant/kquants_search.h"
#include "quant/kquants_search_x86.h"

namespace owl {

using block::load_f16;
using block::store_f16;
using block::u8;

namespace {

constexpr size_t kQK = kLegacyBlockElems;
constexpr size_t kHalf = kQK / 2;

// The weight of largest magnitude with its sign; the first one wins a tie.
float signed_absmax(const float* x) {
  float amax = 0, max = 0;
  for (size_t j = 0; j < kQK; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

float absmax(const float* x) {
  float amax = 0;
  for (size_t j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
  return amax;
}

void min_max(const float* x, float& min, float& max) {
  min = FLT_MAX;
  max = -FLT_MAX;
  for (size_t j = 0; j < kQK; ++j) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
}

float inverse(float d) {
  return d != 0 ? 1.0f / d : 0.0f;
}

// The fifth bits of 32 five-bit quants, bit j for weight j.
void store_high_bits(std::byte* out, const uint8_t* q) {
  uint32_t qh = 0;
  for (size_t j = 0; j < kQK; ++j) qh |= static_cast<uint32_t>((q[j] & 0x10u) >> 4) << j;
  std::memcpy(out, &qh, 4);
}

uint32_t load_high_bits(const std::byte* in) {
  uint32_t qh;
  std::memcpy(&qh, in, 4);
  return qh;
}

// Weight j sits in the low nibble of byte j, weight j + 16 in its high nibble.
void store_nibbles(std::byte* out, const uint8_t* q) {
  for (size_t j = 0; j < kHalf; ++j)
    out[j] = static_cast<std::byte>((q[j] & 0x0f) | ((q[j + kHalf] & 0x0f) << 4));
}

// ggml's legacy types measure each weight's importance against the variance of the whole row.
float row_variance(const float* x, size_t n) {
  return block::sum_squares(x, n) / static_cast<float>(n);
}

// The weighted paths search eight blocks at a time: the AVX2 searches' lanes.
constexpr size_t kChunk = kq::x86::kLanes;

// The weighted paths of the affine types (Q4_1, Q5_1): the searched scale and -min of each block
// go to its two f16 fields, its quants to `store_quants`.
template <typename StoreQuants>
void quantize_affine_weighted(bool fast, const float* x, std::byte* out, size_t n, const float* qw,
                              int nmax, size_t block_bytes, StoreQuants store_quants) {
  const float sigma2 = row_variance(x, n);
  const size_t blocks = n / kQK;
  for (size_t b = 0; b < blocks; b += kChunk) {
    const size_t count = std::min(kChunk, blocks - b);
    float w[kChunk * kQK], scales[kChunk], neg_mins[kChunk];
    uint8_t L[kChunk * kQK];
    block::importance_weights(x + b * kQK, qw + b * kQK, sigma2, count * kQK, w);
    kq::affine_scale_search_groups(fast, count, kQK, nmax, x + b * kQK, w, L, scales, neg_mins,
                                   kq::kWeightedAffineSearch);
    for (size_t k = 0; k < count; ++k) {
      std::byte* block = out + (b + k) * block_bytes;
      store_f16(block, scales[k]);
      store_f16(block + 2, -neg_mins[k]);
      store_quants(block, L + k * kQK);
    }
  }
}

// The weighted paths of the symmetric types (Q4_0, Q5_0).
template <typename StoreQuants>
void quantize_symmetric_weighted(bool fast, const float* x, std::byte* out, size_t n,
                                 const float* qw, int nmax, size_t block_bytes,
                                 StoreQuants store_quants) {
  const float sigma2 = row_variance(x, n);
  const size_t blocks = n / kQK;
  for (size_t b = 0; b < blocks; b += kChunk) {
    const size_t count = std::min(kChunk, blocks - b);
    float w[kChunk * kQK], scales[kChunk];
    int8_t L[kChunk * kQK];
    block::importance_weights(x + b * kQK, qw + b * kQK, sigma2, count * kQK, w);
    kq::symmetric_scale_search_groups(fast, count, kQK, nmax, x + b * kQK, w, L, scales);
    for (size_t k = 0; k < count; ++k) {
      std::byte* block = out + (b + k) * block_bytes;
      store_f16(block, scales[k]);
      uint8_t q[kQK];
      for (size_t j = 0; j < kQK; ++j) q[j] = static_cast<uint8_t>(L[k * kQK + j]);
      store_quants(block, q);
    }
  }
}

void q4_0_quants(std::byte* block, const uint8_t* q) {
  store_nibbles(block + 2, q);
}
void q4_1_quants(std::byte* block, const uint8_t* q) {
  store_nibbles(block + 4, q);
}
void q5_0_quants(std::byte* block, const uint8_t* q) {
  store_high_bits(block + 2, q);
  store_nibbles(block + 6, q);
}
void q5_1_quants(std::byte* block, const uint8_t* q) {
  store_high_bits(block + 4, q);
  store_nibbles(block + 8, q);
}

}  // namespace

void quantize_q4_0_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  quantize_symmetric_weighted(kq::x86::has_avx2(), x, out, n, weights, 8, kQ4_0BlockBytes,
                              q4_0_quants);
}
void quantize_q4_1_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  quantize_affine_weighted(kq::x86::has_avx2(), x, out, n, weights, 15, kQ4_1BlockBytes,
                           q4_1_quants);
}
void quantize_q5_0_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  quantize_symmetric_weighted(kq::x86::has_avx2(), x, out, n, weights, 16, kQ5_0BlockBytes,
                              q5_0_quants);
}
void quantize_q5_1_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  quantize_affine_weighted(kq::x86::has_avx2(), x, out, n, weights, 31, kQ5_1BlockBytes,
                           q5_1_quants);
}

namespace scalar {

void quantize_q4_0_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  quantize_symmetric_weighted(false, x, out, n, weights, 8, kQ4_0BlockBytes, q4_0_quants);
}
void quantize_q4_1_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  quantize_affine_weighted(false, x, out, n, weights, 15, kQ4_1BlockBytes, q4_1_quants);
}
void quantize_q5_0_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  quantize_symmetric_weighted(false, x, out, n, weights, 16, kQ5_0BlockBytes, q5_0_quants);
}
void quantize_q5_1_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  quantize_affine_weighted(false, x, out, n, weights, 31, kQ5_1BlockBytes, q5_1_quants);
}

}  // namespace scalar

void quantize_q4_0(const float* x, std::byte* out, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, x += kQK, out += kQ4_0BlockBytes) {
    const float d = signed_absmax(x) / -8;
    const float id = inverse(d);
    store_f16(out, d);
    uint8_t q[kQK];
    for (size_t j = 0; j < kQK; ++j)
      q[j] = static_cast<uint8_t>(std::min(15, int{block::to_int8_x86(x[j] * id + 8.5f)}));
    // ggml ORs the high nibble over the whole byte, so a garbage low quant (only reachable with
    // an infinite inverse scale) keeps its high bits; store_nibbles would mask them.
    for (size_t j = 0; j < kHalf; ++j)
      out[2 + j] = static_cast<std::byte>(q[j] | (q[j + kHalf] << 4));
  }
}

void dequantize_q4_0(const std::byte* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, in += kQ4_0BlockBytes, y += kQK) {
    const float d = load_f16(in);
    const std::byte* qs = in + 2;
    for (size_t j = 0; j < kHalf; ++j) {
      y[j] = static_cast<float>((u8(qs, j) & 0x0f) - 8) * d;
      y[j + kHalf] = static_cast<float>((u8(qs, j) >> 4) - 8) * d;
    }
  }
}

void quantize_q4_1(const float* x, std::byte* out, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, x += kQK, out += kQ4_1BlockBytes) {
    float min, max;
    min_max(x, min, max);
    const float d = (max - min) / 15;
    const float id = inverse(d);
    store_f16(out, d);
    store_f16(out + 2, min);
    uint8_t q[kQK];
    for (size_t j = 0; j < kQK; ++j)
      q[j] = static_cast<uint8_t>(std::min(15, int{block::to_int8_x86((x[j] - min) * id + 0.5f)}));
    for (size_t j = 0; j < kHalf; ++j)
      out[4 + j] = static_cast<std::byte>(q[j] | (q[j + kHalf] << 4));
  }
}

void dequantize_q4_1(const std::byte* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, in += kQ4_1BlockBytes, y += kQK) {
    const float d = load_f16(in), m = load_f16(in + 2);
    const std::byte* qs = in + 4;
    for (size_t j = 0; j < kHalf; ++j) {
      y[j] = static_cast<float>(u8(qs, j) & 0x0f) * d + m;
      y[j + kHalf] = static_cast<float>(u8(qs, j) >> 4) * d + m;
    }
  }
}

void quantize_q5_0(const float* x, std::byte* out, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, x += kQK, out += kQ5_0BlockBytes) {
    const float d = signed_absmax(x) / -16;
    const float id = inverse(d);
    store_f16(out, d);
    uint8_t q[kQK];
    for (size_t j = 0; j < kQK; ++j)
      q[j] = static_cast<uint8_t>(std::min(31, int{block::to_int8_x86(x[j] * id + 16.5f)}));
    store_high_bits(out + 2, q);
    store_nibbles(out + 6, q);
  }
}

void dequantize_q5_0(const std::byte* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, in += kQ5_0BlockBytes, y += kQK) {
    const float d = load_f16(in);
    const uint32_t qh = load_high_bits(in + 2);
    const std::byte* qs = in + 6;
    for (size_t j = 0; j < kHalf; ++j) {
      const int high0 = static_cast<int>((qh >> j) << 4) & 0x10;
      const int high1 = static_cast<int>(qh >> (j + 12)) & 0x10;
      y[j] = static_cast<float>(((u8(qs, j) & 0x0f) | high0) - 16) * d;
      y[j + kHalf] = static_cast<float>(((u8(qs, j) >> 4) | high1) - 16) * d;
    }
  }
}

void quantize_q5_1(const float* x, std::byte* out, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, x += kQK, out += kQ5_1BlockBytes) {
    float min, max;
    min_max(x, min, max);
    const float d = (max - min) / 31;
    const float id = inverse(d);
    store_f16(out, d);
    store_f16(out + 2, min);
    uint8_t q[kQK];
    for (size_t j = 0; j < kQK; ++j) q[j] = block::to_uint8_x86((x[j] - min) * id + 0.5f);
    store_high_bits(out + 4, q);
    store_nibbles(out + 8, q);
  }
}

void dequantize_q5_1(const std::byte* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, in += kQ5_1BlockBytes, y += kQK) {
    const float d = load_f16(in), m = load_f16(in + 2);
    const uint32_t qh = load_high_bits(in + 4);
    const std::byte* qs = in + 8;
    for (size_t j = 0; j < kHalf; ++j) {
      const int high0 = static_cast<int>((qh >> j) << 4) & 0x10;
      const int high1 = static_cast<int>(qh >> (j + 12)) & 0x10;
      y[j] = static_cast<float>((u8(qs, j) & 0x0f) | high0) * d + m;
      y[j + kHalf] = static_cast<float>((u8(qs, j) >> 4) | high1) * d + m;
    }
  }
}

void quantize_q8_0(const float* x, std::byte* out, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, x += kQK, out += kQ8_0BlockBytes) {
    const float d = absmax(x) / 127;
    const float id = inverse(d);
    store_f16(out, d);
    for (size_t j = 0; j < kQK; ++j)
      out[2 + j] = static_cast<std::byte>(block::to_int8_x86(std::round(x[j] * id)));
  }
}

void dequantize_q8_0(const std::byte* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, in += kQ8_0BlockBytes, y += kQK) {
    const float d = load_f16(in);
    for (size_t j = 0; j < kQK; ++j) y[j] = static_cast<float>(block::i8(in, 2 + j)) * d;
  }
}

void quantize_q8_1(const float* x, std::byte* out, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, x += kQK, out += kQ8_1BlockBytes) {
    const float d = absmax(x) / 127;
    const float id = inverse(d);
    store_f16(out, d);
    int sum = 0;
    for (size_t j = 0; j < kQK; ++j) {
      const int8_t q = block::to_int8_x86(std::round(x[j] * id));
      out[4 + j] = static_cast<std::byte>(q);
      sum += q;
    }
    store_f16(out + 2, static_cast<float>(sum) * d);
  }
}

void dequantize_q8_1(const std::byte* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, in += kQ8_1BlockBytes, y += kQK) {
    const float d = load_f16(in);
    for (size_t j = 0; j < kQK; ++j) y[j] = static_cast<float>(block::i8(in, 4 + j)) * d;
  }
}

}  // namespace owl
