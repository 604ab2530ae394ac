#include "converters/arch/stack.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

#include "formats/io/error.h"

namespace owl::arch {

StackSource::StackSource(std::vector<SourcePtr> parts) : parts_(std::move(parts)) {
  if (parts_.empty()) throw UsageError("cannot stack zero tensors");
  part_size_ = parts_[0]->byte_size();
  for (const SourcePtr& p : parts_) {
    if (p->byte_size() != part_size_)
      throw UsageError("cannot stack tensors of " + std::to_string(part_size_) + " and " +
                       std::to_string(p->byte_size()) + " bytes");
    granule_ = std::lcm(granule_, std::max<uint64_t>(1, p->granule()));
  }
  // A read may then cross a part's end only at a granule boundary of every part.
  if (part_size_ % granule_) granule_ = 1;
}

template <typename Fn>
void StackSource::for_each_part(uint64_t offset, uint64_t length, Fn&& fn) const {
  if (part_size_ == 0) return;
  uint64_t done = 0;
  while (done < length) {
    const uint64_t at = offset + done;
    const uint64_t part = at / part_size_, within = at % part_size_;
    const uint64_t n = std::min(part_size_ - within, length - done);
    fn(*parts_[part], within, n, done);
    done += n;
  }
}

void StackSource::read(uint64_t offset, std::span<std::byte> out) const {
  if (offset > byte_size() || out.size() > byte_size() - offset)
    throw std::out_of_range("StackSource::read");
  for_each_part(offset, out.size(), [&](const Source& p, uint64_t within, uint64_t n, uint64_t at) {
    p.read(within, out.subspan(at, n));
  });
}

void StackSource::release() const {
  for (const SourcePtr& p : parts_) p->release();
}

void StackSource::release_range(uint64_t offset, uint64_t length) const {
  if (offset >= byte_size()) return;
  length = std::min(length, byte_size() - offset);
  for_each_part(offset, length, [](const Source& p, uint64_t within, uint64_t n, uint64_t) {
    p.release_range(within, n);
  });
}

}  // namespace owl::arch
