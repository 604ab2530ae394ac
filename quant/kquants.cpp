#include "quant/kquants.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/block_math.h"
#include "quant/kquants_search.h"
#include "quant/kquants_search_x86.h"

namespace owl {

using block::load_f16;
using block::nearest_int;
using block::store_f16;
using block::u8;

namespace {

constexpr size_t kQK = kSuperBlockElems;

// Byte offsets of each block's fields (ggml-common.h's struct layouts).
namespace q2 {
constexpr size_t kScales = 0, kQs = 16, kD = 80, kDmin = 82;
}
namespace q3 {
constexpr size_t kHmask = 0, kQs = 32, kScales = 96, kD = 108;
}
namespace q4 {
constexpr size_t kD = 0, kDmin = 2, kScales = 4, kQs = 16;
}
namespace q5 {
constexpr size_t kD = 0, kDmin = 2, kScales = 4, kQh = 16, kQs = 48;
}
namespace q6 {
constexpr size_t kQl = 0, kQh = 128, kScales = 192, kD = 208;
}
// Q4_K and Q5_K hand the affine superblock helpers d's address; they read dmin 2 bytes after it.
static_assert(q4::kDmin == q4::kD + 2 && q5::kDmin == q5::kD + 2);
namespace q8 {
constexpr size_t kD = 0, kQs = 4, kBsums = 260;
}

// --- Shared packings ---

// Quants 0..3 of weights e, e + 32, e + 64, e + 96 share a byte, per 128 weights (Q2_K, Q3_K).
void pack_2bit(const uint8_t* L, std::byte* qs) {
  for (size_t g = 0; g < kQK; g += 128) {
    for (size_t l = 0; l < 32; ++l) {
      qs[g / 4 + l] = static_cast<std::byte>(L[g + l] | (L[g + l + 32] << 2) |
                                             (L[g + l + 64] << 4) | (L[g + l + 96] << 6));
    }
  }
}

// Eight 6-bit scales and eight 6-bit mins in 12 bytes (Q4_K, Q5_K): groups 0..3 take the low six
// bits of bytes 0..3 (scales) and 4..7 (mins); groups 4..7 keep their low nibbles in bytes 8..11
// and their top two bits in the spare top bits of bytes 0..7.
void pack_scale_min_6bit(const uint8_t* sc, const uint8_t* mn, std::byte* out) {
  uint8_t b[12];
  for (size_t j = 0; j < 4; ++j) {
    b[j] = sc[j];
    b[j + 4] = mn[j];
  }
  for (size_t j = 4; j < 8; ++j) {
    b[j + 4] = static_cast<uint8_t>((sc[j] & 0xf) | ((mn[j] & 0xf) << 4));
    b[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
    b[j] |= static_cast<uint8_t>((mn[j] >> 4) << 6);
  }
  std::memcpy(out, b, 12);
}

void unpack_scale_min_6bit(const std::byte* q, size_t j, uint8_t& sc, uint8_t& mn) {
  if (j < 4) {
    sc = u8(q, j) & 63;
    mn = u8(q, j + 4) & 63;
  } else {
    sc = static_cast<uint8_t>((u8(q, j + 4) & 0xf) | ((u8(q, j - 4) >> 6) << 4));
    mn = static_cast<uint8_t>((u8(q, j + 4) >> 4) | ((u8(q, j) >> 6) << 4));
  }
}

// Sixteen 6-bit scales in 12 bytes (Q3_K): low nibbles in bytes 0..7 (groups 8..15 in the high
// nibbles), top two bits in bytes 8..11.
int unpack_scale_q3(const std::byte* s, size_t j) {
  const int low = j < 8 ? (u8(s, j) & 0xf) : (u8(s, j - 8) >> 4);
  const int high = (u8(s, 8 + j % 4) >> (2 * (j / 4))) & 3;
  return low | (high << 4);
}

// Each group's total importance: how much its scale and min count when they are quantized.
template <size_t kGroups>
void group_sums(const float* weights, size_t group, float (&sums)[kGroups]) {
  for (size_t j = 0; j < kGroups; ++j) {
    float sum = 0;
    for (size_t l = 0; l < group; ++l) sum += weights[group * j + l];
    sums[j] = sum;
  }
}

// --- Q4_K and Q5_K share everything but the quant width ---

// The group scales and mins of a Q4_K/Q5_K super-block, quantized to six bits, then the weights
// requantized against those rounded scales. Without an importance matrix (`qw` null) each weight
// counts by its magnitude plus its group's RMS and the six-bit levels are taken against the
// largest scale and min; with one, each counts by its importance and the levels come from an
// importance-weighted search. ggml's Q5_K clamps those levels to 63 and its Q4_K does not: they
// differ only for a wrapped (negative) level, `clamp_levels` chooses.
void quantize_affine_superblock(bool fast, const float* x, const float* qw, int nmax,
                                const kq::AffineSearch& search, bool clamp_levels,
                                std::byte* d_dmin, std::byte* packed_scales, uint8_t* L) {
  constexpr size_t kGroup = 32, kGroups = kQK / kGroup;
  float weights[kQK];
  if (qw) {
    const float sigma2 = 2 * block::sum_squares(x, kQK) / kQK;
    block::importance_weights(x, qw, sigma2, kQK, weights);
  } else {
    for (size_t j = 0; j < kGroups; ++j) {
      const float* xg = x + kGroup * j;
      const float av_x = std::sqrt(block::sum_squares(xg, kGroup) / kGroup);
      for (size_t l = 0; l < kGroup; ++l) weights[kGroup * j + l] = av_x + std::fabs(xg[l]);
    }
  }
  float scales[kGroups], mins[kGroups];
  kq::affine_scale_search_groups(fast, kGroups, kGroup, nmax, x, weights, L, scales, mins,
                                 qw ? kq::kWeightedAffineSearch : search);
  uint8_t ls[kGroups], lm[kGroups];
  if (qw) {
    float sw[kGroups];
    group_sums(weights, kGroup, sw);
    const float d = kq::nonnegative_scale_search(kGroups, 63, scales, sw, ls);
    const float dmin = kq::nonnegative_scale_search(kGroups, 63, mins, sw, lm);
    if (clamp_levels) {
      for (size_t j = 0; j < kGroups; ++j) {
        ls[j] = std::min<uint8_t>(63, ls[j]);
        lm[j] = std::min<uint8_t>(63, lm[j]);
      }
    }
    store_f16(d_dmin, d);
    store_f16(d_dmin + 2, dmin);
  } else {
    float max_scale = 0, max_min = 0;
    for (size_t j = 0; j < kGroups; ++j) {
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (size_t j = 0; j < kGroups; ++j) {
      ls[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[j])));
      lm[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[j])));
    }
    store_f16(d_dmin, max_scale / 63.f);
    store_f16(d_dmin + 2, max_min / 63.f);
  }
  pack_scale_min_6bit(ls, lm, packed_scales);

