#include "converters/arch/slice.h"

#include <stdexcept>

namespace owl::arch {

PrefixSource::PrefixSource(SourcePtr input, uint64_t size) : input_(std::move(input)), size_(size) {
  if (size > input_->byte_size()) throw std::out_of_range("PrefixSource: longer than its input");
}

void PrefixSource::read(uint64_t offset, std::span<std::byte> out) const {
  if (offset > size_ || out.size() > size_ - offset) throw std::out_of_range("PrefixSource::read");
  input_->read(offset, out);
}

std::span<const std::byte> PrefixSource::view() const {
  auto whole = input_->view();
  return whole.size() >= size_ ? whole.first(size_) : std::span<const std::byte>{};
}

}  // namespace owl::arch
