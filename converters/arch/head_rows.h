// Some rows of each head of a matrix laid out head after head, optionally transposed per head:
// DeepSeek's kv_b_proj holds, for every head, the rows that make its keys' non-rotary part
// above the rows that make its values; llama.cpp's MLA wants them as two 3-D tensors, the key
// part transposed so that it multiplies the query from the other side.
#pragma once

#include <cstdint>

#include "converters/source.h"

namespace owl::arch {

struct HeadRows {
  uint64_t heads = 0, rows_per_head = 0, cols = 0;  // the input, [heads * rows_per_head, cols]
  uint64_t first = 0, count = 0;                    // the rows taken from each head
  uint64_t elem_bytes = 0;
  bool transpose = false;  // each head's [count, cols] block given as [cols, count]
};

// Yields [heads, count, cols] (or [heads, cols, count] when transposed), one head per granule:
// a read pulls each head's rows from the input in one piece, so nothing beyond a head's block
// is held. Throws std::invalid_argument when the sizes do not fit the input.
class HeadRowsSource final : public Source {
 public:
  HeadRowsSource(SourcePtr input, HeadRows layout);
  uint64_t byte_size() const override { return layout_.heads * head_bytes_; }
  uint64_t granule() const override { return head_bytes_; }
  void read(uint64_t offset, std::span<std::byte> out) const override;
  void release() const override { input_->release(); }

 private:
  SourcePtr input_;
  HeadRows layout_;
  uint64_t head_bytes_ = 0;
};

}  // namespace owl::arch