  const float d_all = load_f16(d_dmin), dmin_all = load_f16(d_dmin + 2);
  for (size_t j = 0; j < kGroups; ++j) {
    uint8_t sc, mn;
    unpack_scale_min_6bit(packed_scales, j, sc, mn);
    const float d = d_all * sc;
    if (d == 0) continue;  // the search's quants stay
    const float dm = dmin_all * mn;
    for (size_t l = 0; l < kGroup; ++l)
      L[kGroup * j + l] =
          static_cast<uint8_t>(std::clamp(nearest_int((x[kGroup * j + l] + dm) / d), 0, nmax));
  }
}

// Dequantizes a Q4_K super-block, or a Q5_K one when `qh` holds its fifth bits.
void dequantize_affine_superblock(const std::byte* d_dmin, const std::byte* packed_scales,
                                  const std::byte* qs, const std::byte* qh, float* y) {
  const float d = load_f16(d_dmin), min = load_f16(d_dmin + 2);
  // Weights 64 c .. 64 c + 31 are the low nibbles of qs[32 c ..], the next 32 the high ones;
  // Q5_K's fifth bit of weight e is bit e / 32 of qh[e % 32].
  for (size_t c = 0; c < kQK / 64; ++c, qs += 32) {
    uint8_t sc, mn;
    unpack_scale_min_6bit(packed_scales, 2 * c, sc, mn);
    const float d1 = d * sc, m1 = min * mn;
    unpack_scale_min_6bit(packed_scales, 2 * c + 1, sc, mn);
    const float d2 = d * sc, m2 = min * mn;
    for (size_t l = 0; l < 32; ++l) {
      const int high1 = qh ? ((u8(qh, l) >> (2 * c)) & 1) << 4 : 0;
      const int high2 = qh ? ((u8(qh, l) >> (2 * c + 1)) & 1) << 4 : 0;
      y[64 * c + l] = d1 * static_cast<float>((u8(qs, l) & 0xf) + high1) - m1;
      y[64 * c + 32 + l] = d2 * static_cast<float>((u8(qs, l) >> 4) + high2) - m2;
    }
  }
}

}  // namespace

