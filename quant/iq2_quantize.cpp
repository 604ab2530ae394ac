// ggml's 2-bit grid quantizers (`quantize_iq2_xxs`, `quantize_iq2_xs`, `quantize_iq2_s`): per
// group of 8 weights, signs apart and magnitudes as a point of an E8-lattice codebook, under a
// 4-bit scale per 32 (IQ2_XXS) or 16 weights and an f16 scale per 256.
#include <cmath>
#include <cstring>

#include "quant/block_math.h"
#include "quant/iq_grid_fit.h"
#include "quant/iquants.h"
#include "quant/kquants_search.h"
#include "quant/kquants_search_x86.h"

namespace owl {

using block::store_f16;
using iq::kSuperBlock;

namespace {

constexpr int kLevels = 3;            // ggml's kMaxQ for these types
constexpr float kMaxEps = 1e-15f;     // ggml's GROUP_MAX_EPS
constexpr float kMaxEpsIQ2S = 1e-8f;  // ggml's GROUP_MAX_EPS_IQ2_S

void square_roots(int n, const float* x, float* y) {
  for (int i = 0; i < n; ++i) y[i] = std::sqrt(x[i]);
}

// Where a scale comes out negative, the signs flip instead (the stored scales are unsigned).
float unsign(float scale, int groups, uint8_t* signs, uint8_t mask) {
  if (!(scale < 0)) return scale;
  for (int k = 0; k < groups; ++k) signs[k] = static_cast<uint8_t>(~signs[k] & mask);
  return -scale;
}

void iq2_xxs_block(bool avx2, const float* x, const float* imatrix, std::byte* out) {
  constexpr int kGroup = 32;
  constexpr size_t kGroups = kSuperBlock / kGroup;
  const iq::SearchGrid& g = iq::search_grid(iq::GridId::IQ2XXS);
  uint32_t q2[2 * kGroups] = {};  // per group: 4 index bytes, then 4 x 7 sign bits and the scale
  float scales[kGroups];
  float max_scale = 0;
  const float sigma2 = iq::scaled_mean_square(x, 1);
  for (size_t ib = 0; ib < kGroups; ++ib) {
    const float* xb = x + kGroup * ib;
    float weight[kGroup], waux[kGroup], xval[kGroup];
    uint8_t signs[4];
    iq::importance(kGroup, xb, imatrix + kGroup * ib, sigma2, weight);
    square_roots(kGroup, weight, waux);
    for (int k = 0; k < 4; ++k)
      signs[k] = iq::fold_signs(xb + 8 * k, weight + 8 * k, true, xval + 8 * k) & 127;
    scales[ib] = 0;
    if (iq::max_value(kGroup, xval) < kMaxEps) continue;
    // The trials centre on the scale of ggml's k-quant search, not on the largest value.
    uint8_t start_L[kGroup];
    const float start = kq::nonnegative_scale_search(kGroup, kLevels + 1, xval, weight, start_L);
    const float eff_max = start * kLevels;
    if (eff_max <= 0) continue;
    int8_t L[kGroup];
    float scale = iq::fit_grid_scale(avx2, g, kGroup, xval, weight, waux, eff_max, start,
                                     {-6, 6, 0.1f, iq::Refit::AllGroups, true}, L);
    scale = unsign(scale, 4, signs, 127);
    for (int k = 0; k < 4; ++k) {
      q2[2 * ib] |= static_cast<uint32_t>(iq::point_index(g, L + 8 * k)) << (8 * k);
      q2[2 * ib + 1] |= static_cast<uint32_t>(signs[k]) << (7 * k);
    }
    scales[ib] = scale;
    max_scale = max_scale > scale ? max_scale : scale;
  }
  store_f16(out, 0.f);
  std::memset(out + 2, 0, sizeof q2);
  if (!max_scale) return;
  const float d = max_scale / 31;
  store_f16(out, d);
  const float id = 1 / d;
  for (size_t ib = 0; ib < kGroups; ++ib)
    q2[2 * ib + 1] |= static_cast<uint32_t>(iq::scale_code(id, scales[ib], 15)) << 28;
  std::memcpy(out + 2, q2, sizeof q2);
}

// IQ2_XS and IQ2_S share the search over groups of 16; they differ in the weights, the signs
// (IQ2_XS stores 7 bits a point and keeps the minus count even) and the layout.
struct Sixteen {
  float max_eps;
  bool even_signs;
};

// One group of 16: false for one of zeros, else writes its scale and the two points' indices
// and sign bytes.
bool iq2_sixteen(bool avx2, const iq::SearchGrid& g, const Sixteen& kind, const float* xb,
                 const float* imatrix, float sigma2, float& scale, int* index, uint8_t* signs) {
  constexpr int kGroup = 16;
  float weight[kGroup], waux[kGroup], xval[kGroup];
  if (imatrix) {
    iq::importance(kGroup, xb, imatrix, sigma2, weight);
  } else {
    for (int i = 0; i < kGroup; ++i) weight[i] = 0.25f * sigma2 + xb[i] * xb[i];
  }
  square_roots(kGroup, weight, waux);
  const uint8_t mask = kind.even_signs ? 127 : 255;
  for (int k = 0; k < 2; ++k)
    signs[k] = iq::fold_signs(xb + 8 * k, weight + 8 * k, kind.even_signs, xval + 8 * k) & mask;
  const float max = iq::max_value(kGroup, xval);
  if (max < kind.max_eps) return false;
  int8_t L[kGroup];
  scale = iq::fit_grid_scale(avx2, g, kGroup, xval, weight, waux, max, max / (2 * kLevels - 1),
                             {-9, 9, 0.1f, iq::Refit::OffGridGroups, true}, L);
  scale = unsign(scale, 2, signs, mask);
  for (int k = 0; k < 2; ++k) index[k] = iq::point_index(g, L + 8 * k);
  return true;
}

void iq2_xs_block(bool avx2, const float* x, const float* imatrix, std::byte* out) {
  constexpr size_t kGroups = kSuperBlock / 16;
  const iq::SearchGrid& g = iq::search_grid(iq::GridId::IQ2XS);
  uint16_t q2[2 * kGroups] = {};  // per point: 9-bit index, 7 sign bits
  float scales[kGroups];
  float max_scale = 0;
  const float sigma2 = iq::scaled_mean_square(x, 1);
  for (size_t ib = 0; ib < kGroups; ++ib) {
    int index[2];
    uint8_t signs[2];
    scales[ib] = 0;
    if (!iq2_sixteen(avx2, g, {kMaxEps, true}, x + 16 * ib, imatrix + 16 * ib, sigma2, scales[ib],
                     index, signs))
      continue;
    for (int k = 0; k < 2; ++k) q2[2 * ib + k] = static_cast<uint16_t>(index[k] | (signs[k] << 9));
    max_scale = max_scale > scales[ib] ? max_scale : scales[ib];
  }
  std::byte* qs = out + 2;
  std::byte* packed_scales = qs + sizeof q2;
  store_f16(out, 0.f);
  std::memset(qs, 0, sizeof q2 + kGroups / 2);
  if (!max_scale) return;
  const float d = max_scale / 31;
  store_f16(out, d);
  iq::pack_scale_pairs(1 / d, scales, kGroups, packed_scales);
  std::memcpy(qs, q2, sizeof q2);
}

void iq2_s_block(bool avx2, const float* x, const float* imatrix, std::byte* out) {
  constexpr size_t kGroups = kSuperBlock / 16;
  constexpr size_t kPoints = kSuperBlock / 8;
  const iq::SearchGrid& g = iq::search_grid(iq::GridId::IQ2S);
  std::memset(out, 0, kIQ2_SBlockBytes);
  std::byte* qs = out + 2;           // low index bytes, then sign bytes
  std::byte* qh = qs + 2 * kPoints;  // 2 high index bits a point
  std::byte* packed_scales = qh + kPoints / 4;
  float scales[kGroups];
  float max_scale = 0;
  const float sigma2 = iq::scaled_mean_square(x, 2);
  for (size_t ib = 0; ib < kGroups; ++ib) {
    int index[2];
    uint8_t signs[2];
    scales[ib] = 0;
    if (!iq2_sixteen(avx2, g, {kMaxEpsIQ2S, false}, x + 16 * ib,
                     imatrix ? imatrix + 16 * ib : nullptr, sigma2, scales[ib], index, signs))
      continue;
    for (size_t k = 0; k < 2; ++k) {
      const size_t p = 2 * ib + k;
      qs[p] = static_cast<std::byte>(index[k] & 255);
      qh[p / 4] |= static_cast<std::byte>((index[k] >> 8) << (2 * (p % 4)));
      qs[kPoints + p] = static_cast<std::byte>(signs[k]);
    }
    max_scale = max_scale > scales[ib] ? max_scale : scales[ib];
  }
  if (!max_scale) return;
  const float d = max_scale / 31;
  store_f16(out, d * 0.9875f);
  iq::pack_scale_pairs(1 / d, scales, kGroups, packed_scales);
}

}  // namespace

void quantize_iq2_xxs_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  iq::each_super_block<kIQ2_XXSBlockBytes>(kq::x86::has_avx2(), x, out, n, weights, iq2_xxs_block);
}

