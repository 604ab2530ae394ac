#include "converters/arch/slice.h"

#include <stdexcept>

namespace owl::arch {

SliceSource::SliceSource(SourcePtr input, uint64_t offset, uint64_t size)
    : input_(std::move(input)), offset_(offset), size_(size) {
  const uint64_t total = input_->byte_size();
  if (offset > total || size > total - offset)
    throw std::out_of_range("SliceSource: beyond the end of its input");
}

void SliceSource::read(uint64_t offset, std::span<std::byte> out) const {
  if (offset > size_ || out.size() > size_ - offset) throw std::out_of_range("SliceSource::read");
  input_->read(offset_ + offset, out);
}

std::span<const std::byte> SliceSource::view() const {
  auto whole = input_->view();
  return whole.size() >= offset_ + size_ ? whole.subspan(offset_, size_)
                                         : std::span<const std::byte>{};
}

}  // namespace owl::arch