// --- Q2_K ---

namespace {

// Q2_K's group scales and mins without an importance matrix: 4-bit levels against the largest
// of each.
void q2_levels_plain(const float* scales, const float* mins, std::byte* out, uint8_t* sc) {
  constexpr size_t kGroups = kQK / 16;
  constexpr float kScaleLevels = 15.f;
  float max_scale = 0, max_min = 0;
  for (size_t j = 0; j < kGroups; ++j) {
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  std::fill(sc, sc + kGroups, uint8_t{0});
  if (max_scale > 0) {
    const float iscale = kScaleLevels / max_scale;
    for (size_t j = 0; j < kGroups; ++j)
      sc[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
    store_f16(out + q2::kD, max_scale / kScaleLevels);
  } else {
    store_f16(out + q2::kD, 0.f);
  }
  if (max_min > 0) {
    const float iscale = kScaleLevels / max_min;
    for (size_t j = 0; j < kGroups; ++j)
      sc[j] = static_cast<uint8_t>(sc[j] | (nearest_int(iscale * mins[j]) << 4));
    store_f16(out + q2::kDmin, max_min / kScaleLevels);
  } else {
    store_f16(out + q2::kDmin, 0.f);
  }
}

// With an importance matrix: the levels of the scales and of the mins each from a search
// weighted by the groups' total importance `sw`.
void q2_levels_weighted(const float* scales, const float* mins, const float* sw, std::byte* out,
                        uint8_t* sc) {
  constexpr size_t kGroups = kQK / 16;
  uint8_t ls[kGroups], lm[kGroups];
  store_f16(out + q2::kD, kq::nonnegative_scale_search(kGroups, 15, scales, sw, ls));
  store_f16(out + q2::kDmin, kq::nonnegative_scale_search(kGroups, 15, mins, sw, lm));
  for (size_t j = 0; j < kGroups; ++j) sc[j] = static_cast<uint8_t>(ls[j] | (lm[j] << 4));
}

// `qw`: the importance matrix's weights for these `n` values, or null.
void quantize_q2_K_blocks(bool fast, const float* x, std::byte* out, size_t n, const float* qw) {
  constexpr size_t kGroup = 16, kGroups = kQK / kGroup;
  const kq::AffineSearch plain_search{-0.5f, 0.1f, 15, true};
  for (size_t b = 0; b < n / kQK; ++b, x += kQK, out += kQ2_KBlockBytes) {
    uint8_t L[kQK];
    float weights[kQK];
    if (qw) {
      const float sigma2 = block::sum_squares(x, kQK) / kQK;
      block::importance_weights(x, qw + b * kQK, sigma2, kQK, weights);
    } else {
      for (size_t i = 0; i < kQK; ++i) weights[i] = std::fabs(x[i]);
    }
    float scales[kGroups], mins[kGroups];
    kq::affine_scale_search_groups(fast, kGroups, kGroup, 3, x, weights, L, scales, mins,
                                   qw ? kq::kWeightedAffineSearch : plain_search);
    uint8_t sc[kGroups];
    if (qw) {
      float sw[kGroups];
      group_sums(weights, kGroup, sw);
      q2_levels_weighted(scales, mins, sw, out, sc);
    } else {
      q2_levels_plain(scales, mins, out, sc);
    }
    std::memcpy(out + q2::kScales, sc, kGroups);

    const float d_all = load_f16(out + q2::kD), dmin_all = load_f16(out + q2::kDmin);
    for (size_t j = 0; j < kGroups; ++j) {
      const float d = d_all * (sc[j] & 0xf);
      if (d == 0) continue;
      const float dm = dmin_all * (sc[j] >> 4);
      for (size_t l = 0; l < kGroup; ++l)
        L[kGroup * j + l] =
            static_cast<uint8_t>(std::clamp(nearest_int((x[kGroup * j + l] + dm) / d), 0, 3));
    }
    pack_2bit(L, out + q2::kQs);
  }
}

}  // namespace

void quantize_q2_K(const float* x, std::byte* out, size_t n) {
  quantize_q2_K_blocks(kq::x86::has_avx2(), x, out, n, nullptr);
}

void quantize_q2_K_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  quantize_q2_K_blocks(kq::x86::has_avx2(), x, out, n, weights);
}

void dequantize_q2_K(const std::byte* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, in += kQ2_KBlockBytes, y += kQK) {
    const float d = load_f16(in + q2::kD), min = load_f16(in + q2::kDmin);
    // Weight e = 128 g + 32 k + l: bits 2k of qs[32 g + l], group e / 16.
    for (size_t g = 0; g < 2; ++g) {
      const std::byte* qs = in + q2::kQs + 32 * g;
      for (size_t k = 0; k < 4; ++k) {
        for (size_t half = 0; half < 2; ++half) {
          const uint8_t sc = u8(in + q2::kScales, 8 * g + 2 * k + half);
          const float dl = d * (sc & 0xf), ml = min * (sc >> 4);
          float* out = y + 128 * g + 32 * k + 16 * half;
          for (size_t l = 0; l < 16; ++l)
            out[l] = dl * static_cast<float>((u8(qs, 16 * half + l) >> (2 * k)) & 3) - ml;
        }
      }
    }
  }
}

