// AVX2 version of the grid i-quants' trial rounding: eight trials at a time, lane t rounding
// each magnitude at trial t's inverse scale as the scalar `snap_trials` does, then the codes
// looked up and, off the grid, the neighbours searched with AVX2. The levels are the same (tests
// hold them equal). Chosen at run time (kq::x86::has_avx2).
#pragma once

#include "quant/iq_grid_fit.h"

namespace owl::iq::x86 {

// `snap_trials`, with `ids` readable up to a whole number of eight.
void snap_trials_avx2(const SearchGrid& g, int n, const float* xval, const float* waux,
                      const float* ids, int count, TrialLevels& out);

// Each trial's sum(w x q) and sum(w q^2) over the `n` values, eight trials at a time, each lane
// summing in the scalar order; `sumqx` and `sumq2` take `count` rounded up to eight.
void trial_sums_avx2(int n, const float* xval, const float* weight, const TrialLevels& trial,
                     int count, float* sumqx, float* sumq2);

}  // namespace owl::iq::x86
