#include "formats/pytorch/view_source.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace owl::pytorch {

void SpanSource::read(uint64_t offset, std::span<std::byte> out) const {
  if (offset > bytes_.size() || out.size() > bytes_.size() - offset)
    throw std::out_of_range("SpanSource::read");
  std::memcpy(out.data(), bytes_.data() + offset, out.size());
}

StridedSource::StridedSource(SourcePtr storage, uint64_t elem_bytes, uint64_t offset,
                             std::vector<uint64_t> sizes, std::vector<uint64_t> strides)
    : storage_(std::move(storage)),
      elem_bytes_(elem_bytes),
      offset_(offset),
      sizes_(std::move(sizes)),
      strides_(std::move(strides)) {
  uint64_t n = 1;
  for (uint64_t s : sizes_) n *= s;  // checked by the caller
  bytes_ = n * elem_bytes_;
}

void StridedSource::read(uint64_t offset, std::span<std::byte> out) const {
  if (offset % elem_bytes_ || out.size() % elem_bytes_ || offset > bytes_ ||
      out.size() > bytes_ - offset)
    throw std::out_of_range("StridedSource::read");
  uint64_t first = offset / elem_bytes_;
  uint64_t left = out.size() / elem_bytes_;
  if (left == 0) return;
  const size_t dims = sizes_.size();
  if (dims == 0) {  // a scalar: one element
    storage_->read(offset_ * elem_bytes_, out);
    return;
  }
  // The multi-index of the first element wanted, innermost last.
  std::vector<uint64_t> idx(dims);
  for (size_t d = dims; d-- > 0;) {
    idx[d] = first % sizes_[d];
    first /= sizes_[d];
  }
  const auto whole = storage_->view();
  std::byte* dst = out.data();
  const size_t inner = dims - 1;
  while (left > 0) {
    uint64_t pos = offset_;
    for (size_t d = 0; d < dims; ++d) pos += idx[d] * strides_[d];
    const uint64_t run = std::min(left, sizes_[inner] - idx[inner]);
    const uint64_t step = strides_[inner];
    for (uint64_t k = 0; k < run;) {
      // Consecutive elements along a stride-1 innermost dimension are copied in one go.
      const uint64_t n = step == 1 ? run : 1;
      const uint64_t at = (pos + k * step) * elem_bytes_;
      if (whole.data()) {
        std::memcpy(dst, whole.data() + at, n * elem_bytes_);
      } else {
        storage_->read(at, {dst, n * elem_bytes_});
      }
      dst += n * elem_bytes_;
      k += n;
    }
    left -= run;
    idx[inner] += run;
    for (size_t d = inner; d > 0 && idx[d] == sizes_[d]; --d) {
      idx[d] = 0;
      ++idx[d - 1];
    }
  }
}

}  // namespace owl::pytorch
