// Lazy views that turn the expert stacks transformers and OpenAI store into the ones GGUF holds:
// a transpose of [experts, in, out] parameters (gpt-oss, Llama 4), and MXFP4 blocks repacked bit
// for bit from OpenAI's layout into ggml's. Both pick a subset of the output rows, so one fused
// gate-and-up tensor gives GGUF's two.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "converters/source.h"

namespace owl::arch {

// Rows start, start + step, ... (count of them) of each expert.
struct RowPick {
  uint64_t start = 0, step = 1, count = 0;
};

// Input [experts, rows, cols] of `elem_bytes`-sized elements; output [experts, pick.count, rows]
// with out[e][k][r] = in[e][r][pick.start + k * pick.step]. An expert's output is built whole
// and kept until a read needs another expert, so streaming the stack in order transposes each
// expert once and holds one expert's matrix, whatever the stack's size.
class TransposedExpertsSource final : public Source {
 public:
  // Throws UsageError when the pick leaves the columns or the sizes do not match the input.
  TransposedExpertsSource(SourcePtr input, uint64_t experts, uint64_t rows, uint64_t cols,
                          uint64_t elem_bytes, RowPick pick);
  uint64_t byte_size() const override { return experts_ * expert_bytes_; }
  uint64_t granule() const override { return elem_; }
  void read(uint64_t offset, std::span<std::byte> out) const override;
  void release() const override;
  void release_range(uint64_t offset, uint64_t length) const override;

 private:
  void transpose(uint64_t expert, std::span<std::byte> out) const;

  SourcePtr input_;
  uint64_t experts_, rows_, cols_, elem_;
  RowPick pick_;
  uint64_t expert_bytes_;  // of the output
  mutable std::mutex mu_;
  mutable std::vector<std::byte> cache_;
  mutable uint64_t cached_ = UINT64_MAX;
};

// OpenAI's MXFP4 stacks: `blocks` [experts, rows, groups, 16] holding two E2M1 codes a byte (the
// even-numbered weight in the low nibble), `scales` [experts, rows, groups] E8M0 exponents.
// Output: ggml MXFP4 rows [experts, pick.count, groups * 32], each block the exponent byte and
// 16 bytes with weight j in the low nibble of byte j and weight j + 16 in its high nibble. The
// codes and exponents are moved, never decoded.
class Mxfp4RepackSource final : public Source {
 public:
  Mxfp4RepackSource(SourcePtr blocks, SourcePtr scales, uint64_t experts, uint64_t rows,
                    uint64_t groups, RowPick pick);
  uint64_t byte_size() const override;
  uint64_t granule() const override;
  void read(uint64_t offset, std::span<std::byte> out) const override;
  void release() const override;
  // Releases the input rows from the first to the last that the range covers whole (with a
  // stride, the other pick's rows between them too: a hint, they read back the same).
  void release_range(uint64_t offset, uint64_t length) const override;

  // One block's 16 bytes from OpenAI's nibble order to ggml's.
  static void repack_block(const std::byte* openai, std::byte* ggml);

 private:
  SourcePtr blocks_, scales_;
  uint64_t experts_, rows_, groups_;
  RowPick pick_;
};

// The way back: ggml's MXFP4 blocks (an exponent byte, then 16 bytes of codes) split into
// OpenAI's two tensors, the codes in OpenAI's nibble order (16 bytes a block) or the exponents
// (one byte a block). Moved, never decoded; a read holds at most a bounded run of blocks.
class Mxfp4SplitSource final : public Source {
 public:
  enum class Part : uint8_t { codes, exponents };
  // Throws UsageError when `ggml` is not whole MXFP4 blocks.
  Mxfp4SplitSource(SourcePtr ggml, Part part);
  uint64_t byte_size() const override { return blocks_ * out_block_; }
  uint64_t granule() const override { return out_block_; }
  void read(uint64_t offset, std::span<std::byte> out) const override;
  void release() const override { ggml_->release(); }
  void release_range(uint64_t offset, uint64_t length) const override;

  // One block's 16 bytes from ggml's nibble order to OpenAI's (the inverse of repack_block).
  static void unpack_block(const std::byte* ggml, std::byte* openai);

 private:
  SourcePtr ggml_;
  Part part_;
  uint64_t blocks_, out_block_;
};

}  // namespace owl::arch
