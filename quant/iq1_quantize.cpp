// ggml's 1.5- and 1.75-bit quantizers (`quantize_iq1_s`, `quantize_iq1_m`): each value is one of
// -1, 0, +1 shifted by +-1/8, groups of 8 such values are points of a 2048-point codebook, under
// a 3-bit scale per 32 (IQ1_S) or 16 (IQ1_M) values and an f16 scale per 256. With 3 values a
// weight, the best split of a sorted sub-block into (-1, 0, +1) is found exhaustively.
#include <cfloat>
#include <cmath>
#include <cstring>

#include "quant/block_math.h"
#include "quant/iq1_split.h"
#include "quant/iq1_split_x86.h"
#include "quant/iq_grid_fit.h"
#include "quant/iquants.h"
#include "quant/kquants_search_x86.h"

namespace owl {

using block::store_f16;
using iq::kSuperBlock;

using iq1::half_values;
using iq1::kShiftDown;
using iq1::kShiftUp;
using iq1::SplitM;
using iq1::SplitS;

namespace {

// The positions of x in ascending order, ties in position order: ggml sorts with qsort, which
// glibc implements as a merge sort, stable.
template <int N>
void ascending_order(const float* x, int* order) {
  for (int j = 0; j < N; ++j) {
    int i = j;
    for (; i > 0 && x[j] < x[order[i - 1]]; --i) order[i] = order[i - 1];
    order[i] = j;
  }
}

// Writes each value's level (0, 1, 2 for -1, 0, +1) from a split of the sorted order: the first
// `i1` are -1, up to `i2` 0, the rest +1.
template <int N>
void split_levels(const int* order, int i1, int i2, int8_t* L) {
  for (int j = 0; j < N; ++j) L[order[j]] = static_cast<int8_t>(j < i1 ? 0 : j < i2 ? 1 : 2);
}

// The point of each group of 8 levels, its nearest neighbour where the levels are none. Returns
// whether all were on the grid.
bool points_of(bool avx2, const iq::SearchGrid& g, int groups, const float* x, const float* w,
               float scale, const float* const* shifted, int8_t* L, int* index) {
  bool all_on_grid = true;
  for (int k = 0; k < groups; ++k) {
    const uint32_t u = g.code(L + 8 * k);
    index[k] = g.index_of(u);
    if (index[k] < 0) {
      all_on_grid = false;
      index[k] =
          iq::nearest_neighbour(avx2, g, u, x + 8 * k, w + 8 * k, scale, shifted[k], L + 8 * k);
    }
  }
  return all_on_grid;
}

// The least-squares scale of the chosen points, or `scale` where the fit is not positive.
float refit(const iq::SearchGrid& g, int groups, const float* x, const float* w,
            const float* const* shifted, const int* index, float scale) {
  float sumqx = 0, sumq2 = 0;
  for (int k = 0; k < groups; ++k) {
    const int8_t* p = g.point(index[k]);
    for (int j = 0; j < 8; ++j) {
      const float q = shifted[k][(p[j] - 1) / 2];
      sumqx += w[8 * k + j] * q * x[8 * k + j];
      sumq2 += w[8 * k + j] * q * q;
    }
  }
  return sumqx > 0 && sumq2 > 0 ? sumqx / sumq2 : scale;
}

void weights_of(const float* x, const float* imatrix, float sigma2, float* weight) {
  if (imatrix) {
    iq::importance(static_cast<int>(kSuperBlock), x, imatrix, sigma2, weight);
  } else {
    for (size_t i = 0; i < kSuperBlock; ++i) weight[i] = x[i] * x[i];
  }
}

float abs_max(int n, const float* x) {
  float max = std::fabs(x[0]);
  for (int i = 1; i < n; ++i) max = max > std::fabs(x[i]) ? max : std::fabs(x[i]);
  return max;
}

// --- IQ1_S: sub-blocks of 32, one shift each.

void iq1_s_block(bool avx2, const float* x, const float* imatrix, std::byte* out) {
  constexpr int kGroup = 32;
  constexpr size_t kGroups = kSuperBlock / kGroup;
  constexpr float kMaxEps = 1e-12f;  // ggml's GROUP_MAX_EPS_IQ1_S
  const iq::SearchGrid& g = iq::search_grid(iq::GridId::IQ1S);
  std::byte* qs = out + 2;    // low index bytes
  uint16_t qh[kGroups] = {};  // per group: 4 x 3 high index bits, the scale, the shift's sign
  float scales[kGroups];
  int shifts[kGroups];
  float max_scale = 0;
  std::memset(out, 0, kIQ1_SBlockBytes);
  const float sigma2 = iq::scaled_mean_square(x, 2);
  for (size_t ib = 0; ib < kGroups; ++ib) {
    const float* xb = x + kGroup * ib;
    float weight[kGroup];
    iq::importance(kGroup, xb, imatrix + kGroup * ib, sigma2, weight);
    scales[ib] = 0;
    shifts[ib] = 1;
    const float max = abs_max(kGroup, xb);
    if (max < kMaxEps) continue;
    int order[kGroup];
    ascending_order<kGroup>(xb, order);
    float sumx[kGroup + 1] = {0}, sumw[kGroup + 1] = {0};
    for (int j = 0; j < kGroup; ++j) {
      sumx[j + 1] = sumx[j] + weight[order[j]] * xb[order[j]];
      sumw[j + 1] = sumw[j] + weight[order[j]];
    }
    SplitS split =
        avx2 ? iq1::x86::best_split_s_avx2(sumx, sumw, max) : iq1::best_split_s(sumx, sumw, max);
    if (split.i1 < 0 || split.i2 < 0 || split.shift == 0) continue;
    int8_t L[kGroup];
    split_levels<kGroup>(order, split.i1, split.i2, L);
    if (split.scale < 0) {
      for (int8_t& l : L) l = static_cast<int8_t>(2 - l);
      split.scale = -split.scale;
      split.shift = -split.shift;
    }
    const float* v = split.shift == 1 ? kShiftUp : kShiftDown;
    const float* shifted[4] = {v, v, v, v};
    int index[4];
    float scale = split.scale;
    if (!points_of(avx2, g, 4, xb, weight, scale, shifted, L, index))
      scale = refit(g, 4, xb, weight, shifted, index, scale);
    for (int k = 0; k < 4; ++k) {
      qs[4 * ib + k] = static_cast<std::byte>(index[k] & 255);
      qh[ib] = static_cast<uint16_t>(qh[ib] | ((index[k] >> 8) << (3 * k)));
    }
    scales[ib] = scale;
    shifts[ib] = split.shift;
    max_scale = max_scale > scale ? max_scale : scale;
  }
  if (max_scale) {
    const float d = max_scale / 15;
    store_f16(out, d * 1.125f);
    const float id = 1 / d;
    for (size_t ib = 0; ib < kGroups; ++ib) {
      const int l = iq::scale_code(id, scales[ib], 7) | (shifts[ib] == -1 ? 8 : 0);
      qh[ib] = static_cast<uint16_t>(qh[ib] | (l << 12));
    }
  }
  std::memcpy(out + 2 + kSuperBlock / 8, qh, sizeof qh);
}

// --- IQ1_M: sub-blocks of 16, each half of 8 with its own shift.

// The prefix sums of weight * x and weight over the sorted values, per half of the sub-block.
iq1::HalfSums half_sums(const float* xb, const float* weight, const int* order) {
  constexpr int n = iq1::kSplitM;
  iq1::HalfSums p;
  p.px[0][0] = p.px[1][0] = 0;
  p.pw[0][0] = p.pw[1][0] = 0;
  for (int j = 0; j < n; ++j) {
    const int i = order[j];
    const int h = i < n / 2 ? 0 : 1;
    p.px[h][j + 1] = p.px[h][j] + weight[i] * xb[i];
    p.px[1 - h][j + 1] = p.px[1 - h][j];
    p.pw[h][j + 1] = p.pw[h][j] + weight[i];
    p.pw[1 - h][j + 1] = p.pw[1 - h][j];
  }
  return p;
}

void iq1_m_block(bool avx2, const float* x, const float* imatrix, std::byte* out) {
  constexpr int kGroup = 16;
  constexpr size_t kGroups = kSuperBlock / kGroup;
  constexpr float kMaxEps = 1e-7f;  // ggml's GROUP_MAX_EPS_IQ1_M
  constexpr uint8_t kShiftBits[4] = {0x00, 0x80, 0x08, 0x88};
  const iq::SearchGrid& g = iq::search_grid(iq::GridId::IQ1S);
  std::byte* qs = out;                    // low index bytes
  std::byte* qh = out + kSuperBlock / 8;  // per half: 3 high index bits and the shift's sign
  uint16_t sc[4] = {};                    // 3-bit scales, and the f16 scale in the top nibbles
  int index[kGroups][2] = {};
  float scales[kGroups];
  int shifts[kGroups];
  float max_scale = 0;
  std::memset(out, 0, kIQ1_MBlockBytes);
  const float sigma2 = iq::scaled_mean_square(x, 2);
  float weight[kSuperBlock];
  weights_of(x, imatrix, sigma2, weight);
  for (size_t ib = 0; ib < kGroups; ++ib) {
    const float* xb = x + kGroup * ib;
    const float* wb = weight + kGroup * ib;
    scales[ib] = 0;
    shifts[ib] = 0;
    const float max = abs_max(kGroup, xb);
    if (max < kMaxEps) continue;
    int order[kGroup];
    ascending_order<kGroup>(xb, order);
    const iq1::HalfSums sums = half_sums(xb, wb, order);
    SplitM split = avx2 ? iq1::x86::best_split_m_avx2(sums, max) : iq1::best_split_m(sums, max);
    if (split.i1 < 0 || split.i2 < 0 || split.shifts < 0) continue;
    int8_t L[kGroup];
    split_levels<kGroup>(order, split.i1, split.i2, L);
    if (split.scale < 0) {
      for (int8_t& l : L) l = static_cast<int8_t>(2 - l);
      split.scale = -split.scale;
      split.shifts = 3 - split.shifts;
    }
    const float* shifted[2] = {half_values(split.shifts, 0), half_values(split.shifts, 1)};
    float scale = split.scale;
    if (!points_of(avx2, g, 2, xb, wb, scale, shifted, L, index[ib]))
      scale = refit(g, 2, xb, wb, shifted, index[ib], scale);
    qs[2 * ib] = static_cast<std::byte>(index[ib][0] & 255);
    qs[2 * ib + 1] = static_cast<std::byte>(index[ib][1] & 255);
    qh[ib] = static_cast<std::byte>((index[ib][0] >> 8) | ((index[ib][1] >> 8) << 4));
    scales[ib] = scale;
    shifts[ib] = split.shifts;
    max_scale = max_scale > scale ? max_scale : scale;
  }
  if (!max_scale) return;

  // The super-block scale is refitted to the coded sub-block scales and the chosen points.
  float d = max_scale / 15;
  const float id = 1 / d;
  float sumqx = 0, sumq2 = 0;
  for (size_t ib = 0; ib < kGroups; ++ib) {
    const int l = iq::scale_code(id, scales[ib], 7);
    sc[ib / 4] = static_cast<uint16_t>(sc[ib / 4] | (l << (3 * (ib % 4))));
    qh[ib] |= static_cast<std::byte>(kShiftBits[shifts[ib]]);
    for (int k = 0; k < 2; ++k) {
      const float* v = half_values(shifts[ib], k);
      const int8_t* p = g.point(index[ib][k]);
      for (int j = 0; j < 8; ++j) {
        const float w = weight[kGroup * ib + 8 * k + j];
        const float q = v[(p[j] - 1) / 2] * static_cast<float>(2 * l + 1);
        sumqx += w * q * x[kGroup * ib + 8 * k + j];
        sumq2 += w * q * q;
      }
    }
  }
  if (sumq2 > 0) d = sumqx / sumq2;
  const uint16_t f16 = f32_to_f16(d * 1.1125f);
  sc[0] = static_cast<uint16_t>(sc[0] | ((f16 & 0x000f) << 12));
  sc[1] = static_cast<uint16_t>(sc[1] | ((f16 & 0x00f0) << 8));
  sc[2] = static_cast<uint16_t>(sc[2] | ((f16 & 0x0f00) << 4));
  sc[3] = static_cast<uint16_t>(sc[3] | (f16 & 0xf000));
  std::memcpy(out + kSuperBlock / 8 + kSuperBlock / 16, sc, sizeof sc);
}

}  // namespace

void quantize_iq1_s_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  iq::each_super_block<kIQ1_SBlockBytes>(kq::x86::has_avx2(), x, out, n, weights, iq1_s_block);
}

void quantize_iq1_m(const float* x, std::byte* out, size_t n) {
  iq::each_super_block<kIQ1_MBlockBytes>(kq::x86::has_avx2(), x, out, n, nullptr, iq1_m_block);
}

void quantize_iq1_m_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  iq::each_super_block<kIQ1_MBlockBytes>(kq::x86::has_avx2(), x, out, n, weights, iq1_m_block);
}

namespace scalar {

void quantize_iq1_s_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  iq::each_super_block<kIQ1_SBlockBytes>(false, x, out, n, weights, iq1_s_block);
}

void quantize_iq1_m(const float* x, std::byte* out, size_t n) {
  iq::each_super_block<kIQ1_MBlockBytes>(false, x, out, n, nullptr, iq1_m_block);
}

void quantize_iq1_m_weighted(const float* x, std::byte* out, size_t n, const float* weights) {
  iq::each_super_block<kIQ1_MBlockBytes>(false, x, out, n, weights, iq1_m_block);
}

}  // namespace scalar

}  // namespace owl
