// Q1_0 and Q2_0 on blocks whose bytes are known by hand. Bit-exactness with ggml is
// codec_test.cpp's job (tests/data/quant/ggml holds ggml's bytes for both).
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "quant/block_math.h"
#include "quant/lowbit.h"

using namespace owl;

TEST_CASE("Q1_0 keeps each weight's sign against the block's mean magnitude", "[quant]") {
  std::vector<float> x(kQ1_0BlockElems);
  for (size_t j = 0; j < x.size(); ++j) x[j] = (j % 3 == 0 ? -1.0f : 3.0f);
  x[1] = -0.0f;  // counts as non-negative, as in ggml
  std::vector<std::byte> q(kQ1_0BlockBytes);
  quantize_q1_0(x.data(), q.data(), x.size());
  float sum = 0;
  for (float v : x) sum += std::fabs(v);
  const float d = block::load_f16(q.data());
  CHECK(d == Approx(sum / 128).epsilon(1e-3));
  std::vector<float> y(x.size());
  dequantize_q1_0(q.data(), y.data(), y.size());
  for (size_t j = 0; j < x.size(); ++j) CHECK(y[j] == (std::signbit(x[j]) && x[j] != 0 ? -d : d));
}

TEST_CASE("Q2_0 rounds each weight to -1, 0, 1 or 2 times the largest magnitude", "[quant]") {
  std::vector<float> x(kQ2_0BlockElems, 0.0f);
  x[0] = -2.0f;  // the largest magnitude: d = 2
  x[1] = 2.0f;
  x[2] = 0.9f;   // 0.45 rounds to 0
  x[3] = 1.0f;   // 0.5 rounds away from zero, to 1
  x[4] = -1.2f;  // -0.6 rounds to -1
  std::vector<std::byte> q(kQ2_0BlockBytes);
  quantize_q2_0(x.data(), q.data(), x.size());
  CHECK(block::load_f16(q.data()) == 2.0f);
  // Codes are round + 1, four to a byte from the low bits: 0, 2, 1, 2 then 0 and 1s.
  CHECK(block::u8(q.data() + 2, 0) == (0 | 2 << 2 | 1 << 4 | 2 << 6));
  CHECK(block::u8(q.data() + 2, 1) == (0 | 1 << 2 | 1 << 4 | 1 << 6));
  std::vector<float> y(x.size());
  dequantize_q2_0(q.data(), y.data(), y.size());
  CHECK(y[0] == -2.0f);
  CHECK(y[1] == 2.0f);
  CHECK(y[2] == 0.0f);
  CHECK(y[3] == 2.0f);
  CHECK(y[4] == -2.0f);
}

TEST_CASE("Q2_0 of a zero block is scale 0 and code 1 everywhere", "[quant]") {
  std::vector<float> x(kQ2_0BlockElems, 0.0f);
  std::vector<std::byte> q(kQ2_0BlockBytes);
  quantize_q2_0(x.data(), q.data(), x.size());
  CHECK(block::load_f16(q.data()) == 0.0f);
  for (size_t i = 2; i < q.size(); ++i) CHECK(block::u8(q.data(), i) == 0x55);
}
