// A lazy quantization of a float tensor into a ggml block type, row by row.
#pragma once

#include <cstdint>

#include "converters/source.h"
#include "converters/types.h"

namespace owl {

// Types this build can produce from floats.
bool can_quantize_to(ElemType t);

class QuantizeSource final : public Source {
 public:
  // `input` holds `rows` x `row_elems` values of the float type `from`.
  QuantizeSource(SourcePtr input, ElemType from, ElemType to, uint64_t rows, uint64_t row_elems);
  uint64_t byte_size() const override { return rows_ * row_bytes_; }
  uint64_t granule() const override { return row_bytes_; }
  void read(uint64_t offset, std::span<std::byte> out) const override;
  void release() const override { input_->release(); }
  void release_range(uint64_t offset, uint64_t length) const override;

 private:
  SourcePtr input_;
  ElemType from_, to_;
  uint64_t rows_, row_elems_, row_bytes_, in_row_bytes_;
};

}  // namespace owl
