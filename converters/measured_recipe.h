// `owl quantize --target-bpw B / --target-size S`: every quantizable tensor's type chosen from
// measurements on calibration text (quant/sensitivity.h) so that the summed predicted error is
// least within the target (quant/bit_allocation.h). The choice is carried out as one exact-name
// --tensor-type override per tensor, so the plan, the driver and the file are those of any
// quantization.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "converters/quantize.h"
#include "quant/bit_allocation.h"
#include "quant/sensitivity.h"

namespace owl {

// Measures every tensor `opt` would quantize at every candidate type it fits. `moments`: each
// matrix's mean squared input per column (validate/calibration.h), by weight name. The importance
// weights of opt's --imatrix are the ones each candidate is quantized with, as the output will be.
SensitivityTable measure_sensitivity(const std::string& input, const QuantizeOptions& opt,
                                     const std::map<std::string, std::vector<float>>& moments,
                                     const std::string& calibration, int threads);

struct RecipeTarget {
  double bits_per_weight = 0;   // of every tensor's data, as the plan counts it (0: not this)
  uint64_t file_bytes = 0;      // the output file at most this large (0: not this)
  std::vector<ElemType> types;  // --recipe-types: choose among these only (empty: all measured)
};

struct MeasuredRecipe {
  const Mix* mix = nullptr;  // recorded as general.file_type: the mix of the most common type
  std::vector<TypeOverride> overrides;
  SensitivityTable table;  // in the plan's order, the quantized tensors only
  BitAllocation allocation;
  uint64_t budget = 0;       // bytes the allocated tensors may take
  uint64_t fixed_bytes = 0;  // what the rest of the file takes, counted as the budget is
};

// Solves `table` (from `sensitivity_file`, named in errors: it must measure this model) for the
// target. Throws UsageError when the target is below the smallest types.
MeasuredRecipe solve_measured_recipe(const std::string& input, const QuantizeOptions& opt,
                                     const SensitivityTable& table,
                                     const std::string& sensitivity_file,
                                     const RecipeTarget& target);

// The type and predicted error the recipe chose for tensor `name`; null when it chose none.
const RecipeCandidate* recipe_choice(const MeasuredRecipe& r, const std::string& name);

}  // namespace owl
