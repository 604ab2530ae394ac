#include "converters/arch/head_rows.h"

#include <cstring>
#include <stdexcept>
#include <vector>

namespace owl::arch {

HeadRowsSource::HeadRowsSource(SourcePtr input, HeadRows layout)
    : input_(std::move(input)), layout_(layout) {
  const HeadRows& l = layout_;
  if (l.elem_bytes == 0 || l.count == 0 || l.first > l.rows_per_head ||
      l.count > l.rows_per_head - l.first ||
      input_->byte_size() != l.heads * l.rows_per_head * l.cols * l.elem_bytes)
    throw std::invalid_argument("HeadRowsSource: the rows do not fit the input");
  head_bytes_ = l.count * l.cols * l.elem_bytes;
}

void HeadRowsSource::read(uint64_t offset, std::span<std::byte> out) const {
  if (offset % head_bytes_ || out.size() % head_bytes_ || offset > byte_size() ||
      out.size() > byte_size() - offset)
    throw std::out_of_range("HeadRowsSource::read");
  const HeadRows& l = layout_;
  const uint64_t row_bytes = l.cols * l.elem_bytes;
  std::vector<std::byte> block(l.transpose ? head_bytes_ : 0);
  for (uint64_t done = 0; done < out.size(); done += head_bytes_) {
    const uint64_t head = (offset + done) / head_bytes_;
    const uint64_t from = (head * l.rows_per_head + l.first) * row_bytes;
    std::span<std::byte> dst = out.subspan(done, head_bytes_);
    if (!l.transpose) {
      input_->read(from, dst);
      continue;
    }
    input_->read(from, block);
    // Element (r, c) of the [count, cols] block goes to (c, r).
    for (uint64_t r = 0; r < l.count; ++r)
      for (uint64_t c = 0; c < l.cols; ++c)
        std::memcpy(dst.data() + (c * l.count + r) * l.elem_bytes,
                    block.data() + (r * l.cols + c) * l.elem_bytes, l.elem_bytes);
  }
}

}  // namespace owl::arch
