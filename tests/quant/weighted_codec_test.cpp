// The importance-weighted quantizers through quantize_row_weighted: properties ggml's math
// implies, checked on every weighted type. Bit-exactness with ggml is
// tests/interop/test_weighted_codecs.py's job.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "quant/codec.h"

using namespace owl;

namespace {

const ElemType kWeighted[] = {ElemType::Q4_0, ElemType::Q4_1,   ElemType::Q5_0,  ElemType::Q5_1,
                              ElemType::Q2_K, ElemType::Q3_K,   ElemType::Q4_K,  ElemType::Q5_K,
                              ElemType::Q6_K, ElemType::IQ4_NL, ElemType::IQ4_XS};

std::vector<float> normal_row(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0, scale);
  std::vector<float> x(n);
  for (float& v : x) v = normal(rng);
  return x;
}

std::vector<std::byte> quantized(ElemType t, const std::vector<float>& x,
                                 const std::vector<float>* weights) {
  const TypeInfo& info = type_info(t);
  std::vector<std::byte> out(x.size() / info.block_elems * info.block_bytes);
  if (weights) {
    quantize_row_weighted(t, x, out, *weights);
  } else {
    quantize_row(t, x, out);
  }
  return out;
}

std::vector<float> dequantized(ElemType t, const std::vector<std::byte>& q, size_t n) {
  std::vector<float> y(n);
  dequantize_row(t, q, y);
  return y;
}

}  // namespace

TEST_CASE("every type ggml weighs has a weighted quantizer", "[quant][weighted]") {
  for (ElemType t : kWeighted) {
    INFO(type_name(t));
    CHECK(block_codec(t).quantize_weighted != nullptr);
  }
  // ggml's quantizers for these never read the importance matrix.
  for (ElemType t : {ElemType::Q8_0, ElemType::TQ1_0, ElemType::TQ2_0, ElemType::MXFP4,
                     ElemType::NVFP4, ElemType::Q1_0, ElemType::Q2_0}) {
    INFO(type_name(t));
    CHECK(block_codec(t).quantize_weighted == nullptr);
    const std::vector<float> x = normal_row(512, 3);
    const std::vector<float> w = normal_row(512, 4);
    CHECK(quantized(t, x, &w) == quantized(t, x, nullptr));
  }
}

TEST_CASE("the importance matrix changes the bytes, and only its ratios matter",
          "[quant][weighted]") {
  const size_t n = 1024;
  const std::vector<float> x = normal_row(n, 5);
  std::mt19937 rng(6);
  std::lognormal_distribution<float> spread(0, 1.5f);
  std::vector<float> w(n), w4(n), ones(n, 1.0f), fours(n, 4.0f);
  for (size_t i = 0; i < n; ++i) {
    w[i] = spread(rng);
    w4[i] = 4 * w[i];  // a power of two: every sum scales exactly, every ratio stays
  }
  for (ElemType t : kWeighted) {
    INFO(type_name(t));
    const auto weighted = quantized(t, x, &w);
    CHECK(weighted != quantized(t, x, &ones));
    CHECK(quantized(t, x, &w4) == weighted);
    CHECK(quantized(t, x, &fours) == quantized(t, x, &ones));
  }
}

TEST_CASE("a zero row dequantizes to zeros whatever the weights", "[quant][weighted]") {
  const size_t n = 512;
  const std::vector<float> zeros(n, 0.0f);
  const std::vector<float> w = normal_row(n, 7);
  std::vector<float> abs_w(n);
  for (size_t i = 0; i < n; ++i) abs_w[i] = std::fabs(w[i]);
  for (ElemType t : kWeighted) {
    INFO(type_name(t));
    for (float y : dequantized(t, quantized(t, zeros, &abs_w), n)) REQUIRE(y == 0.0f);
  }
}

TEST_CASE(
    "zero importance gives finite weights back, and a zero-weight column does not "
    "matter where the rest fixes the scale",
    "[quant][weighted]") {
  const size_t n = 512;
  const std::vector<float> x = normal_row(n, 8);
  const std::vector<float> no_importance(n, 0.0f);
  std::vector<float> w(n, 1.0f);
  w[37] = 0;
  for (ElemType t : kWeighted) {
    INFO(type_name(t));
    for (float y : dequantized(t, quantized(t, x, &no_importance), n)) REQUIRE(std::isfinite(y));
    for (float y : dequantized(t, quantized(t, x, &w), n)) REQUIRE(std::isfinite(y));
  }
}

TEST_CASE("weighted rows are quantized one at a time with the same weights", "[quant][weighted]") {
  const size_t n = 256, rows = 3;
  const std::vector<float> x = normal_row(n * rows, 9);
  const std::vector<float> w = normal_row(n, 10, 0.5f);
  std::vector<float> abs_w(n);
  for (size_t i = 0; i < n; ++i) abs_w[i] = std::fabs(w[i]) + 0.1f;
  for (ElemType t : kWeighted) {
    INFO(type_name(t));
    const auto all = quantized(t, x, &abs_w);
    const size_t row_bytes = all.size() / rows;
    for (size_t r = 0; r < rows; ++r) {
      const std::vector<float> row(x.begin() + r * n, x.begin() + (r + 1) * n);
      const auto one = quantized(t, row, &abs_w);
      CHECK(std::equal(one.begin(), one.end(), all.begin() + r * row_bytes));
    }
  }
}

TEST_CASE("quantize_row_weighted checks rows, blocks and finiteness", "[quant][weighted]") {
  std::vector<float> x(512, 0.5f), w(256, 1.0f);
  std::vector<std::byte> out(2 * 144);
  CHECK_NOTHROW(quantize_row_weighted(ElemType::Q4_K, x, out, w));
  std::vector<float> w3(384, 1.0f);  // 512 values are not whole rows of 384
  CHECK_THROWS_AS(quantize_row_weighted(ElemType::Q4_K, x, out, w3), std::invalid_argument);
  std::vector<float> w128(128, 1.0f);  // rows of 128 are not whole Q4_K super-blocks
  std::vector<std::byte> out4(4 * 144);
  CHECK_THROWS_AS(quantize_row_weighted(ElemType::Q4_K, x, out4, w128), std::invalid_argument);
  std::vector<std::byte> short_out(143);
  CHECK_THROWS_AS(quantize_row_weighted(ElemType::Q4_K, x, short_out, w), std::invalid_argument);
  x[300] = std::nanf("");
  CHECK_THROWS_AS(quantize_row_weighted(ElemType::Q4_K, x, out, w), NonFiniteValue);
}
