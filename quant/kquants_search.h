// The scale searches behind the k-quants (and the legacy types' importance-weighted paths): for a
// small group of weights, pick the scale (and offset) whose rounded quants reproduce it best. Each
// follows one of ggml's helpers step for step, in float and in ggml's order of operations, because
// the k-quant bytes depend on every rounding inside them. The ggml name is given with each.
#pragma once

#include <cstddef>
#include <cstdint>

namespace owl::kq {

// Below this a group counts as all zeros (ggml's GROUP_MAX_EPS).
inline constexpr float kGroupMaxEps = 1e-15f;

// Symmetric scale for quants in [-nmax, nmax - 1] (ggml's `make_qx_quants` with rmse_type 1;
// Q6_K, and with importance weights Q3_K, Q4_0, Q5_0). Each weight counts by `weights[i]`, or by
// x^2 when `weights` is null. Tries 19 candidate inverse scales around -nmax / (signed max) and
// keeps the one with the best weighted least-squares fit. Writes quants + nmax to `L` and returns
// the scale (0 for an all-zero group).
float symmetric_scale_search(int n, int nmax, const float* x, const float* weights, int8_t* L);

// Symmetric scale for 3-bit quants (ggml's `make_q3_quants` with do_rmse; Q3_K): starts from
// -nmax / (signed max), then moves single quants while that improves the x^2-weighted fit, at
// most five sweeps. Writes quants + nmax to `L` and returns the scale.
float q3_scale_search(int n, int nmax, const float* x, int8_t* L);

// How widely `affine_scale_search` looks: candidate inverse scales
// (nmax + rmin + rdelta * i) / (max - min) for i = 0..steps.
struct AffineSearch {
  float rmin;
  float rdelta;
  int steps;
  bool abs_error;  // weigh |error| (true) or error^2 (false)
};

// The search ggml's importance-matrix paths run for every affine group (Q2_K, Q4_K, Q5_K, Q4_1,
// Q5_1).
inline constexpr AffineSearch kWeightedAffineSearch{-0.9f, 0.05f, 36, false};

// Scale and offset for quants in [0, nmax]: x ~ scale * L + min with min <= 0 (ggml's
// `make_qkx2_quants`; Q2_K, Q4_K, Q5_K). Each candidate's scale and min are the weighted least
// squares fit of its quants; the one with the least weighted error wins. Writes the quants to
// `L`, -min to `neg_min`, and returns the scale. `scratch` holds n bytes.
// With importance weights this is also ggml's `make_qkx3_quants`, which differs from it only
// when given no weights.
float affine_scale_search(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                          float* neg_min, uint8_t* scratch, const AffineSearch& search);

// Scale for quants in [0, nmax] of non-negative values: the scales and mins of a super-block's
// groups, weighted by the groups' total importance (ggml's `make_qp_quants`; the imatrix paths of
// Q2_K, Q4_K, Q5_K). Tries 9 inverse scales around nmax / max by weighted squared error, then
// moves single quants while that improves the fit, at most five sweeps. Writes the quants to `L`
// and returns the scale (0 when every value is below kGroupMaxEps).
float nonnegative_scale_search(int n, int nmax, const float* x, const float* weights, uint8_t* L);

// `groups` searches on consecutive groups of `n` values x + g * n (weights likewise; for the
// symmetric search a null `weights` means x^2), scales to scales[g], quants to L + g * n and, for
// the affine one, -min to neg_mins[g]. With `fast` (the CPU has AVX2, kquants_search_x86.h) eight
// groups run at a time and the rest one by one; the bits are the same either way. The affine
// search takes groups of at most 32.
void affine_scale_search_groups(bool fast, size_t groups, int n, int nmax, const float* x,
                                const float* weights, uint8_t* L, float* scales, float* neg_mins,
                                const AffineSearch& search);
void symmetric_scale_search_groups(bool fast, size_t groups, int n, int nmax, const float* x,
                                   const float* weights, int8_t* L, float* scales);

}  // namespace owl::kq
