// ggml's 3-bit grid quantizers (`quantize_iq3_xxs`, `quantize_iq3_s`): per group of 8 weights,
// signs apart and magnitudes as two points of a 4-coordinate codebook (256 points for IQ3_XXS,
// 512 for IQ3_S), under a 4-bit scale per 32 weights and an f16 scale per 256.
#include <cmath>
#include <cstring>

#include "quant/block_math.h"
#include "quant/iq_grid_fit.h"
#include "quant/iquants.h"
#include "quant/kquants_search_x86.h"

namespace owl {

using block::store_f16;
using iq::kSuperBlock;

namespace {

constexpr int kGroup = 32;
constexpr int kLevels = 8;  // ggml's kMaxQ for these types
constexpr size_t kGroups = kSuperBlock / kGroup;

// A group of 32 ready for the scale search: importance, its square root, magnitudes, signs.
struct Group {
  float weight[kGroup];
  float waux[kGroup];
  float xval[kGroup];
  uint8_t signs[kGroup / 8];
  float max;
};

// ggml weighs the values by their squares where it has no importance matrix.
void prepare(const float* xb, const float* imatrix, float sigma2, bool even_signs, Group& g) {
  if (imatrix) {
    iq::importance(kGroup, xb, imatrix, sigma2, g.weight);
  } else {
    for (int i = 0; i < kGroup; ++i) g.weight[i] = xb[i] * xb[i];
  }
  for (int i = 0; i < kGroup; ++i) g.waux[i] = std::sqrt(g.weight[i]);
  const uint8_t mask = even_signs ? 127 : 255;
  for (int k = 0; k < kGroup / 8; ++k)
    g.signs[k] = iq::fold_signs(xb + 8 * k, g.weight + 8 * k, even_signs, g.xval + 8 * k) & mask;
  g.max = iq::max_value(kGroup, g.xval);
}

// The fitted scale, made non-negative by flipping the signs (stored scales are unsigned).
float fit(bool avx2, const iq::SearchGrid& grid, Group& g, const iq::ScaleTrials& trials,
          uint8_t mask, int8_t* L) {
  float scale = iq::fit_grid_scale(avx2, grid, kGroup, g.xval, g.weight, g.waux, g.max,
                                   g.max / (2 * kLevels - 1), trials, L);
  if (scale < 0) {
    scale = -scale;
    for (uint8_t& s : g.signs) s = static_cast<uint8_t>(~s & mask);
  }
  return scale;
}

void iq3_xxs_block(bool avx2, const float* x, const float* imatrix, std::byte* out) {
  constexpr float kMaxEps = 1e-8f;  // ggml's GROUP_MAX_EPS_IQ3_XXS
  const iq::SearchGrid& grid = iq::search_grid(iq::GridId::IQ3XXS);
  uint8_t indices[kSuperBlock / 4] = {};
  uint32_t scales_signs[kGroups] = {};
  float scales[kGroups];
  float max_scale = 0;
  const float sigma2 = iq::scaled_mean_square(x, 2);
  for (size_t ib = 0; ib < kGroups; ++ib) {
    Group g;
    prepare(x + kGroup * ib, imatrix ? imatrix + kGroup * ib : nullptr, sigma2, true, g);
    scales[ib] = 0;
    if (g.max < kMaxEps) continue;
    int8_t L[kGroup];
    const float scale = fit(avx2, grid, g, {-15, 15, 0.2f, iq::Refit::OffGridGroups, true}, 127, L);
    for (int k = 0; k < kGroup / 4; ++k)
      indices[8 * ib + k] = static_cast<uint8_t>(iq::point_index(grid, L + 4 * k));
    scales_signs[ib] = g.signs[0] | (g.signs[1] << 7) | (g.signs[2] << 14) | (g.signs[3] << 21);
    scales[ib] = scale;
    max_scale = max_scale > scale ? max_scale : scale;
  }
  store_f16(out, 0.f);
  std::memset(out + 2, 0, sizeof indices + sizeof scales_signs);
  if (!max_scale) return;
  const float d = max_scale / 31;
  store_f16(out, d * 1.0125f);
  const float id = 1 / d;
  for (size_t ib = 0; ib < kGroups; ++ib)
    scales_signs[ib] |= static_cast<uint32_t>(iq::scale_code(id, scales[ib], 15)) << 28;
  std::memcpy(out + 2, indices, sizeof indices);
  std::memcpy(out + 2 + sizeof indices, scales_signs, sizeof scales_signs);
}

// ggml moves on through the index and sign bytes only after a group that is not all zeros, so
// a zero group's bytes go to the next group and the row's last bytes stay zero. owl writes the
// same bytes (they decode to other values than the input, as ggml's do).
void iq3_s_block(bool avx2, const float* x, const float* imatrix, std::byte* out) {
  const iq::SearchGrid& grid = iq::search_grid(iq::GridId::IQ3S);
  std::memset(out, 0, kIQ3_SBlockBytes);
  std::byte* qs = out + 2;
  std::byte* qh = out + 66;
  std::byte* signs = out + 74;
  std::byte* packed_scales = out + 106;
  float scales[kGroups];
  float max_scale = 0;
  const float sigma2 = iq::scaled_mean_square(x, 2);
  for (size_t ib = 0; ib < kGroups; ++ib) {
    Group g;
    prepare(x + kGroup * ib, imatrix ? imatrix + kGroup * ib : nullptr, sigma2, false, g);
    scales[ib] = 0;
    if (!g.max) continue;
    int8_t L[kGroup];
    const float scale =
        fit(avx2, grid, g, {-9, 9, 0.2f, iq::Refit::AllIfAnyWasOffGrid, false}, 255, L);
    for (size_t k = 0; k < kGroup / 4; ++k) {
      const int index = iq::point_index(grid, L + 4 * k);
      qs[k] = static_cast<std::byte>(index & 255);
      qh[ib] |= static_cast<std::byte>((index >> 8) << k);
    }
    qs += kGroup / 4;
    for (size_t k = 0; k < kGroup / 8; ++k) signs[k] = static_cast<std::byte>(g.signs[k]);
    signs += kGroup / 8;
    scales[ib] = scale;
    max_scale = max_scale > scale ? max_scale : scale;
  }
  if (!max_scale) return;
  const float d = max_scale / 31;
  store_f16(out, d * 1.033f);
  iq::pack_scale_pairs(1 / d, scales, kGroups, packed_scales);
}

}  // namespace

void quantize_iq3_xxs(const float* x, std::byte* out, size_t n) {
  iq::each_super_block<kIQ3_XXSBlockBytes>(kq::x86::has_avx2(), x, out, n, nullptr, iq3_xxs_block);
}

void quantize_iq3_xxs_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  iq::each_super_block<kIQ3_XXSBlockBytes>(kq::x86::has_avx2(), x, out, n, weights, iq3_xxs_block);
}

void quantize_iq3_s(const float* x, std::byte* out, size_t n) {
  iq::each_super_block<kIQ3_SBlockBytes>(kq::x86::has_avx2(), x, out, n, nullptr, iq3_s_block);
}

void quantize_iq3_s_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  iq::each_super_block<kIQ3_SBlockBytes>(kq::x86::has_avx2(), x, out, n, weights, iq3_s_block);
}

namespace scalar {

void quantize_iq3_xxs(const float* x, std::byte* out, size_t n) {
  iq::each_super_block<kIQ3_XXSBlockBytes>(false, x, out, n, nullptr, iq3_xxs_block);
}

void quantize_iq3_xxs_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  iq::each_super_block<kIQ3_XXSBlockBytes>(false, x, out, n, weights, iq3_xxs_block);
}

void quantize_iq3_s(const float* x, std::byte* out, size_t n) {
  iq::each_super_block<kIQ3_SBlockBytes>(false, x, out, n, nullptr, iq3_s_block);
}

void quantize_iq3_s_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  iq::each_super_block<kIQ3_SBlockBytes>(false, x, out, n, weights, iq3_s_block);
}

}  // namespace scalar

}  // namespace owl
