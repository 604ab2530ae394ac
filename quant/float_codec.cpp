#include "quant/float_codec.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "quant/float_codec_x86.h"

namespace owl {

float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  const uint32_t man = h & 0x3ff;
  uint32_t bits;
  if (exp == 0x1f) {
    // Infinity, or a NaN made quiet with its payload kept, as F16C's conversion does.
    bits = sign | 0x7f800000 | (man ? 0x400000 : 0) | (man << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  } else if (man == 0) {
    bits = sign;
  } else {
    // Subnormal: the value is man * 2^-24, exact in float.
    const float v = static_cast<float>(man) * 0x1p-24f;
    return sign ? -v : v;
  }
  return std::bit_cast<float>(bits);
}

float bf16_to_f32(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

uint16_t f32_to_f16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint32_t sign = (x >> 16) & 0x8000;
  const uint32_t ax = x & 0x7fffffff;
  if (ax > 0x7f800000) return static_cast<uint16_t>(sign | 0x7e00 | ((ax >> 13) & 0x3ff));  // quiet NaN
  if (ax >= 0x477ff000) return static_cast<uint16_t>(sign | 0x7c00);  // rounds to 65536 or more
  if (ax >= 0x38800000) {
    // Normal in f16: rebias the exponent and round off 13 mantissa bits.
    const uint32_t base = ax - 0x38000000;
    uint32_t r = base >> 13;
    const uint32_t rem = base & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) ++r;
    return static_cast<uint16_t>(sign | r);
  }
  if (ax <= 0x33000000) return static_cast<uint16_t>(sign);  // at most half the smallest subnormal
  // Subnormal in f16: the result counts units of 2^-24.
  const uint32_t exp = ax >> 23;
  const uint32_t man = (ax & 0x7fffff) | 0x800000;
  const uint32_t shift = 126 - exp;
  uint32_t r = man >> shift;
  const uint32_t rem = man & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (r & 1))) ++r;
  return static_cast<uint16_t>(sign | r);
}

uint16_t f32_to_bf16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((x >> 16) | 0x40);  // quiet NaN
  return static_cast<uint16_t>((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

bool is_castable_float(ElemType t) {
  return t == ElemType::F64 || t == ElemType::F32 || t == ElemType::F16 || t == ElemType::BF16;
}

namespace {

void to_f32(ElemType from, const std::byte* in, float* out, size_t n) {
  if (x86::has_avx2_f16c() && (from == ElemType::F16 || from == ElemType::BF16)) {
    const auto* h = reinterpret_cast<const uint16_t*>(in);
    from == ElemType::F16 ? x86::f16_to_f32(h, out, n) : x86::bf16_to_f32(h, out, n);
    return;
  }
  switch (from) {
    case ElemType::F32:
      std::memcpy(out, in, n * 4);
      return;
    case ElemType::F64:
      for (size_t i = 0; i < n; ++i) {
        double d;
        std::memcpy(&d, in + 8 * i, 8);
        out[i] = static_cast<float>(d);
      }
      return;
    case ElemType::F16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, in + 2 * i, 2);
        out[i] = f16_to_f32(h);
      }
      return;
    case ElemType::BF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t b;
        std::memcpy(&b, in + 2 * i, 2);
        out[i] = bf16_to_f32(b);
      }
      return;
    default:
      throw std::logic_error("to_f32: not a castable float type");
  }
}

void from_f32(const float* in, ElemType to, std::byte* out, size_t n) {
  if (x86::has_avx2_f16c() && (to == ElemType::F16 || to == ElemType::BF16)) {
    auto* h = reinterpret_cast<uint16_t*>(out);
    to == ElemType::F16 ? x86::f32_to_f16(in, h, n) : x86::f32_to_bf16(in, h, n);
    return;
  }
  switch (to) {
    case ElemType::F32:
      std::memcpy(out, in, n * 4);
      return;
    case ElemType::F64:
      for (size_t i = 0; i < n; ++i) {
        const double d = in[i];
        std::memcpy(out + 8 * i, &d, 8);
      }
      return;
    case ElemType::F16:
      for (size_t i = 0; i < n; ++i) {
        const uint16_t h = f32_to_f16(in[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    case ElemType::BF16:
      for (size_t i = 0; i < n; ++i) {
        const uint16_t b = f32_to_bf16(in[i]);
        std::memcpy(out + 2 * i, &b, 2);
      }
      return;
    default:
      throw std::logic_error("from_f32: not a castable float type");
  }
}

// Elements converted per step through a float buffer on the stack.
constexpr uint64_t kCastBlock = 4096;

}  // namespace

void cast_elements(ElemType from, std::span<const std::byte> in, ElemType to, std::span<std::byte> out,
                   uint64_t n) {
  const uint64_t in_size = type_info(from).block_bytes, out_size = type_info(to).block_bytes;
  if (in.size() < n * in_size || out.size() < n * out_size) throw std::logic_error("cast_elements: short buffer");
  if (from == to) {
    std::memcpy(out.data(), in.data(), n * in_size);
    return;
  }
  const int64_t blocks = static_cast<int64_t>((n + kCastBlock - 1) / kCastBlock);
#pragma omp parallel for schedule(static) if (blocks > 8)
  for (int64_t b = 0; b < blocks; ++b) {
    float tmp[kCastBlock];
    const uint64_t first = static_cast<uint64_t>(b) * kCastBlock;
    const uint64_t count = std::min(kCastBlock, n - first);
    to_f32(from, in.data() + first * in_size, tmp, count);
    from_f32(tmp, to, out.data() + first * out_size, count);
  }
}

CastSource::CastSource(SourcePtr input, ElemType from, ElemType to, uint64_t elements)
    : input_(std::move(input)), from_(from), to_(to), elements_(elements) {
  if (!is_castable_float(from) || !is_castable_float(to)) throw std::logic_error("CastSource: not float types");
}

void CastSource::release_range(uint64_t offset, uint64_t length) const {
  const uint64_t out_size = type_info(to_).block_bytes, in_size = type_info(from_).block_bytes;
  input_->release_range(offset / out_size * in_size, length / out_size * in_size);
}

uint64_t CastSource::byte_size() const { return elements_ * type_info(to_).block_bytes; }

uint64_t CastSource::granule() const { return type_info(to_).block_bytes; }

void CastSource::read(uint64_t offset, std::span<std::byte> out) const {
  const uint64_t out_size = type_info(to_).block_bytes, in_size = type_info(from_).block_bytes;
  if (offset % out_size || out.size() % out_size) throw std::logic_error("CastSource: unaligned read");
  const uint64_t first = offset / out_size, n = out.size() / out_size;
  auto whole = input_->view();
  if (whole.data()) {
    cast_elements(from_, whole.subspan(first * in_size, n * in_size), to_, out, n);
    return;
  }
  std::vector<std::byte> in(n * in_size);
  input_->read(first * in_size, in);
  cast_elements(from_, in, to_, out, n);
}

}  // namespace owl
