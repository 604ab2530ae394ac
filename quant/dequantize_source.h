// A lazy dequantization of a tensor into a float type, row by row.
#pragma once

#include <cstdint>

#include "converters/source.h"
#include "converters/types.h"

namespace owl {

// Types a DequantizeSource reads: block types with a dequantizer, and F64/F32/F16/BF16.
bool can_dequantize_from(ElemType t);

class DequantizeSource final : public Source {
 public:
  // `input` holds `rows` x `row_elems` values of `from`; the source yields them as `to` (F32, F16
  // or BF16). Block types go through F32 exactly as ggml's dequantizer computes them, then round
  // once to `to`. Throws std::invalid_argument for unsupported types or inconsistent sizes.
  DequantizeSource(SourcePtr input, ElemType from, ElemType to, uint64_t rows, uint64_t row_elems);
  uint64_t byte_size() const override { return rows_ * out_row_bytes_; }
  uint64_t granule() const override { return out_row_bytes_; }
  void read(uint64_t offset, std::span<std::byte> out) const override;
  void release() const override { input_->release(); }
  void release_range(uint64_t offset, uint64_t length) const override;

 private:
  void convert_row(std::span<const std::byte> in, std::span<std::byte> out) const;

  SourcePtr input_;
  ElemType from_, to_;
  uint64_t rows_, row_elems_, in_row_bytes_, out_row_bytes_;
};

}  // namespace owl
