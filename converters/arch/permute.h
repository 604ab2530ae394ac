// The Q/K row order llama.cpp expects for Llama-style RoPE, as a lazy view of another source.
#pragma once

#include <cstdint>

#include "converters/source.h"

namespace owl::arch {

// Hugging Face stores each attention head's rotary pairs as two halves (all first halves, then
// all second halves); llama.cpp's Llama kernels rotate adjacent rows. Viewing one head's rows as
// [2, half], `to_gguf` emits them as [half, 2] (rows interleaved), `from_gguf` undoes it.
enum class RopeOrder { to_gguf, from_gguf };

// Reorders whole rows of `input` (any element type: a row is `row_bytes` opaque bytes) within
// each of `heads` equal groups. Reads must be row-aligned; each row is read straight into the
// caller's buffer, so no copy is made beyond the read itself.
class RopePermuteSource final : public Source {
 public:
  // Throws UsageError unless rows divide into `heads` groups of an even number of rows.
  RopePermuteSource(SourcePtr input, uint64_t rows, uint64_t row_bytes, uint64_t heads,
                    RopeOrder order);
  uint64_t byte_size() const override { return rows_ * row_bytes_; }
  uint64_t granule() const override { return row_bytes_; }
  void read(uint64_t offset, std::span<std::byte> out) const override;
  void release() const override { input_->release(); }
  void release_range(uint64_t offset, uint64_t length) const override;

  // The input row that output row `row` comes from.
  uint64_t source_row(uint64_t row) const;

 private:
  SourcePtr input_;
  uint64_t rows_, row_bytes_, rows_per_head_, half_;
  RopeOrder order_;
};

}  // namespace owl::arch
