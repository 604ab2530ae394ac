// Two tensors dealt back into one, piece by piece: the way back of a split that dealt one
// tensor's rows out to two (gpt-oss's gate and up outputs, which take turns; Llama 4's and
// Granite's gate above up in each expert; DeepSeek's key rows above value rows in each head).
#pragma once

#include <cstdint>

#include "converters/source.h"

namespace owl::arch {

// `a` and `b` each cut into `pieces` equal pieces (a's may differ in size from b's); the output
// is a's first piece, b's first, a's second, b's second, ... Reads go straight from the inputs
// into the caller's buffer, so nothing is held; a stack of experts streamed in order touches
// one expert after another of both inputs.
class InterleaveSource final : public Source {
 public:
  // Throws UsageError when there are no pieces or an input does not cut into them evenly.
  InterleaveSource(SourcePtr a, SourcePtr b, uint64_t pieces);
  uint64_t byte_size() const override { return pieces_ * (a_piece_ + b_piece_); }
  uint64_t granule() const override { return granule_; }
  void read(uint64_t offset, std::span<std::byte> out) const override;
  void release() const override;
  // Releases the inputs' bytes of the pairs of pieces the range covers whole.
  void release_range(uint64_t offset, uint64_t length) const override;

 private:
  SourcePtr a_, b_;
  uint64_t pieces_, a_piece_ = 0, b_piece_ = 0, granule_ = 1;
};

}  // namespace owl::arch
