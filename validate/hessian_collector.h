// The second moments of matrix inputs (XᵀX over calibration tokens) that error-compensated
// rounding needs (quant/gptq.h), gathered from owl's forward pass as the importance matrix is
// (validate::collect_calibration).
//
// Memory: a matrix up to kFullHessianMaxCols wide keeps its full cols x cols matrix, a wider one
// only diagonal blocks of kHessianBlockCols (floats). Products that read the same activations
// (attn_q, attn_k and attn_v; ffn_gate and ffn_up) share one matrix. Mixtures of experts' stacked
// tensors are not collected: they are quantized without error feedback.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "converters/graph.h"
#include "quant/gptq.h"

namespace owl::validate {

class HessianCollector {
 public:
  // Whether this product's weight gets a matrix: `blk.*` 2-D matrices (not experts).
  static bool collects(const std::string& weight, uint64_t experts);

  // Adds `tokens` rows of `cols` activations at the input of `weight`. Sums run over the tokens
  // in order, so the result does not depend on the thread count. Throws UsageError for a width
  // that differs from earlier calls or non-finite sums.
  void add(const std::string& weight, const float* x, uint64_t tokens, uint64_t cols);

  // The matrices by weight name (shared where the inputs were).
  Hessians result() const;

 private:
  // The previous call's activations (their address, size and hash) and the matrix they went to.
  struct LastInput {
    size_t matrix = SIZE_MAX;
    const float* x = nullptr;
    uint64_t tokens = 0, fingerprint = 0;
  };
  std::vector<std::shared_ptr<Hessian>> matrices_;
  LastInput last_;
  std::map<std::string, size_t> index_;  // weight -> matrices_
};

}  // namespace owl::validate
