// The scale searches behind the k-quants: for a small group of weights, pick the scale (and
// offset) whose rounded quants reproduce the group best. Each follows one of ggml's helpers step
// for step, in float and in ggml's order of operations, because the k-quant bytes depend on
// every rounding inside them. The ggml name is given with each.
#pragma once

#include <cstdint>

namespace owl::kq {

// Below this a group counts as all zeros (ggml's GROUP_MAX_EPS).
inline constexpr float kGroupMaxEps = 1e-15f;

// Symmetric scale for quants in [-nmax, nmax - 1], weighted by x^2 (ggml's `make_qx_quants`
// with rmse_type 1 and no importance weights; Q6_K). Tries 19 candidate inverse scales around
// -nmax / (signed max) and keeps the one with the best weighted least-squares fit. Writes
// quants + nmax to `L` and returns the scale (0 for an all-zero group).
float symmetric_scale_search(int n, int nmax, const float* x, int8_t* L);

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

// Scale and offset for quants in [0, nmax]: x ~ scale * L + min with min <= 0 (ggml's
// `make_qkx2_quants`; Q2_K, Q4_K, Q5_K). Each candidate's scale and min are the weighted least
// squares fit of its quants; the one with the least weighted error wins. Writes the quants to
// `L`, -min to `neg_min`, and returns the scale. `scratch` holds n bytes.
float affine_scale_search(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                          float* neg_min, uint8_t* scratch, const AffineSearch& search);

}  // namespace owl::kq
