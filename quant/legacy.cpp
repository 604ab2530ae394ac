#include "quant/legacy.h"

#include <cmath>
#include <cstring>

#include "quant/float_codec.h"

namespace owl {

void quantize_q8_0(const float* x, std::byte* out, size_t n) {
  for (size_t b = 0; b < n / kQ8_0BlockElems; ++b, x += kQ8_0BlockElems, out += kQ8_0BlockBytes) {
    float amax = 0;
    for (size_t j = 0; j < kQ8_0BlockElems; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    const uint16_t dh = f32_to_f16(d);
    std::memcpy(out, &dh, 2);
    for (size_t j = 0; j < kQ8_0BlockElems; ++j)
      out[2 + j] = static_cast<std::byte>(static_cast<int8_t>(std::round(x[j] * id)));
  }
}

void dequantize_q8_0(const std::byte* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kQ8_0BlockElems; ++b, in += kQ8_0BlockBytes, y += kQ8_0BlockElems) {
    uint16_t dh;
    std::memcpy(&dh, in, 2);
    const float d = f16_to_f32(dh);
    for (size_t j = 0; j < kQ8_0BlockElems; ++j) y[j] = static_cast<float>(static_cast<int8_t>(in[2 + j])) * d;
  }
}

}  // namespace owl
