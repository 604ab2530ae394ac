// Tensor data as torch lays it out: a span of bytes held elsewhere, and a strided view of a
// storage gathered into contiguous row-major order.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "converters/source.h"

namespace owl::pytorch {

// Bytes owned by the caller (a checkpoint parsed from memory); they must outlive the source.
class SpanSource final : public Source {
 public:
  explicit SpanSource(std::span<const std::byte> bytes) : bytes_(bytes) {}
  uint64_t byte_size() const override { return bytes_.size(); }
  void read(uint64_t offset, std::span<std::byte> out) const override;
  std::span<const std::byte> view() const override { return bytes_; }

 private:
  std::span<const std::byte> bytes_;
};

// Element (i0, i1, ...) of the view is storage element offset + sum(i_k * stride_k). The
// caller has checked that every such element lies inside the storage.
class StridedSource final : public Source {
 public:
  StridedSource(SourcePtr storage, uint64_t elem_bytes, uint64_t offset,
                std::vector<uint64_t> sizes, std::vector<uint64_t> strides);
  uint64_t byte_size() const override { return bytes_; }
  uint64_t granule() const override { return elem_bytes_; }
  void read(uint64_t offset, std::span<std::byte> out) const override;

 private:
  SourcePtr storage_;
  uint64_t elem_bytes_;
  uint64_t offset_;
  std::vector<uint64_t> sizes_;
  std::vector<uint64_t> strides_;
  uint64_t bytes_;
};

}  // namespace owl::pytorch
