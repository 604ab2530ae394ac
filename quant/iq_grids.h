// The codebooks of ggml's IQ1, IQ2 and IQ3 types: a block stores indices of grid points, each
// point 8 (IQ1, IQ2) or 4 (IQ3) coordinates. The numbers are ggml's (quant/iq_grid_codes.inc).
#pragma once

#include <cstdint>
#include <span>

namespace owl::iq {

// The six codebooks. IQ1_S and IQ1_M share one.
enum class GridId { IQ2XXS, IQ2XS, IQ2S, IQ3XXS, IQ3S, IQ1S };

// Each point of a codebook as ggml numbers them, packed as level indices: coordinate k is level
// (code >> (bits * k)) & mask, with 2 bits a coordinate for the 8-coordinate grids and 3 for the
// 4-coordinate IQ3 grids. The quantizers search these levels, the dequantizers the values below.
std::span<const uint16_t> grid_codes(GridId id);

struct Grids {
  uint8_t iq2xxs[256][8];
  uint8_t iq2xs[512][8];
  uint8_t iq2s[1024][8];
  uint8_t iq3xxs[256][4];
  uint8_t iq3s[512][4];
  int8_t iq1s[2048][8];
};

// Expanded on first use.
const Grids& grids();

// The sign pattern of 8 values stored in 7 bits: bit 7 makes the count of minus signs even.
inline uint8_t even_signs(uint32_t seven_bits) {
  const uint8_t b = static_cast<uint8_t>(seven_bits & 127);
  return static_cast<uint8_t>(b | ((__builtin_popcount(b) & 1) << 7));
}

}  // namespace owl::iq
