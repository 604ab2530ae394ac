// Conversions between the float types models are stored in, rounding as torch rounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "converters/source.h"
#include "converters/types.h"

namespace owl {

// Scalar conversions. Narrowing rounds to nearest, ties to even; overflow gives infinity;
// NaN stays NaN (quiet, sign kept).
float f16_to_f32(uint16_t h);
float bf16_to_f32(uint16_t b);
uint16_t f32_to_f16(float f);
uint16_t f32_to_bf16(float f);

// True for the types a float cast reads and writes: F64, F32, F16, BF16.
bool is_castable_float(ElemType t);

// Converts `n` elements from `from` to `to` (both castable). Like torch, F64 narrows to F32
// first and then to the target, so F64 -> F16 rounds twice exactly as `tensor.half()` does.
void cast_elements(ElemType from, std::span<const std::byte> in, ElemType to, std::span<std::byte> out,
                   uint64_t n);

// A lazy cast of another source.
class CastSource final : public Source {
 public:
  CastSource(SourcePtr input, ElemType from, ElemType to, uint64_t elements);
  uint64_t byte_size() const override;
  uint64_t granule() const override;
  void read(uint64_t offset, std::span<std::byte> out) const override;
  void release() const override { input_->release(); }
  void release_range(uint64_t offset, uint64_t length) const override;

 private:
  SourcePtr input_;
  ElemType from_, to_;
  uint64_t elements_;
};

}  // namespace owl
