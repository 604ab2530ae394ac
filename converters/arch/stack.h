// Several sources of one size end to end, as one: the experts of a mixture-of-experts layer,
// which Hugging Face stores one tensor per expert and GGUF as one 3-D tensor.
#pragma once

#include <cstdint>
#include <vector>

#include "converters/source.h"

namespace owl::arch {

// Part i holds the bytes [i * part_size, (i + 1) * part_size). A read is served by the parts it
// covers, each straight into the caller's buffer, so nothing is held beyond the caller's chunk:
// a consumer streaming the stack touches one expert after another, and releasing a range
// releases it in the parts under it.
class StackSource final : public Source {
 public:
  // Throws UsageError unless there is at least one part and all have the same size.
  explicit StackSource(std::vector<SourcePtr> parts);
  uint64_t byte_size() const override { return part_size_ * parts_.size(); }
  uint64_t granule() const override { return granule_; }
  void read(uint64_t offset, std::span<std::byte> out) const override;
  void release() const override;
  void release_range(uint64_t offset, uint64_t length) const override;

 private:
  // Calls fn(part, offset within it, length, offset within the range) for each part under
  // [offset, offset + length).
  template <typename Fn>
  void for_each_part(uint64_t offset, uint64_t length, Fn&& fn) const;

  std::vector<SourcePtr> parts_;
  uint64_t part_size_ = 0, granule_ = 1;
};

}  // namespace owl::arch