void quantize_iq2_xs_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  iq::each_super_block<kIQ2_XSBlockBytes>(kq::x86::has_avx2(), x, out, n, weights, iq2_xs_block);
}

void quantize_iq2_s(const float* x, std::byte* out, size_t n) {
  iq::each_super_block<kIQ2_SBlockBytes>(kq::x86::has_avx2(), x, out, n, nullptr, iq2_s_block);
}

void quantize_iq2_s_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  iq::each_super_block<kIQ2_SBlockBytes>(kq::x86::has_avx2(), x, out, n, weights, iq2_s_block);
}

namespace scalar {

void quantize_iq2_xxs_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  iq::each_super_block<kIQ2_XXSBlockBytes>(false, x, out, n, weights, iq2_xxs_block);
}

void quantize_iq2_xs_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  iq::each_super_block<kIQ2_XSBlockBytes>(false, x, out, n, weights, iq2_xs_block);
}

void quantize_iq2_s(const float* x, std::byte* out, size_t n) {
  iq::each_super_block<kIQ2_SBlockBytes>(false, x, out, n, nullptr, iq2_s_block);
}

void quantize_iq2_s_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  iq::each_super_block<kIQ2_SBlockBytes>(false, x, out, n, weights, iq2_s_block);
}

}  // namespace scalar

}  // namespace owl
