// A contiguous part of another source: Gemma 3's embedding trimmed to the tokenizer's vocabulary,
// one expert's half of a fused gate/up matrix.
#pragma once

#include <cstdint>

#include "converters/source.h"

namespace owl::arch {

// The bytes [offset, offset + size) of `input`, which must lie within it.
class SliceSource final : public Source {
 public:
  SliceSource(SourcePtr input, uint64_t offset, uint64_t size);
  uint64_t byte_size() const override { return size_; }
  uint64_t granule() const override { return input_->granule(); }
  void read(uint64_t offset, std::span<std::byte> out) const override;
  std::span<const std::byte> view() const override;
  void release() const override { input_->release_range(offset_, size_); }
  void release_range(uint64_t offset, uint64_t length) const override {
    input_->release_range(offset_ + offset, length);
  }

 private:
  SourcePtr input_;
  uint64_t offset_, size_;
};

}  // namespace owl::arch