// --- Q3_K ---

namespace {

// Sixteen 6-bit scale levels (0..63, 32 meaning 0) into Q3_K's 12 bytes; unpack_scale_q3 reads
// them.
void pack_scales_q3(const int* levels, std::byte* out) {
  uint8_t packed[12] = {};
  for (size_t j = 0; j < 16; ++j) {
    const int l = levels[j];
    if (j < 8) {
      packed[j] = static_cast<uint8_t>(l & 0xf);
    } else {
      packed[j - 8] = static_cast<uint8_t>(packed[j - 8] | ((l & 0xf) << 4));
    }
    packed[8 + j % 4] = static_cast<uint8_t>(packed[8 + j % 4] | ((l >> 4) << (2 * (j / 4))));
  }
  std::memcpy(out, packed, 12);
}

// Q3_K's group scales without an importance matrix: each group's own 3-bit search, the levels
// against the scale of largest magnitude.
void q3_scales_plain(const float* x, std::byte* out, int8_t* L) {
  constexpr size_t kGroup = 16, kGroups = kQK / kGroup;
  float scales[kGroups];
  float max_scale = 0, amax = 0;
  for (size_t j = 0; j < kGroups; ++j) {
    scales[j] = kq::q3_scale_search(kGroup, 4, x + kGroup * j, L + kGroup * j);
    const float scale = std::fabs(scales[j]);
    if (scale > amax) {
      amax = scale;
      max_scale = scales[j];
    }
  }
  int levels[kGroups] = {};
  if (max_scale != 0) {
    const float iscale = -32.f / max_scale;
    for (size_t j = 0; j < kGroups; ++j) {
      const int8_t rounded = static_cast<int8_t>(nearest_int(iscale * scales[j]));
      levels[j] = std::max(-32, std::min(31, int{rounded})) + 32;
    }
    pack_scales_q3(levels, out + q3::kScales);
    store_f16(out + q3::kD, 1 / iscale);
  } else {
    std::memset(out + q3::kScales, 0, 12);
    store_f16(out + q3::kD, 0.f);
  }
}

// With an importance matrix: each group's symmetric search weighted by importance, then the
// levels from a search over the scales weighted by the groups' total importance.
void q3_scales_weighted(bool fast, const float* x, const float* qw, std::byte* out, int8_t* L) {
  constexpr size_t kGroup = 16, kGroups = kQK / kGroup;
  float weights[kQK];
  const float sigma2 = 2 * block::sum_squares(x, kQK) / kQK;
  block::importance_weights(x, qw, sigma2, kQK, weights);
  float scales[kGroups], sw[kGroups];
  group_sums(weights, kGroup, sw);
  kq::symmetric_scale_search_groups(fast, kGroups, kGroup, 4, x, weights, L, scales);
  int8_t ls[kGroups];
  const float d = kq::symmetric_scale_search(kGroups, 32, scales, sw, ls);
  int levels[kGroups];
  for (size_t j = 0; j < kGroups; ++j) levels[j] = ls[j];
  pack_scales_q3(levels, out + q3::kScales);
  store_f16(out + q3::kD, d);
}

void quantize_q3_K_blocks(bool fast, const float* x, std::byte* out, size_t n, const float* qw) {
  constexpr size_t kGroup = 16, kGroups = kQK / kGroup;
  for (size_t b = 0; b < n / kQK; ++b, x += kQK, out += kQ3_KBlockBytes) {
    int8_t L[kQK];
    if (qw) {
      q3_scales_weighted(fast, x, qw + b * kQK, out, L);
    } else {
      q3_scales_plain(x, out, L);
    }

    const float d_all = load_f16(out + q3::kD);
    for (size_t j = 0; j < kGroups; ++j) {
      const float d = d_all * static_cast<float>(unpack_scale_q3(out + q3::kScales, j) - 32);
      if (d == 0) continue;
      for (size_t l = 0; l < kGroup; ++l)
        L[kGroup * j + l] =
            static_cast<int8_t>(std::clamp(nearest_int(x[kGroup * j + l] / d), -4, 3) + 4);
    }

    // Quants 0..7: the high bit of weight e goes to bit e / 32 of hmask byte e % 32, the low two
    // bits into the 2-bit array.
    uint8_t hmask[32] = {};
    uint8_t low[kQK];
    for (size_t e = 0; e < kQK; ++e) {
      if (L[e] > 3) hmask[e % 32] = static_cast<uint8_t>(hmask[e % 32] | (1u << (e / 32)));
      low[e] = static_cast<uint8_t>(L[e] > 3 ? L[e] - 4 : L[e]);
    }
    std::memcpy(out + q3::kHmask, hmask, 32);
    pack_2bit(low, out + q3::kQs);
  }
}

}  // namespace

