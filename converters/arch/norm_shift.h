// Gemma's RMSNorm weights: stored as (w - 1) by Hugging Face, as w by llama.cpp.
#pragma once

#include <cstdint>

#include "converters/source.h"
#include "converters/types.h"

namespace owl::arch {

// Adds `delta` to every element of a float source and stores the sum as `to`. The sum is
// rounded to `sum_type` first: convert_hf_to_gguf.py adds in F16 for F16 weights (torch keeps
// them F16) and in F32 for BF16 and F32 ones (upcast first), and owl gives the same bytes.
// F32, F16 and BF16 in and out.
class NormShiftSource final : public Source {
 public:
  NormShiftSource(SourcePtr input, ElemType from, ElemType to, uint64_t elements, float delta,
                  ElemType sum_type = ElemType::F32);
  uint64_t byte_size() const override;
  uint64_t granule() const override;
  void read(uint64_t offset, std::span<std::byte> out) const override;
  void release() const override { input_->release(); }
  void release_range(uint64_t offset, uint64_t length) const override;

  static bool supports(ElemType t);

 private:
  SourcePtr input_;
  ElemType from_, to_, sum_type_;
  uint64_t elements_;
  float delta_;
};

}  // namespace owl::arch
