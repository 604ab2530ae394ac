#include "quant/lowbit.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "quant/block_math.h"

namespace owl {

using block::load_f16;
using block::store_f16;
using block::u8;

void quantize_q1_0(const float* x, std::byte* out, size_t n) {
  for (size_t b = 0; b < n / kQ1_0BlockElems; ++b, x += kQ1_0BlockElems, out += kQ1_0BlockBytes) {
    float sum_abs = 0;
    for (size_t j = 0; j < kQ1_0BlockElems; ++j) sum_abs += std::fabs(x[j]);
    store_f16(out, sum_abs / kQ1_0BlockElems);
    uint8_t bits[kQ1_0BlockElems / 8] = {};
    // -0.0 >= 0 holds: a negative zero keeps the positive sign, as in ggml.
    for (size_t j = 0; j < kQ1_0BlockElems; ++j) {
      if (x[j] >= 0.0f) bits[j / 8] = static_cast<uint8_t>(bits[j / 8] | (1u << (j % 8)));
    }
    std::copy(bits, bits + sizeof bits, reinterpret_cast<uint8_t*>(out + 2));
  }
}

void dequantize_q1_0(const std::byte* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kQ1_0BlockElems; ++b, in += kQ1_0BlockBytes, y += kQ1_0BlockElems) {
    const float d = load_f16(in);
    for (size_t j = 0; j < kQ1_0BlockElems; ++j) y[j] = (u8(in + 2, j / 8) >> (j % 8)) & 1 ? d : -d;
  }
}

void quantize_q2_0(const float* x, std::byte* out, size_t n) {
  for (size_t b = 0; b < n / kQ2_0BlockElems; ++b, x += kQ2_0BlockElems, out += kQ2_0BlockBytes) {
    float amax = 0;
    for (size_t j = 0; j < kQ2_0BlockElems; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax;
    // A denormal d overflows its inverse to infinity; the conversion then gives INT32_MIN, as
    // ggml's (int)roundf does on x86, and the code clamps to 0.
    const float id = d > 0.0f ? 1.0f / d : 0.0f;
    store_f16(out, d);
    uint8_t codes[kQ2_0BlockElems / 4] = {};
    for (size_t j = 0; j < kQ2_0BlockElems; ++j) {
      const int64_t q = int64_t{block::truncate_x86(std::round(x[j] * id))} + 1;
      const auto code = static_cast<uint8_t>(std::clamp<int64_t>(q, 0, 3));
      codes[j / 4] = static_cast<uint8_t>(codes[j / 4] | (code << (2 * (j % 4))));
    }
    std::copy(codes, codes + sizeof codes, reinterpret_cast<uint8_t*>(out + 2));
  }
}

void dequantize_q2_0(const std::byte* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kQ2_0BlockElems; ++b, in += kQ2_0BlockBytes, y += kQ2_0BlockElems) {
    const float d = load_f16(in);
    for (size_t j = 0; j < kQ2_0BlockElems; ++j) {
      const int code = (u8(in + 2, j / 4) >> (2 * (j % 4))) & 3;
      y[j] = static_cast<float>(code - 1) * d;
    }
  }
}

}  // namespace owl
