#include "converters/arch/interleave.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

#include "formats/io/error.h"

namespace owl::arch {

InterleaveSource::InterleaveSource(SourcePtr a, SourcePtr b, uint64_t pieces)
    : a_(std::move(a)), b_(std::move(b)), pieces_(pieces) {
  if (pieces_ == 0 || a_->byte_size() % pieces_ || b_->byte_size() % pieces_ ||
      a_->byte_size() == 0 || b_->byte_size() == 0)
    throw UsageError("cannot deal tensors of " + std::to_string(a_->byte_size()) + " and " +
                     std::to_string(b_->byte_size()) + " bytes into " + std::to_string(pieces_) +
                     " pairs of pieces");
  a_piece_ = a_->byte_size() / pieces_;
  b_piece_ = b_->byte_size() / pieces_;
  // A read may cross from one piece to the next only where both inputs may be read from; when
  // the pieces are not whole granules of both, only whole pairs are.
  const uint64_t g =
      std::lcm(std::max<uint64_t>(1, a_->granule()), std::max<uint64_t>(1, b_->granule()));
  granule_ = a_piece_ % g == 0 && b_piece_ % g == 0 ? g : a_piece_ + b_piece_;
}

void InterleaveSource::read(uint64_t offset, std::span<std::byte> out) const {
  if (offset > byte_size() || out.size() > byte_size() - offset)
    throw std::out_of_range("InterleaveSource::read");
  const uint64_t pair = a_piece_ + b_piece_;
  uint64_t done = 0;
  while (done < out.size()) {
    const uint64_t at = offset + done, p = at / pair, within = at % pair;
    const bool from_a = within < a_piece_;
    const uint64_t piece = from_a ? a_piece_ : b_piece_;
    const uint64_t in_piece = from_a ? within : within - a_piece_;
    const uint64_t n = std::min(piece - in_piece, out.size() - done);
    (from_a ? a_ : b_)->read(p * piece + in_piece, out.subspan(done, n));
    done += n;
  }
}

void InterleaveSource::release() const {
  a_->release();
  b_->release();
}

void InterleaveSource::release_range(uint64_t offset, uint64_t length) const {
  if (offset >= byte_size()) return;
  length = std::min(length, byte_size() - offset);
  const uint64_t pair = a_piece_ + b_piece_;
  const uint64_t first = (offset + pair - 1) / pair;
  const uint64_t end = (offset + length) / pair;
  if (first >= end) return;
  a_->release_range(first * a_piece_, (end - first) * a_piece_);
  b_->release_range(first * b_piece_, (end - first) * b_piece_);
}

}  // namespace owl::arch