void quantize_q3_K(const float* x, std::byte* out, size_t n) {
  quantize_q3_K_blocks(false, x, out, n, nullptr);
}

void quantize_q3_K_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  quantize_q3_K_blocks(kq::x86::has_avx2(), x, out, n, weights);
}

void dequantize_q3_K(const std::byte* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, in += kQ3_KBlockBytes, y += kQK) {
    const float d_all = load_f16(in + q3::kD);
    // Weight e = 128 g + 32 k + l: low bits 2k of qs[32 g + l], high bit 4 g + k of hmask[l].
    for (size_t g = 0; g < 2; ++g) {
      const std::byte* qs = in + q3::kQs + 32 * g;
      for (size_t k = 0; k < 4; ++k) {
        for (size_t half = 0; half < 2; ++half) {
          const size_t group = 8 * g + 2 * k + half;
          const float dl =
              d_all * static_cast<float>(unpack_scale_q3(in + q3::kScales, group) - 32);
          float* out = y + 128 * g + 32 * k + 16 * half;
          for (size_t l = 0; l < 16; ++l) {
            const size_t i = 16 * half + l;
            const int low = (u8(qs, i) >> (2 * k)) & 3;
            const bool high = (u8(in + q3::kHmask, i) >> (4 * g + k)) & 1;
            out[l] = dl * static_cast<float>(low - (high ? 0 : 4));
          }
        }
      }
    }
  }
}

// --- Q4_K ---

namespace {

void quantize_q4_K_blocks(bool fast, const float* x, std::byte* out, size_t n, const float* qw) {
  const kq::AffineSearch search{-1.f, 0.1f, 20, false};
  for (size_t b = 0; b < n / kQK; ++b, x += kQK, out += kQ4_KBlockBytes) {
    uint8_t L[kQK];
    quantize_affine_superblock(fast, x, qw ? qw + b * kQK : nullptr, 15, search, false,
                               out + q4::kD, out + q4::kScales, L);
    std::byte* qs = out + q4::kQs;
    for (size_t g = 0; g < kQK; g += 64) {
      for (size_t l = 0; l < 32; ++l)
        qs[g / 2 + l] = static_cast<std::byte>(L[g + l] | (L[g + l + 32] << 4));
    }
  }
}

}  // namespace

void quantize_q4_K(const float* x, std::byte* out, size_t n) {
  quantize_q4_K_blocks(kq::x86::has_avx2(), x, out, n, nullptr);
}

void quantize_q4_K_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  quantize_q4_K_blocks(kq::x86::has_avx2(), x, out, n, weights);
}

void dequantize_q4_K(const std::byte* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, in += kQ4_KBlockBytes, y += kQK)
    dequantize_affine_superblock(in + q4::kD, in + q4::kScales, in + q4::kQs, nullptr, y);
}

// --- Q5_K ---

