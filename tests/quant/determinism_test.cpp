#include <catch2/catch.hpp>

#include <omp.h>

#include <cstring>
#include <random>

#include "converters/source.h"
#include "quant/float_codec.h"
#include "quant/quantize_source.h"

using namespace owl;

namespace {

std::vector<std::byte> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0, 1);
  std::vector<float> f(n);
  for (auto& x : f) x = d(rng);
  std::vector<std::byte> b(n * 4);
  std::memcpy(b.data(), f.data(), b.size());
  return b;
}

// The bytes a source produces with `threads` OpenMP threads.
std::vector<std::byte> produce(const Source& s, int threads) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  auto out = read_all(s);
  omp_set_num_threads(saved);
  return out;
}

}  // namespace

TEST_CASE("casts and quantization give the same bytes whatever the thread count", "[quant]") {
  const uint64_t rows = 300, cols = 4096;
  auto input = std::make_shared<BufferSource>(random_floats(rows * cols, 5));
  CastSource cast(input, ElemType::F32, ElemType::F16, rows * cols);
  QuantizeSource quant(input, ElemType::F32, ElemType::Q8_0, rows, cols);
  for (const Source* s : {static_cast<const Source*>(&cast), static_cast<const Source*>(&quant)}) {
    const auto one = produce(*s, 1);
    CHECK(produce(*s, 2) == one);
    CHECK(produce(*s, 7) == one);
  }
}
