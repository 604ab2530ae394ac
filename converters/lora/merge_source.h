// A base weight with LoRA deltas added, computed a band of rows at a time when a writer pulls
// it: W + scale * B A in f32, then rounded once to the output type. Memory: the band, the
// adapters' A matrices and their B rows for the band; never the whole weight.
#pragma once

#include <mutex>
#include <vector>

#include "converters/graph.h"

namespace owl::lora {

// One adapter's contribution to a weight [rows, cols]: A [rank, cols], B [rows, rank].
struct Delta {
  Tensor a, b;
  float scale = 1;  // the adapter's alpha / rank (or alpha / sqrt(rank)) times the user's scale
};

class MergedWeightSource final : public Source {
 public:
  // `base` holds rows x cols values of `base_type` (a castable float); the result is `out_type`
  // (F32, F16 or BF16). The deltas are applied in order. Throws UsageError on shapes that do not
  // fit [rows, cols].
  MergedWeightSource(SourcePtr base, ElemType base_type, uint64_t rows, uint64_t cols,
                     std::vector<Delta> deltas, ElemType out_type);
  uint64_t byte_size() const override { return rows_ * out_row_bytes_; }
  uint64_t granule() const override { return out_row_bytes_; }
  void read(uint64_t offset, std::span<std::byte> out) const override;
  void release() const override;
  void release_range(uint64_t offset, uint64_t length) const override;

 private:
  SourcePtr base_;
  ElemType base_type_, out_type_;
  uint64_t rows_, cols_, out_row_bytes_;
  std::vector<Delta> deltas_;
  // Each delta's A in f32, converted on the first read and kept until release(): a writer may
  // pull a handful of rows at a time (Q/K rows in permuted order), and A is needed whole for each.
  const std::vector<std::vector<float>>& a_f32() const;
  mutable std::mutex a_mutex_;
  mutable std::vector<std::vector<float>> a_f32_;
};

}  // namespace owl::lora