namespace {

void quantize_q5_K_blocks(bool fast, const float* x, std::byte* out, size_t n, const float* qw) {
  const kq::AffineSearch search{-0.5f, 0.1f, 15, false};
  for (size_t b = 0; b < n / kQK; ++b, x += kQK, out += kQ5_KBlockBytes) {
    uint8_t L[kQK];
    quantize_affine_superblock(fast, x, qw ? qw + b * kQK : nullptr, 31, search, true, out + q5::kD,
                               out + q5::kScales, L);
    // The low nibbles are laid out as Q4_K's; the fifth bit of weight e is bit e / 32 of qh[e %
    // 32].
    uint8_t qh[32] = {};
    std::byte* qs = out + q5::kQs;
    for (size_t g = 0; g < kQK; g += 64) {
      for (size_t l = 0; l < 32; ++l)
        qs[g / 2 + l] = static_cast<std::byte>((L[g + l] & 0xf) | ((L[g + l + 32] & 0xf) << 4));
    }
    for (size_t e = 0; e < kQK; ++e) {
      if (L[e] > 15) qh[e % 32] = static_cast<uint8_t>(qh[e % 32] | (1u << (e / 32)));
    }
    std::memcpy(out + q5::kQh, qh, 32);
  }
}

}  // namespace

void quantize_q5_K(const float* x, std::byte* out, size_t n) {
  quantize_q5_K_blocks(kq::x86::has_avx2(), x, out, n, nullptr);
}

void quantize_q5_K_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  quantize_q5_K_blocks(kq::x86::has_avx2(), x, out, n, weights);
}

void dequantize_q5_K(const std::byte* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, in += kQ5_KBlockBytes, y += kQK)
    dequantize_affine_superblock(in + q5::kD, in + q5::kScales, in + q5::kQs, in + q5::kQh, y);
}

// --- Q6_K ---

namespace {

// With an importance matrix (`qw`) each group's search weighs by it directly (ggml's Q6_K does
// not scale it by the weights' size, as the other k-quants do).
void quantize_q6_K_blocks(bool fast, const float* x, std::byte* out, size_t n, const float* qw) {
  constexpr size_t kGroup = 16, kGroups = kQK / kGroup;
  for (size_t b = 0; b < n / kQK; ++b, x += kQK, out += kQ6_KBlockBytes) {
    int8_t L[kQK];
    float scales[kGroups];
    kq::symmetric_scale_search_groups(fast, kGroups, kGroup, 32, x, qw ? qw + b * kQK : nullptr, L,
                                      scales);
    float max_scale = 0, max_abs_scale = 0;
    for (size_t j = 0; j < kGroups; ++j) {
      const float abs_scale = std::fabs(scales[j]);
      if (abs_scale > max_abs_scale) {
        max_abs_scale = abs_scale;
        max_scale = scales[j];
      }
    }
    if (max_abs_scale < kq::kGroupMaxEps) {
      std::memset(out, 0, kQ6_KBlockBytes);
      continue;
    }
    const float iscale = -128.f / max_scale;
    store_f16(out + q6::kD, 1 / iscale);
    int8_t sc[kGroups];
    for (size_t j = 0; j < kGroups; ++j)
      sc[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[j])));
    std::memcpy(out + q6::kScales, sc, kGroups);

    const float d_all = load_f16(out + q6::kD);
    for (size_t j = 0; j < kGroups; ++j) {
      const float d = d_all * static_cast<float>(sc[j]);
      if (d == 0) continue;
      for (size_t l = 0; l < kGroup; ++l)
        L[kGroup * j + l] =
            static_cast<int8_t>(std::clamp(nearest_int(x[kGroup * j + l] / d), -32, 31) + 32);
    }

    // Per 128 weights, quarter k (weights 32k..32k+31): low nibbles in ql, the low half of
    // quarters 0/1 and the high half for 2/3; top two bits at bit 2k of qh.
    std::byte* ql = out + q6::kQl;
    std::byte* qh = out + q6::kQh;
    for (size_t g = 0; g < kQK; g += 128, ql += 64, qh += 32) {
      for (size_t l = 0; l < 32; ++l) {
        const auto q = [&](size_t k) { return static_cast<uint8_t>(L[g + 32 * k + l]); };
        ql[l] = static_cast<std::byte>((q(0) & 0xf) | ((q(2) & 0xf) << 4));
        ql[l + 32] = static_cast<std::byte>((q(1) & 0xf) | ((q(3) & 0xf) << 4));
        qh[l] = static_cast<std::byte>((q(0) >> 4) | ((q(1) >> 4) << 2) | ((q(2) >> 4) << 4) |
                                       ((q(3) >> 4) << 6));
      }
    }
  }
}

}  // namespace

