// The measured recipe's solver: given every tensor's cost at each candidate type
// (quant/sensitivity.h), the types that minimise the summed cost within a byte budget.
#pragma once

#include <cstdint>
#include <vector>

#include "quant/sensitivity.h"

namespace owl {

struct BitAllocation {
  std::vector<size_t> choice;  // per tensor of the table: an index into its candidates
  uint64_t bytes = 0;          // counted as the budget counts them (see allocate_bits)
  double error = 0;            // the summed predicted error
};

// Each tensor's size counts rounded up to `alignment` bytes (a GGUF pads every tensor; 1 counts
// the data alone). Greedy on the lower convex hull of each tensor's (bytes, error) points, best
// error saved per byte first, which is optimal at the hull's corners; then single upgrades that
// still fit, largest saving first. Ties go to the earlier tensor, so the result is the same
// every run. Throws UsageError when even the smallest types exceed the budget.
BitAllocation allocate_bits(const SensitivityTable& t, uint64_t budget, uint64_t alignment);

}  // namespace owl
