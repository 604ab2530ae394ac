#include "quant/iq_grid_fit.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "quant/block_math.h"
#include "quant/iq_grid_fit_x86.h"

namespace owl::iq {

using block::nearest_int;

namespace {

constexpr int kMaxValues = TrialLevels::kMaxValues;
constexpr int kMaxTrials = TrialLevels::kMaxTrials;

int clamp_level(int l, int levels) {
  return std::max(0, std::min(levels - 1, l));
}

// Rounds a group's magnitudes to levels at inverse scale `id`.
void round_to_levels(const SearchGrid& g, const float* xval, float id, int8_t* L) {
  for (int i = 0; i < g.dims(); ++i)
    L[i] = static_cast<int8_t>(clamp_level(nearest_int(0.5f * (id * xval[i] - 1)), g.levels()));
}

// sum(w x q) and sum(w q^2) over the sub-block, q = 2 * level + 1.
void fit_sums(int n, const float* xval, const float* weight, const int8_t* L, float& sumqx,
              float& sumq2) {
  sumqx = 0;
  sumq2 = 0;
  for (int i = 0; i < n; ++i) {
    const float w = weight[i];
    const float q = static_cast<float>(2 * L[i] + 1);
    sumqx += w * xval[i] * q;
    sumq2 += w * q * q;
  }
}

}  // namespace

float scaled_mean_square(const float* x, int factor) {
  float sumx2 = 0;
  for (size_t i = 0; i < kSuperBlock; ++i) sumx2 += x[i] * x[i];
  return static_cast<float>(factor) * sumx2 / static_cast<float>(kSuperBlock);
}

void importance(int n, const float* x, const float* imatrix, float sigma2, float* weight) {
  for (int i = 0; i < n; ++i) weight[i] = imatrix[i] * std::sqrt(sigma2 + x[i] * x[i]);
}

uint8_t fold_signs(const float* x, const float* weight, bool even, float* xval) {
  int minus = 0;
  uint8_t signs = 0;
  for (int i = 0; i < 8; ++i) {
    if (x[i] >= 0) {
      xval[i] = x[i];
    } else {
      xval[i] = -x[i];
      ++minus;
      signs = static_cast<uint8_t>(signs | (1 << i));
    }
  }
  if (even && minus % 2) {
    int least = 0;
    float least_importance = weight[0] * x[0] * x[0];
    for (int i = 1; i < 8; ++i) {
      const float importance = weight[i] * x[i] * x[i];
      if (importance < least_importance) {
        least_importance = importance;
        least = i;
      }
    }
    xval[least] = -xval[least];
    signs = static_cast<uint8_t>(signs ^ (1 << least));
  }
  return signs;
}

void snap_trials(const SearchGrid& g, int n, const float* xval, const float* waux, const float* ids,
                 int count, TrialLevels& out) {
  const int dims = g.dims();
  for (int t = 0; t < count; ++t) {
    for (int k = 0; k < n / dims; ++k) {
      int8_t L[8];
      round_to_levels(g, xval + dims * k, ids[t], L);
      snap_to_grid(false, g, xval + dims * k, waux + dims * k, 1 / ids[t], L, out.on_grid[t][k]);
      for (int i = 0; i < dims; ++i) out.q[dims * k + i][t] = static_cast<float>(2 * L[i] + 1);
    }
  }
}

float fit_grid_scale(bool avx2, const SearchGrid& g, int n, const float* xval, const float* weight,
                     const float* waux, float reference, float scale, const ScaleTrials& trials,
                     int8_t* L) {
  const int dims = g.dims();
  const int groups = n / dims;
  bool on_grid[kMaxValues / 4];
  std::fill(on_grid, on_grid + groups, trials.start_on_grid);
  std::fill(L, L + n, int8_t{0});

  // Every trial's levels first, then the fits of all trials side by side (each trial's sums in
  // the scalar order, so the compiler may run trials in vector lanes), then the choice in order.
  const int count = trials.last - trials.first + 1;
  if (count > kMaxTrials || n > kMaxValues) throw std::logic_error("i-quant scale search too wide");
  // The inverse scales, padded to whole vectors with the last.
  alignas(32) float ids[kMaxTrials + 1];
  const float center = static_cast<float>(2 * g.levels() - 1);
  for (int t = 0; t <= kMaxTrials; ++t) {
    const int step = trials.first + std::min(t, count - 1);
    ids[t] = (center + static_cast<float>(step) * trials.step) / reference;
  }
  TrialLevels trial;
  if (avx2) {
    x86::snap_trials_avx2(g, n, xval, waux, ids, count, trial);
  } else {
    snap_trials(g, n, xval, waux, ids, count, trial);
  }
  float trial_sumqx[TrialLevels::kTrialSlots] = {}, trial_sumq2[TrialLevels::kTrialSlots] = {};
  if (avx2) {
    x86::trial_sums_avx2(n, xval, weight, trial, count, trial_sumqx, trial_sumq2);
  } else {
    for (int i = 0; i < n; ++i) {
      const float w = weight[i];
      const float wx = w * xval[i];
      for (int t = 0; t < count; ++t) {
        const float q = trial.q[i][t];
        trial_sumqx[t] += wx * q;
        trial_sumq2[t] += w * q * q;
      }
    }
  }
  float best = 0;
  int chosen = -1;
  for (int t = 0; t < count; ++t) {
    const float sumqx = trial_sumqx[t], sumq2 = trial_sumq2[t];
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      scale = sumqx / sumq2;
      best = scale * sumqx;
      chosen = t;
    }
  }
  if (chosen >= 0) {
    for (int i = 0; i < n; ++i)
      L[i] = static_cast<int8_t>((static_cast<int>(trial.q[i][chosen]) - 1) / 2);
    std::copy(trial.on_grid[chosen], trial.on_grid[chosen] + groups, on_grid);
  }

  const bool any_off_grid = std::find(on_grid, on_grid + groups, false) != on_grid + groups;
  if (!(scale > 0) || (trials.refit != Refit::AllGroups && !any_off_grid)) return scale;
  const float id = 1 / scale;
  for (int k = 0; k < groups; ++k) {
    if (trials.refit == Refit::OffGridGroups && on_grid[k]) continue;
    round_to_levels(g, xval + dims * k, id, L + dims * k);
    bool unused;
    snap_to_grid(avx2, g, xval + dims * k, waux + dims * k, scale, L + dims * k, unused);
  }
  float sumqx, sumq2;
  fit_sums(n, xval, weight, L, sumqx, sumq2);
  if (sumq2 > 0) scale = sumqx / sumq2;
  return scale;
}

int scale_code(float id, float scale, int max) {
  return std::max(0, std::min(max, nearest_int(0.5f * (id * scale - 1))));
}

void pack_scale_pairs(float id, const float* scales, size_t count, std::byte* out) {
  for (size_t i = 0; i < count; i += 2) {
    out[i / 2] = static_cast<std::byte>(scale_code(id, scales[i], 15) |
                                        (scale_code(id, scales[i + 1], 15) << 4));
  }
}

int point_index(const SearchGrid& g, const int8_t* L) {
  return std::max(0, g.index_of(g.code(L)));
}

}  // namespace owl::iq
