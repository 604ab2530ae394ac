// `owl validate`: both models over the same chunks of tokens, scored position by position.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "converters/graph.h"
#include "converters/progress.h"
#include "formats/write_group.h"
#include "validate/metrics.h"
#include "validate/model_params.h"
#include "validate/tensor_diff.h"

namespace owl::validate {

struct ValidateOptions {
  uint64_t n_ctx = 512;
  uint64_t max_chunks = 0;  // 0: every whole chunk in the stream
  std::string save_ref;     // write the reference logits here
  std::string ref_logits;   // read the reference logits from here instead of running REF
  bool tensors = true;      // also compare the weights tensor by tensor
  Progress* progress = nullptr;
  // The ranks of an MPI job that share the chunks (validate/shared_pass.h), or with `pipeline`
  // the layers; null for a plain run. The result is rank 0's; the others return an empty one.
  WriteGroup* group = nullptr;
  bool pipeline = false;
};

struct ValidateResult {
  ModelParams params;
  uint64_t n_ctx = 0, chunks = 0;
  std::vector<TokenScore> scores;
  DriftSummary drift;
  TensorDiff tensors;
  // Sentence-embedding models (params.pooling), which have no logits: the cosine similarity of
  // the two models' embeddings of each chunk, and whether the sentence-transformers Dense layers
  // ran (only when both models have them).
  std::vector<double> cosines;
  double cosine_mean = 0, cosine_min = 0;
  std::string dense;  // "both models", "neither model", or which one alone has them
};

// The BOS id the model puts first in every chunk, if its metadata says it adds one.
std::optional<int32_t> bos_to_add(const Graph& g);

ValidateResult run_validation(const Graph& ref, const Graph& test, std::span<const int32_t> stream,
                              const ValidateOptions& opt);

}  // namespace owl::validate
