// A weight matrix read in its stored type and turned into floats a block of rows at a time,
// so the forward pass holds only what the file holds plus one block per thread.
#pragma once

#include <cstdint>

#include "converters/graph.h"

namespace owl::validate {

class Weight {
 public:
  Weight() = default;
  // A tensor as rows of its innermost dimension ([rows, cols] for a matrix, one row for a
  // vector). Throws UsageError for types this build cannot turn back into floats.
  explicit Weight(const Tensor& t);

  uint64_t rows() const { return rows_; }
  uint64_t cols() const { return cols_; }
  bool present() const { return t_ != nullptr; }
  const std::string& name() const { return t_->name; }

  // Rows [first, first + n) as floats into `out` (n * cols values).
  void rows_f32(uint64_t first, uint64_t n, float* out) const;

  // Expert `e`'s matrix of a stacked [experts, rows, cols] tensor, as a weight of its own that
  // reads only that expert's rows. Throws UsageError unless the tensor is 3-D with expert e.
  Weight expert(uint64_t e) const;
  uint64_t experts() const;  // the outermost size of a 3-D tensor, else 1
  // Which expert a weight made by expert() is (0 for any other weight).
  uint64_t expert_index() const { return rows_ ? first_row_ / rows_ : 0; }

 private:
  const Tensor* t_ = nullptr;
  uint64_t rows_ = 0, cols_ = 0, row_bytes_ = 0;
  uint64_t first_row_ = 0;  // where an expert's rows begin in the whole tensor
};

}  // namespace owl::validate