void quantize_q6_K(const float* x, std::byte* out, size_t n) {
  quantize_q6_K_blocks(kq::x86::has_avx2(), x, out, n, nullptr);
}

void quantize_q6_K_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  quantize_q6_K_blocks(kq::x86::has_avx2(), x, out, n, weights);
}

void dequantize_q6_K(const std::byte* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, in += kQ6_KBlockBytes, y += kQK) {
    const float d = load_f16(in + q6::kD);
    // Weight e = 128 g + 32 k + l, the packing quantize_q6_K describes; its group is e / 16.
    for (size_t g = 0; g < 2; ++g) {
      for (size_t k = 0; k < 4; ++k) {
        const std::byte* ql = in + q6::kQl + 64 * g + 32 * (k & 1);
        const std::byte* qh = in + q6::kQh + 32 * g;
        const int low_shift = k < 2 ? 0 : 4;
        for (size_t half = 0; half < 2; ++half) {
          const size_t first = 128 * g + 32 * k + 16 * half;
          const float scaled = d * static_cast<float>(block::i8(in + q6::kScales, first / 16));
          for (size_t l = 16 * half; l < 16 * half + 16; ++l) {
            const int low = (u8(ql, l) >> low_shift) & 0xf;
            const int high = (u8(qh, l) >> (2 * k)) & 3;
            y[128 * g + 32 * k + l] = scaled * static_cast<float>((low | (high << 4)) - 32);
          }
        }
      }
    }
  }
}

// --- Q8_K ---

void quantize_q8_K(const float* x, std::byte* out, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, x += kQK, out += kQ8_KBlockBytes) {
    float max = 0, amax = 0;
    for (size_t j = 0; j < kQK; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    // ggml leaves the group sums of an all-zero block unwritten; owl writes their true value, 0.
    std::memset(out, 0, kQ8_KBlockBytes);
    if (amax == 0) continue;
    const float iscale = -127.f / max;
    int8_t q[kQK];
    for (size_t j = 0; j < kQK; ++j)
      q[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[j])));
    int16_t sums[kQK / 16];
    for (size_t g = 0; g < kQK / 16; ++g) {
      int sum = 0;
      for (size_t l = 0; l < 16; ++l) sum += q[16 * g + l];
      sums[g] = static_cast<int16_t>(sum);
    }
    const float d = 1 / iscale;
    std::memcpy(out + q8::kD, &d, 4);
    std::memcpy(out + q8::kQs, q, kQK);
    std::memcpy(out + q8::kBsums, sums, sizeof sums);
  }
}

void dequantize_q8_K(const std::byte* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, in += kQ8_KBlockBytes, y += kQK) {
    float d;
    std::memcpy(&d, in + q8::kD, 4);
    for (size_t j = 0; j < kQK; ++j) y[j] = d * static_cast<float>(block::i8(in + q8::kQs, j));
  }
}

// --- The scalar references ---

namespace scalar {

void quantize_q2_K(const float* x, std::byte* out, size_t n) {
  quantize_q2_K_blocks(false, x, out, n, nullptr);
}
void quantize_q4_K(const float* x, std::byte* out, size_t n) {
  quantize_q4_K_blocks(false, x, out, n, nullptr);
}
void quantize_q5_K(const float* x, std::byte* out, size_t n) {
  quantize_q5_K_blocks(false, x, out, n, nullptr);
}
void quantize_q6_K(const float* x, std::byte* out, size_t n) {
  quantize_q6_K_blocks(false, x, out, n, nullptr);
}
void quantize_q2_K_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  quantize_q2_K_blocks(false, x, out, n, weights);
}
void quantize_q3_K_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  quantize_q3_K_blocks(false, x, out, n, weights);
}
void quantize_q4_K_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  quantize_q4_K_blocks(false, x, out, n, weights);
}
void quantize_q5_K_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  quantize_q5_K_blocks(false, x, out, n, weights);
}
void quantize_q6_K_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  quantize_q6_K_blocks(false, x, out, n, weights);
}

}  // namespace scalar

}  // namespace owl
