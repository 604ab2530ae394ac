// Small pieces the forward pass's layers share: weights looked up by name, RMSNorm, a weight
// read whole as a vector.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "converters/graph.h"
#include "validate/weight.h"

namespace owl::validate {

// Below this many values one thread is quicker than waking the others. Element-wise steps above
// it run on every thread: each value is computed alone, so the bits do not depend on the split.
constexpr uint64_t kParallelValues = 1 << 16;

// The tensor as a weight; UsageError naming it when the model lacks it.
Weight required(const Graph& g, const std::string& name);
// The tensor as a weight, or an absent weight.
Weight optional(const Graph& g, const std::string& name);

// x[t] = x[t] / rms(x[t]) * w, for each of `T` rows of `n` values.
void rms_norm(float* x, uint64_t T, uint64_t n, const std::vector<float>& w, float eps);

// All of a (small) weight's values.
std::vector<float> vector_of(const Weight& w);

// y[t] += b for each of `T` rows of b's size; nothing when b is absent.
void add_bias(float* y, uint64_t T, const Weight& b);

}  // namespace owl::validate
