#include "converters/arch/permute.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "formats/io/error.h"

namespace owl::arch {

RopePermuteSource::RopePermuteSource(SourcePtr input, uint64_t rows, uint64_t row_bytes,
                                     uint64_t heads, RopeOrder order)
    : input_(std::move(input)), rows_(rows), row_bytes_(row_bytes), order_(order) {
  if (heads == 0 || rows % heads != 0 || (rows / heads) % 2 != 0) {
    throw UsageError("cannot reorder " + std::to_string(rows) + " rows for RoPE over " +
                     std::to_string(heads) + " heads: each head needs an even number of rows");
  }
  if (row_bytes == 0 || input_->byte_size() / row_bytes != rows || input_->byte_size() % row_bytes)
    throw UsageError("RoPE reordering: the tensor's bytes are not " + std::to_string(rows) +
                     " rows");
  rows_per_head_ = rows / heads;
  half_ = rows_per_head_ / 2;
}

uint64_t RopePermuteSource::source_row(uint64_t row) const {
  const uint64_t head = row / rows_per_head_, r = row % rows_per_head_;
  const uint64_t base = head * rows_per_head_;
  if (order_ == RopeOrder::to_gguf) {
    // Output row r is (i, j) of [half, 2]; it comes from (j, i) of the input's [2, half].
    return base + (r % 2) * half_ + r / 2;
  }
  // Output row r is (j, i) of [2, half]; it comes from (i, j) of the input's [half, 2].
  return base + (r % half_) * 2 + r / half_;
}

void RopePermuteSource::read(uint64_t offset, std::span<std::byte> out) const {
  if (offset % row_bytes_ || out.size() % row_bytes_ || offset > byte_size() ||
      out.size() > byte_size() - offset) {
    throw std::out_of_range("RopePermuteSource::read: range not row-aligned or out of bounds");
  }
  const uint64_t first = offset / row_bytes_, count = out.size() / row_bytes_;
  for (uint64_t i = 0; i < count; ++i) {
    input_->read(source_row(first + i) * row_bytes_, out.subspan(i * row_bytes_, row_bytes_));
  }
}

void RopePermuteSource::release_range(uint64_t offset, uint64_t length) const {
  // Rows move only within their head, so the heads wholly inside the range are done with.
  const uint64_t head_bytes = rows_per_head_ * row_bytes_;
  const uint64_t begin = (offset + head_bytes - 1) / head_bytes * head_bytes;
  const uint64_t end = std::min(offset + length, byte_size()) / head_bytes * head_bytes;
  if (end > begin) input_->release_range(begin, end - begin);
}

}  // namespace owl::arch
