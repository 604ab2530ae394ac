#include "quant/iquants.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/block_math.h"
#include "quant/iquants_x86.h"
#include "quant/kquants_search.h"
#include "quant/kquants_search_x86.h"

namespace owl {

using block::load_f16;
using block::nearest_int;
using block::store_f16;
using block::u8;

namespace {

constexpr const int8_t* kLevels = kIQ4Levels;
constexpr int kLevelCount = 16;
constexpr size_t kGroup = 32;
constexpr size_t kSuperBlock = 256;
constexpr int kScaleTries = 7;  // llama-quantize's: inverse scales (l0 + t) / max, |t| <= 7

// The level nearest `x`, the upper one on ties (ggml's `best_index_int8`, step for step, so NaN
// lands where ggml's lands).
uint8_t nearest_level(float x) {
  if (x <= kLevels[0]) return 0;
  if (x >= kLevels[kLevelCount - 1]) return kLevelCount - 1;
  int lo = 0, hi = kLevelCount - 1;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (x < kLevels[mid]) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return static_cast<uint8_t>(x - kLevels[hi - 1] < kLevels[hi] - x ? hi - 1 : hi);
}

// The weighted least-squares scale of a group of 32 for the levels `id` picks: returns
// sum(w q x) and sum(w q^2) through the references.
void level_fit(const float* x, const float* w, float id, float& sumqx, float& sumq2) {
  sumqx = 0;
  sumq2 = 0;
  for (size_t j = 0; j < kGroup; ++j) {
    const float q = kLevels[nearest_level(id * x[j])];
    sumqx += w[j] * q * x[j];
    sumq2 += w[j] * q * q;
  }
}

// The best scale of a group of 32 weights (0 for an all-zero group), each weight counting by
// `w`: start from the one that maps the signed largest weight onto the lowest level, refit, then
// try 15 nearby inverse scales.
float group_scale(const float* x, const float* w) {
  float amax = 0, max = 0;
  for (size_t j = 0; j < kGroup; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  if (amax < kq::kGroupMaxEps) return 0;
  float sumqx, sumq2;
  level_fit(x, w, 1 / (-max / kLevels[0]), sumqx, sumq2);
  float d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
  float best = d * sumqx;
  for (int t = -kScaleTries; t <= kScaleTries; ++t) {
    level_fit(x, w, static_cast<float>(t + kLevels[0]) / max, sumqx, sumq2);
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      d = sumqx / sumq2;
      best = d * sumqx;
    }
  }
  return d;
}

// The weights of a group of 32 without an importance matrix (x^2), or with one (`qw`, measured
// against the super-block's variance `sigma2`).
void group_weights(const float* x, const float* qw, float sigma2, float* w) {
  if (qw) {
    block::importance_weights(x, qw, sigma2, kGroup, w);
  } else {
    for (size_t j = 0; j < kGroup; ++j) w[j] = x[j] * x[j];
  }
}

// ggml's variance of a super-block of `n` values (n = 32 for IQ4_NL, 256 for IQ4_XS).
float superblock_variance(const float* x, size_t n) {
  return block::sum_squares(x, n) * (2.f / static_cast<float>(n));
}

// The scales of `groups` consecutive groups of 32 (weights likewise): eight at a time with AVX2
// where `fast`, the rest one by one.
void group_scales(bool fast, size_t groups, const float* x, const float* w, float* scales) {
  size_t g = 0;
  if (fast) {
    for (; g + kq::x86::kLanes <= groups; g += kq::x86::kLanes)
      iq4::x86::group_scales_x8(x + g * kGroup, w + g * kGroup, scales + g);
  }
  for (; g < groups; ++g) scales[g] = group_scale(x + g * kGroup, w + g * kGroup);
}

// Weight j and j + 16 of each group of 32 share a byte: low nibble, high nibble.
void pack_levels(const uint8_t* L, size_t n, std::byte* qs) {
  for (size_t g = 0; g < n / kGroup; ++g)
    for (size_t j = 0; j < 16; ++j)
      qs[16 * g + j] = std::byte(L[32 * g + j] | (L[32 * g + 16 + j] << 4));
}

void unpack_levels(const std::byte* qs, float d, float* y) {
  for (size_t j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>(kLevels[u8(qs, j) & 0xf]);
    y[j + 16] = d * static_cast<float>(kLevels[u8(qs, j) >> 4]);
  }
}

}  // namespace

namespace {

// `qw`: the importance matrix's weights for these `n` values, or null. Blocks are searched eight
// at a time.
void quantize_iq4_nl_blocks(bool fast, const float* x, std::byte* out, size_t n, const float* qw) {
  constexpr size_t kChunk = kq::x86::kLanes;
  const size_t blocks = n / kGroup;
  for (size_t b = 0; b < blocks; b += kChunk) {
    const size_t count = std::min(kChunk, blocks - b);
    const float* xb = x + b * kGroup;
    float w[kChunk * kGroup], scales[kChunk];
    for (size_t k = 0; k < count; ++k) {
      const float* xk = xb + k * kGroup;
      group_weights(xk, qw ? qw + (b + k) * kGroup : nullptr,
                    qw ? superblock_variance(xk, kGroup) : 0, w + k * kGroup);
    }
    group_scales(fast, count, xb, w, scales);
    for (size_t k = 0; k < count; ++k) {
      std::byte* block = out + (b + k) * kIQ4_NLBlockBytes;
      store_f16(block, scales[k]);
      const float id = scales[k] != 0 ? 1 / scales[k] : 0;
      uint8_t L[kGroup];
      for (size_t j = 0; j < kGroup; ++j) L[j] = nearest_level(id * xb[k * kGroup + j]);
      pack_levels(L, kGroup, block + 2);
    }
  }
}

}  // namespace

void quantize_iq4_nl(const float* x, std::byte* out, size_t n) {
  quantize_iq4_nl_blocks(kq::x86::has_avx2(), x, out, n, nullptr);
}

void quantize_iq4_nl_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  quantize_iq4_nl_blocks(kq::x86::has_avx2(), x, out, n, weights);
}

