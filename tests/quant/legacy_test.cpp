#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>

#include "quant/float_codec.h"
#include "quant/legacy.h"

using namespace owl;

TEST_CASE("Q8_0 rounds halves away from zero with a scale of max/127", "[quant]") {
  float x[32] = {127.0f, 63.5f, -63.5f, 0.5f, -0.5f, 1.49f};
  std::byte out[34];
  quantize_q8_0(x, out, 32);
  uint16_t d;
  std::memcpy(&d, out, 2);
  CHECK(f16_to_f32(d) == 1.0f);
  CHECK(static_cast<int8_t>(out[2]) == 127);
  CHECK(static_cast<int8_t>(out[3]) == 64);
  CHECK(static_cast<int8_t>(out[4]) == -64);
  CHECK(static_cast<int8_t>(out[5]) == 1);
  CHECK(static_cast<int8_t>(out[6]) == -1);
  CHECK(static_cast<int8_t>(out[7]) == 1);
}

TEST_CASE("Q8_0 round trip error is at most half a step", "[quant]") {
  std::mt19937 rng(1);
  std::normal_distribution<float> n(0, 0.02f);
  std::vector<float> x(32 * 64), y(x.size());
  for (auto& v : x) v = n(rng);
  std::vector<std::byte> q(64 * 34);
  quantize_q8_0(x.data(), q.data(), x.size());
  dequantize_q8_0(q.data(), y.data(), y.size());
  for (size_t b = 0; b < 64; ++b) {
    float amax = 0;
    for (size_t j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
    const float step = amax / 127;
    for (size_t j = 0; j < 32; ++j) REQUIRE(std::fabs(x[b * 32 + j] - y[b * 32 + j]) <= step * 0.5f + amax * 1e-3f);
  }
}

TEST_CASE("an all-zero Q8_0 block has a zero scale and zero weights", "[quant]") {
  float x[32] = {};
  std::byte out[34];
  std::memset(out, 0xff, sizeof out);
  quantize_q8_0(x, out, 32);
  for (auto b : out) CHECK(b == std::byte{0});
}
