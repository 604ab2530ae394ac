// Dequantizers of ggml's grid i-quants. Each weight's value is computed with the same float
// operations in the same order as ggml's `dequantize_row_*`, so the floats are the same bits.
#include <cstring>

#include "quant/block_math.h"
#include "quant/iq_grids.h"
#include "quant/iquants.h"

namespace owl {

using block::load_f16;
using block::u8;

namespace {

constexpr size_t kQK = 256;
constexpr float kIQ1Delta = 0.125f;

uint16_t u16(const std::byte* p, size_t i) {
  uint16_t v;
  std::memcpy(&v, p + 2 * i, 2);
  return v;
}

uint32_t u32(const std::byte* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

float sign(uint8_t signs, int j) {
  return (signs >> j) & 1 ? -1.f : 1.f;
}

// Eight weights from one grid point with its sign pattern.
void signed_point(const uint8_t* point, uint8_t signs, float scale, float* y) {
  for (int j = 0; j < 8; ++j) y[j] = scale * static_cast<float>(point[j]) * sign(signs, j);
}

// Four weights from each of two 4-coordinate points, signed by the 8 bits of `signs`.
void signed_points(const uint8_t* first, const uint8_t* second, uint8_t signs, float scale,
                   float* y) {
  for (int j = 0; j < 4; ++j) {
    y[j] = scale * static_cast<float>(first[j]) * sign(signs, j);
    y[j + 4] = scale * static_cast<float>(second[j]) * sign(signs, j + 4);
  }
}

// Eight weights from an IQ1 point (coordinates -1, 0, 1) shifted by +-delta.
void shifted_point(const int8_t* point, float delta, float scale, float* y) {
  for (int j = 0; j < 8; ++j) y[j] = scale * (static_cast<float>(point[j]) + delta);
}

}  // namespace

void dequantize_iq2_xxs(const std::byte* in, float* y, size_t n) {
  const auto& g = iq::grids();
  for (size_t b = 0; b < n / kQK; ++b, in += kIQ2_XXSBlockBytes) {
    const float d = load_f16(in);
    // Per 32 weights, 8 bytes: four grid indices, then 4 x 7 sign bits and a 4-bit scale.
    for (size_t ib = 0; ib < kQK / 32; ++ib) {
      const std::byte* q = in + 2 + 8 * ib;
      const uint32_t signs_scale = u32(q + 4);
      const float db = d * (0.5f + static_cast<float>(signs_scale >> 28)) * 0.25f;
      for (int l = 0; l < 4; ++l, y += 8)
        signed_point(g.iq2xxs[u8(q, l)], iq::even_signs(signs_scale >> (7 * l)), db, y);
    }
  }
}

void dequantize_iq2_xs(const std::byte* in, float* y, size_t n) {
  const auto& g = iq::grids();
  for (size_t b = 0; b < n / kQK; ++b, in += kIQ2_XSBlockBytes) {
    const float d = load_f16(in);
    const std::byte* qs = in + 2;  // 32 x (9-bit index, 7 sign bits)
    const std::byte* scales = in + 66;
    for (size_t ib = 0; ib < kQK / 32; ++ib) {
      const float db[2] = {d * (0.5f + static_cast<float>(u8(scales, ib) & 0xf)) * 0.25f,
                           d * (0.5f + static_cast<float>(u8(scales, ib) >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint16_t q = u16(qs, 4 * ib + l);
        signed_point(g.iq2xs[q & 511], iq::even_signs(q >> 9), db[l / 2], y);
      }
    }
  }
}

void dequantize_iq2_s(const std::byte* in, float* y, size_t n) {
  const auto& g = iq::grids();
  for (size_t b = 0; b < n / kQK; ++b, in += kIQ2_SBlockBytes) {
    const float d = load_f16(in);
    const std::byte* qs = in + 2;      // 32 low index bytes
    const std::byte* signs = in + 34;  // 32 sign bytes
    const std::byte* qh = in + 66;     // 8 bytes of high index bits
    const std::byte* scales = in + 74;
    for (size_t ib = 0; ib < kQK / 32; ++ib) {
      const float db[2] = {d * (0.5f + static_cast<float>(u8(scales, ib) & 0xf)) * 0.25f,
                           d * (0.5f + static_cast<float>(u8(scales, ib) >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        const int index = u8(qs, 4 * ib + l) | ((u8(qh, ib) << (8 - 2 * l)) & 0x300);
        signed_point(g.iq2s[index], u8(signs, 4 * ib + l), db[l / 2], y);
      }
    }
  }
}

void dequantize_iq3_xxs(const std::byte* in, float* y, size_t n) {
  const auto& g = iq::grids();
  for (size_t b = 0; b < n / kQK; ++b, in += kIQ3_XXSBlockBytes) {
    const float d = load_f16(in);
    const std::byte* qs = in + 2;             // 64 grid indices
    const std::byte* scales_signs = in + 66;  // 8 x (4 x 7 sign bits, 4-bit scale)
    for (size_t ib = 0; ib < kQK / 32; ++ib) {
      const uint32_t aux = u32(scales_signs + 4 * ib);
      const float db = d * (0.5f + static_cast<float>(aux >> 28)) * 0.5f;
      for (int l = 0; l < 4; ++l, y += 8) {
        signed_points(g.iq3xxs[u8(qs, 8 * ib + 2 * l)], g.iq3xxs[u8(qs, 8 * ib + 2 * l + 1)],
                      iq::even_signs(aux >> (7 * l)), db, y);
      }
    }
  }
}

void dequantize_iq3_s(const std::byte* in, float* y, size_t n) {
  const auto& g = iq::grids();
  for (size_t b = 0; b < n / kQK; ++b, in += kIQ3_SBlockBytes) {
    const float d = load_f16(in);
    const std::byte* qs = in + 2;        // 64 low index bytes
    const std::byte* qh = in + 66;       // 8 bytes: the ninth index bit of each
    const std::byte* signs = in + 74;    // 32 sign bytes
    const std::byte* scales = in + 106;  // 4 bytes of two 4-bit scales
    for (size_t ib = 0; ib < kQK / 32; ++ib) {
      const uint8_t s = u8(scales, ib / 2);
      const float db = d * static_cast<float>(1 + 2 * (ib % 2 == 0 ? (s & 0xf) : (s >> 4)));
      const uint8_t high = u8(qh, ib);
      for (int l = 0; l < 4; ++l, y += 8) {
        const int first = u8(qs, 8 * ib + 2 * l) | ((high << (8 - 2 * l)) & 256);
        const int second = u8(qs, 8 * ib + 2 * l + 1) | ((high << (7 - 2 * l)) & 256);
        signed_points(g.iq3s[first], g.iq3s[second], u8(signs, 4 * ib + l), db, y);
      }
    }
  }
}

void dequantize_iq1_s(const std::byte* in, float* y, size_t n) {
  const auto& g = iq::grids();
  for (size_t b = 0; b < n / kQK; ++b, in += kIQ1_SBlockBytes) {
    const float d = load_f16(in);
    const std::byte* qs = in + 2;   // 32 low index bytes
    const std::byte* qh = in + 34;  // 8 x u16: 4 x 3 high index bits, 3-bit scale, delta sign
    for (size_t ib = 0; ib < kQK / 32; ++ib) {
      const uint16_t h = u16(qh, ib);
      const float dl = d * static_cast<float>(2 * ((h >> 12) & 7) + 1);
      const float delta = h & 0x8000 ? -kIQ1Delta : kIQ1Delta;
      for (int l = 0; l < 4; ++l, y += 8)
        shifted_point(g.iq1s[u8(qs, 4 * ib + l) | (((h >> (3 * l)) & 7) << 8)], delta, dl, y);
    }
  }
}

void dequantize_iq1_m(const std::byte* in, float* y, size_t n) {
  const auto& g = iq::grids();
  for (size_t b = 0; b < n / kQK; ++b, in += kIQ1_MBlockBytes) {
    const std::byte* qs = in;       // 32 low index bytes
    const std::byte* qh = in + 32;  // 16 bytes: per point 3 high index bits and a delta sign
    const std::byte* sc = in + 48;  // 4 x u16: 3-bit scales, and the f16 scale in the top nibbles
    const uint16_t f16_bits =
        static_cast<uint16_t>((u16(sc, 0) >> 12) | ((u16(sc, 1) >> 8) & 0x00f0) |
                              ((u16(sc, 2) >> 4) & 0x0f00) | (u16(sc, 3) & 0xf000));
    const float d = f16_to_f32(f16_bits);
    for (size_t ib = 0; ib < kQK / 32; ++ib) {
      const uint16_t s = u16(sc, ib / 2);
      const int shift = 6 * static_cast<int>(ib % 2);
      const float dl[2] = {d * static_cast<float>(2 * ((s >> shift) & 7) + 1),
                           d * static_cast<float>(2 * ((s >> (shift + 3)) & 7) + 1)};
      const uint8_t h0 = u8(qh, 2 * ib), h1 = u8(qh, 2 * ib + 1);
      const int index[4] = {
          u8(qs, 4 * ib) | ((h0 << 8) & 0x700), u8(qs, 4 * ib + 1) | ((h0 << 4) & 0x700),
          u8(qs, 4 * ib + 2) | ((h1 << 8) & 0x700), u8(qs, 4 * ib + 3) | ((h1 << 4) & 0x700)};
      const float delta[4] = {
          h0 & 0x08 ? -kIQ1Delta : kIQ1Delta, h0 & 0x80 ? -kIQ1Delta : kIQ1Delta,
          h1 & 0x08 ? -kIQ1Delta : kIQ1Delta, h1 & 0x80 ? -kIQ1Delta : kIQ1Delta};
      for (int l = 0; l < 4; ++l, y += 8) shifted_point(g.iq1s[index[l]], delta[l], dl[l / 2], y);
    }
  }
}

}  // namespace owl
