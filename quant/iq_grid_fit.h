// The steps the IQ2 and IQ3 quantizers share: fold a group's signs away, fit a sub-block's scale
// so that its values, rounded to levels and snapped to the codebook, reproduce it best, and
// code the sub-block scales against the super-block's. Each follows ggml's quantizers
// (`quantize_row_iq2_*_impl`, `quantize_row_iq3_*_impl`) step for step, in float and in their
// order of operations.
#pragma once

#include <cstddef>
#include <cstdint>

#include "quant/iq_grid_search.h"

namespace owl::iq {

inline constexpr size_t kSuperBlock = 256;

// Runs `block(avx2, x, imatrix, out)` on each super-block of a row of `n` values, with its slice
// of the importance matrix (null where there is none); `avx2` chooses the AVX2 searches or the
// scalar references.
template <size_t BlockBytes, typename Block>
void each_super_block(bool avx2, const float* x, std::byte* out, size_t n, const float* imatrix,
                      Block block) {
  for (size_t b = 0; b < n / kSuperBlock; ++b) {
    block(avx2, x + b * kSuperBlock, imatrix ? imatrix + b * kSuperBlock : nullptr,
          out + b * BlockBytes);
  }
}

// The largest of n values, as ggml's MAX macro keeps it.
inline float max_value(int n, const float* x) {
  float max = x[0];
  for (int i = 1; i < n; ++i) max = max > x[i] ? max : x[i];
  return max;
}

// The mean square of a super-block times `factor` (1 or 2: each type's "sigma2").
float scaled_mean_square(const float* x, int factor);

// The importance of each of `n` values under an imatrix: w * sqrt(sigma2 + x^2).
void importance(int n, const float* x, const float* imatrix, float sigma2, float* weight);

// Moves the signs of 8 values into a byte (bit i: x[i] < 0) and writes their magnitudes to
// `xval`. With `even`, for types that store 7 sign bits and infer the eighth: an odd count of
// minus signs is made even by keeping the sign of the value that matters least
// (weight * x^2), whose magnitude becomes negative.
uint8_t fold_signs(const float* x, const float* weight, bool even, float* xval);

// Which groups the fitted scale re-rounds after the trials.
enum class Refit {
  AllGroups,           // IQ2_XXS
  OffGridGroups,       // IQ2_XS, IQ2_S, IQ3_XXS: those the winning trial had to snap
  AllIfAnyWasOffGrid,  // IQ3_S
};

struct ScaleTrials {
  int first,
      last;  // trial inverse scales (2 * levels - 1 + t * step) / reference, t in [first, last]
  float step;
  Refit refit;
  bool start_on_grid;  // whether each group counts as on the grid before a trial wins
};

// Every trial's snapped levels for one sub-block, as the q = 2 l + 1 of each value in each
// trial (trials side by side, for fitting them together): trial t's inverse scale ids[t] rounds
// each group of `dims` magnitudes to levels, which are then snapped to the grid at 1 / ids[t].
struct TrialLevels {
  static constexpr int kMaxTrials = 31;  // IQ3_XXS: -15..15
  static constexpr int kTrialSlots = 32;
  static constexpr int kMaxValues = 32;
  alignas(32) float q[kMaxValues][kTrialSlots];
  bool on_grid[kMaxTrials][kMaxValues / 4];  // by group: whether it was on the grid unsnapped
};

// TrialLevels for `count` trials over `n` magnitudes, with `waux` weighing the snapping distance.
void snap_trials(const SearchGrid& g, int n, const float* xval, const float* waux, const float* ids,
                 int count, TrialLevels& out);

// The scale of one sub-block of `n` magnitudes (with importance `weight`, and its square root
// `waux` for the snapping distance): each trial rounds the values to levels at its inverse
// scale, snaps each group to the grid and keeps the best least-squares fit; the fitted scale
// then re-rounds groups as `trials.refit` says and is refitted. `scale` is the starting scale,
// kept if no trial fits. Writes each value's level to `L` (all on the grid) and returns the
// scale, which ggml allows to come out negative. With `avx2` (kq::x86::has_avx2) the trials are
// rounded eight at a time and the grid searched with AVX2 (iq_grid_fit_x86.h); the result is
// the same.
float fit_grid_scale(bool avx2, const SearchGrid& g, int n, const float* xval, const float* weight,
                     const float* waux, float reference, float scale, const ScaleTrials& trials,
                     int8_t* L);

// The 4-bit (or `max`-bit-range) code of a sub-block scale under the super-block's inverse
// scale `id`: round(0.5 * (id * scale - 1)), clamped to [0, max].
int scale_code(float id, float scale, int max);

// Two 4-bit scale codes a byte, the even sub-block's in the low nibble, for `count` scales.
void pack_scale_pairs(float id, const float* scales, size_t count, std::byte* out);

// The index of the point that L's levels are; point 0 where they are none, which ggml aborts on
// and only overflowing sums reach.
int point_index(const SearchGrid& g, const int8_t* L);

}  // namespace owl::iq