void dequantize_iq4_nl(const std::byte* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kGroup; ++b, in += kIQ4_NLBlockBytes, y += kGroup)
    unpack_levels(in + 2, load_f16(in), y);
}

namespace {

void quantize_iq4_xs_blocks(bool fast, const float* x, std::byte* out, size_t n, const float* qw) {
  constexpr size_t kGroups = kSuperBlock / kGroup;
  for (size_t b = 0; b < n / kSuperBlock; ++b, x += kSuperBlock, out += kIQ4_XSBlockBytes) {
    const float* qw_block = qw ? qw + b * kSuperBlock : nullptr;
    const float sigma2 = qw ? superblock_variance(x, kSuperBlock) : 0;
    float w[kSuperBlock], scales[kGroups];
    for (size_t g = 0; g < kGroups; ++g) {
      group_weights(x + kGroup * g, qw_block ? qw_block + kGroup * g : nullptr, sigma2,
                    w + kGroup * g);
    }
    group_scales(fast, kGroups, x, w, scales);
    float max_scale = 0, amax_scale = 0;
    for (size_t g = 0; g < kGroups; ++g) {
      if (std::fabs(scales[g]) > amax_scale) {
        amax_scale = std::fabs(scales[g]);
        max_scale = scales[g];
      }
    }
    // Sub-scales are signed 6-bit multiples of d = -max/32; weights are requantized against
    // their rounded group scale (the float d, not its f16).
    const float d = -max_scale / 32;
    store_f16(out, d);
    const float id = d != 0 ? 1 / d : 0.f;
    uint16_t scales_h = 0;
    uint8_t scales_l[kGroups / 2] = {};
    uint8_t L[kSuperBlock];
    for (size_t g = 0; g < kGroups; ++g) {
      const int l = std::max(-32, std::min(31, nearest_int(id * scales[g])));
      const float dl = d * static_cast<float>(l);
      const float idl = dl != 0 ? 1 / dl : 0.f;
      for (size_t j = 0; j < kGroup; ++j)
        L[kGroup * g + j] = nearest_level(idl * x[kGroup * g + j]);
      const int biased = l + 32;
      scales_l[g / 2] = static_cast<uint8_t>(scales_l[g / 2] | ((biased & 0xf) << (4 * (g % 2))));
      scales_h = static_cast<uint16_t>(scales_h | ((biased >> 4) << (2 * g)));
    }
    std::memcpy(out + 2, &scales_h, 2);
    std::memcpy(out + 4, scales_l, sizeof scales_l);
    pack_levels(L, kSuperBlock, out + 8);
  }
}

}  // namespace

void quantize_iq4_xs(const float* x, std::byte* out, size_t n) {
  quantize_iq4_xs_blocks(kq::x86::has_avx2(), x, out, n, nullptr);
}

void quantize_iq4_xs_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  quantize_iq4_xs_blocks(kq::x86::has_avx2(), x, out, n, weights);
}

namespace scalar {

void quantize_iq4_nl(const float* x, std::byte* out, size_t n) {
  quantize_iq4_nl_blocks(false, x, out, n, nullptr);
}
void quantize_iq4_nl_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  quantize_iq4_nl_blocks(false, x, out, n, weights);
}
void quantize_iq4_xs(const float* x, std::byte* out, size_t n) {
  quantize_iq4_xs_blocks(false, x, out, n, nullptr);
}
void quantize_iq4_xs_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  quantize_iq4_xs_blocks(false, x, out, n, weights);
}

}  // namespace scalar

void dequantize_iq4_xs(const std::byte* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kSuperBlock; ++b, in += kIQ4_XSBlockBytes) {
    const float d = load_f16(in);
    uint16_t scales_h;
    std::memcpy(&scales_h, in + 2, 2);
    for (size_t g = 0; g < kSuperBlock / kGroup; ++g, y += kGroup) {
      const int ls =
          ((u8(in + 4, g / 2) >> (4 * (g % 2))) & 0xf) | (((scales_h >> (2 * g)) & 3) << 4);
      unpack_levels(in + 8 + 16 * g, d * static_cast<float>(ls - 32), y);
    }
  }
}

}  // namespace owl
