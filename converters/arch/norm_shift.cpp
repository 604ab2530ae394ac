#include "converters/arch/norm_shift.h"

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "formats/io/error.h"
#include "quant/float_codec.h"

namespace owl::arch {
namespace {

uint64_t elem_bytes(ElemType t) {
  return type_info(t).block_bytes;
}

float load(ElemType t, const std::byte* p) {
  switch (t) {
    case ElemType::F32: {
      float f;
      std::memcpy(&f, p, 4);
      return f;
    }
    case ElemType::F16:
    case ElemType::BF16: {
      uint16_t h;
      std::memcpy(&h, p, 2);
      return t == ElemType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
    }
    default:
      throw std::logic_error("NormShiftSource: unsupported type");
  }
}

void store(ElemType t, float f, std::byte* p) {
  if (t == ElemType::F32) {
    std::memcpy(p, &f, 4);
    return;
  }
  const uint16_t h = t == ElemType::F16 ? f32_to_f16(f) : f32_to_bf16(f);
  std::memcpy(p, &h, 2);
}

}  // namespace

bool NormShiftSource::supports(ElemType t) {
  return t == ElemType::F32 || t == ElemType::F16 || t == ElemType::BF16;
}

NormShiftSource::NormShiftSource(SourcePtr input, ElemType from, ElemType to, uint64_t elements,
                                 float delta, ElemType sum_type)
    : input_(std::move(input)),
      from_(from),
      to_(to),
      sum_type_(sum_type),
      elements_(elements),
      delta_(delta) {
  if (!supports(from) || !supports(to) || !supports(sum_type)) {
    throw UsageError("norm shift: " + std::string(type_name(from)) + " -> " +
                     std::string(type_name(to)) + " is not a float conversion owl shifts");
  }
  if (input_->byte_size() != elements * elem_bytes(from))
    throw UsageError("norm shift: the source's bytes do not hold " + std::to_string(elements) +
                     " elements");
}

uint64_t NormShiftSource::byte_size() const {
  return elements_ * elem_bytes(to_);
}
uint64_t NormShiftSource::granule() const {
  return elem_bytes(to_);
}

void NormShiftSource::read(uint64_t offset, std::span<std::byte> out) const {
  const uint64_t ob = elem_bytes(to_), ib = elem_bytes(from_);
  if (offset % ob || out.size() % ob || offset > byte_size() || out.size() > byte_size() - offset)
    throw std::out_of_range("NormShiftSource::read: range not element-aligned or out of bounds");
  const uint64_t first = offset / ob, n = out.size() / ob;
  std::vector<std::byte> in(n * ib);
  input_->read(first * ib, in);
  std::byte sum[4];
  for (uint64_t i = 0; i < n; ++i) {
    store(sum_type_, load(from_, in.data() + i * ib) + delta_, sum);
    store(to_, load(sum_type_, sum), out.data() + i * ob);
  }
}

void NormShiftSource::release_range(uint64_t offset, uint64_t length) const {
  const uint64_t ob = elem_bytes(to_), ib = elem_bytes(from_);
  input_->release_range(offset / ob * ib, length / ob * ib);
}

}  // namespace owl::arch
