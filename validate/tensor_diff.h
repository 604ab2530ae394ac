// How far two models' weights are apart, tensor by tensor (`owl diff`, and part of a report).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "converters/graph.h"
#include "converters/progress.h"

namespace owl::validate {

struct TensorError {
  std::string name;
  std::string ref_type, test_type;
  uint64_t elements = 0;
  double rel_rms = 0;  // ||test - ref|| / ||ref||
  double snr_db = 0;   // 10 log10(sum ref^2 / sum (test - ref)^2); infinite when equal
  double cosine = 0;
  double max_abs = 0;
  int layer = -1;    // N of blk.N., or -1
  std::string kind;  // "attn_q", "ffn_down", "token_embd", ...
};

struct TensorDiff {
  std::vector<TensorError> tensors;  // in the reference's order
  std::vector<std::string> only_in_ref, only_in_test, shape_mismatch;
};

// Dequantizes both sides a block of rows at a time (memory stays near one block per tensor).
TensorDiff diff_tensors(const Graph& ref, const Graph& test, Progress* progress = nullptr);

}  // namespace owl::validate
