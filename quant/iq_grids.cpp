#include "quant/iq_grids.h"

namespace owl::iq {

namespace {

#include "quant/iq_grid_codes.inc"

constexpr uint8_t kIQ2Values[3] = {0x08, 0x19, 0x2b};
constexpr uint8_t kIQ3XXSValues[8] = {0x04, 0x0c, 0x14, 0x1c, 0x24, 0x2c, 0x34, 0x3e};
constexpr uint8_t kIQ3SValues[8] = {1, 3, 5, 7, 9, 11, 13, 15};
constexpr int8_t kIQ1Values[3] = {-1, 0, 1};

template <typename T, int N, int Width, int Bits, int Count>
void expand(const uint16_t (&codes)[N], const T (&values)[Count], T (&out)[N][Width]) {
  for (int i = 0; i < N; ++i)
    for (int k = 0; k < Width; ++k)
      out[i][k] = values[(codes[i] >> (Bits * k)) & ((1 << Bits) - 1)];
}

Grids make_grids() {
  Grids g;
  expand<uint8_t, 256, 8, 2>(kIQ2XXSCodes, kIQ2Values, g.iq2xxs);
  expand<uint8_t, 512, 8, 2>(kIQ2XSCodes, kIQ2Values, g.iq2xs);
  expand<uint8_t, 1024, 8, 2>(kIQ2SCodes, kIQ2Values, g.iq2s);
  expand<uint8_t, 256, 4, 3>(kIQ3XXSCodes, kIQ3XXSValues, g.iq3xxs);
  expand<uint8_t, 512, 4, 3>(kIQ3SCodes, kIQ3SValues, g.iq3s);
  expand<int8_t, 2048, 8, 2>(kIQ1SCodes, kIQ1Values, g.iq1s);
  return g;
}

}  // namespace

std::span<const uint16_t> grid_codes(GridId id) {
  switch (id) {
    case GridId::IQ2XXS:
      return kIQ2XXSCodes;
    case GridId::IQ2XS:
      return kIQ2XSCodes;
    case GridId::IQ2S:
      return kIQ2SCodes;
    case GridId::IQ3XXS:
      return kIQ3XXSCodes;
    case GridId::IQ3S:
      return kIQ3SCodes;
    case GridId::IQ1S:
      return kIQ1SCodes;
  }
  return {};
}

const Grids& grids() {
  static const Grids g = make_grids();
  return g;
}

}  // namespace owl::iq
