// The k-quants' building blocks and layouts, checked on inputs whose answer is known by hand.
// Bit-exactness with ggml is codec_test.cpp's job.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "quant/block_math.h"
#include "quant/float_codec.h"
#include "quant/iquants.h"
#include "quant/kquants.h"
#include "quant/kquants_search.h"
#include "quant/kquants_search_x86.h"
#include "quant/legacy.h"

using namespace owl;

TEST_CASE("nearest_int rounds halves to even, as ggml's magic-number trick does", "[quant]") {
  using block::nearest_int;
  CHECK(nearest_int(2.5f) == 2);
  CHECK(nearest_int(3.5f) == 4);
  CHECK(nearest_int(-2.5f) == -2);
  CHECK(nearest_int(-0.5f) == 0);
  CHECK(nearest_int(0.49999997f) == 0);
  CHECK(nearest_int(-7.6f) == -8);
  CHECK(nearest_int(4194303.0f) == 4194303);
  CHECK(nearest_int(-4194303.0f) == -4194303);
}

TEST_CASE("truncate_x86 gives C's conversion with x86's answer where C has none", "[quant]") {
  using block::truncate_x86;
  CHECK(truncate_x86(3.9f) == 3);
  CHECK(truncate_x86(-3.9f) == -3);
  CHECK(truncate_x86(-2147483648.0f) == INT32_MIN);
  CHECK(truncate_x86(2147483520.0f) == 2147483520);
  CHECK(truncate_x86(2147483648.0f) == INT32_MIN);
  CHECK(truncate_x86(std::numeric_limits<float>::infinity()) == INT32_MIN);
  CHECK(truncate_x86(std::numeric_limits<float>::quiet_NaN()) == INT32_MIN);
  CHECK(block::to_int8_x86(300.7f) == 44);  // 300 mod 256
  CHECK(block::to_uint8_x86(-1.5f) == 255);
}

TEST_CASE("the symmetric search recovers an exact grid", "[quant]") {
  // 16 weights on the grid 0.125 * l: the fit is exact, and quants come back offset by nmax.
  const int levels[16] = {-32, -20, -7, 0, 1, 5, 9, 13, 17, 21, 25, 29, 31, -1, -9, 30};
  float x[16];
  for (int i = 0; i < 16; ++i) x[i] = 0.125f * static_cast<float>(levels[i]);
  int8_t L[16];
  const float scale = kq::symmetric_scale_search(16, 32, x, nullptr, L);
  CHECK(scale == Approx(0.125f).epsilon(1e-6));
  for (int i = 0; i < 16; ++i) CHECK(L[i] == levels[i] + 32);
}

TEST_CASE("the 3-bit search recovers an exact grid", "[quant]") {
  const int levels[16] = {-4, -3, -2, -1, 0, 1, 2, 3, 3, 2, 1, 0, -1, -2, -3, -4};
  float x[16];
  for (int i = 0; i < 16; ++i) x[i] = -0.5f * static_cast<float>(levels[i]);
  int8_t L[16];
  const float scale = kq::q3_scale_search(16, 4, x, L);
  CHECK(scale == Approx(-0.5f).epsilon(1e-6));
  for (int i = 0; i < 16; ++i) CHECK(L[i] == levels[i] + 4);
}

TEST_CASE("the affine search recovers an exact grid with an offset", "[quant]") {
  float x[32], w[32];
  for (int i = 0; i < 32; ++i) {
    x[i] = -1.0f + 0.25f * static_cast<float>(i % 16);
    w[i] = 1.0f;
  }
  uint8_t L[32], scratch[32];
  float neg_min = 0;
  const float scale =
      kq::affine_scale_search(32, 15, x, w, L, &neg_min, scratch, {-1.f, 0.1f, 20, false});
  CHECK(scale == Approx(0.25f).epsilon(1e-5));
  CHECK(neg_min == Approx(1.0f).epsilon(1e-5));
  for (int i = 0; i < 32; ++i) CHECK(L[i] == i % 16);
}

TEST_CASE("the affine search keeps the offset at or below zero", "[quant]") {
  // All weights positive: the minimum is clamped to 0, so -min is 0 and the scale alone fits.
  float x[16], w[16];
  for (int i = 0; i < 16; ++i) {
    x[i] = 3.0f + 0.5f * static_cast<float>(i % 4);
    w[i] = std::fabs(x[i]);
  }
  uint8_t L[16], scratch[16];
  float neg_min = 1;
  const float scale =
      kq::affine_scale_search(16, 3, x, w, L, &neg_min, scratch, {-0.5f, 0.1f, 15, true});
  CHECK(neg_min == 0.0f);
  CHECK(scale > 0);
  for (int i = 0; i < 16; ++i) CHECK(std::fabs(scale * L[i] - x[i]) <= 0.75f * scale + 1e-6f);
}

TEST_CASE("an all-zero Q6_K super-block is 210 zero bytes", "[quant]") {
  std::vector<float> x(256, 0.0f);
  x[3] = 1e-17f;  // below ggml's all-zero threshold
  std::vector<std::byte> out(kQ6_KBlockBytes, std::byte{0xff});
  quantize_q6_K(x.data(), out.data(), x.size());
  for (auto b : out) REQUIRE(b == std::byte{0});
}

TEST_CASE("Q8_K stores the f32 scale -max/127 and each group's sum", "[quant]") {
  std::vector<float> x(256);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * static_cast<float>(i)) * 2.0f;
  x[100] = -5.0f;
  std::vector<std::byte> out(kQ8_KBlockBytes);
  quantize_q8_K(x.data(), out.data(), x.size());
  float d;
  std::memcpy(&d, out.data(), 4);
  CHECK(d == Approx(5.0f / 127.0f));
  CHECK(static_cast<int8_t>(out[4 + 100]) == -127);
  for (size_t g = 0; g < 16; ++g) {
    int sum = 0;
    for (size_t l = 0; l < 16; ++l) sum += static_cast<int8_t>(out[4 + 16 * g + l]);
    int16_t stored;
    std::memcpy(&stored, out.data() + 260 + 2 * g, 2);
    CHECK(stored == sum);
  }
}

TEST_CASE("each k-quant group keeps its own scale", "[quant]") {
  // Groups of very different sizes in one super-block: each is reproduced relative to its own
  // range, which only holds if the group scales are packed and unpacked correctly.
  std::vector<float> x(256);
  for (size_t i = 0; i < x.size(); ++i) {
    const float group_scale = 1.0f + static_cast<float>(i / 32);
    x[i] = group_scale * std::cos(0.9f * static_cast<float>(i));
  }
  struct Case {
    void (*quantize)(const float*, std::byte*, size_t);
    void (*dequantize)(const std::byte*, float*, size_t);
    size_t bytes;
    float tolerance;  // of a group's range
  };
  for (const Case& c : {Case{quantize_q3_K, dequantize_q3_K, kQ3_KBlockBytes, 0.25f},
                        Case{quantize_q4_K, dequantize_q4_K, kQ4_KBlockBytes, 0.1f},
                        Case{quantize_q5_K, dequantize_q5_K, kQ5_KBlockBytes, 0.05f},
                        Case{quantize_q6_K, dequantize_q6_K, kQ6_KBlockBytes, 0.03f}}) {
    std::vector<std::byte> q(c.bytes);
    std::vector<float> y(256);
    c.quantize(x.data(), q.data(), x.size());
    c.dequantize(q.data(), y.data(), y.size());
    for (size_t i = 0; i < x.size(); ++i) {
      const float range = 1.0f + static_cast<float>(i / 32);
      INFO("weight " << i);
      REQUIRE(std::fabs(y[i] - x[i]) <= c.tolerance * range);
    }
  }
}

namespace {

// Rows that reach every branch of the searches: ordinary and heavy-tailed weights, flat and
// all-zero groups, all-positive and all-negative groups, ties, outliers, wildly varying scales.
std::vector<float> awkward_rows(size_t superblocks, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0, 1);
  std::student_t_distribution<float> heavy(2);
  std::uniform_int_distribution<int> pick(0, 9), small_int(-8, 8);
  std::vector<float> x(superblocks * 256);
  for (size_t g = 0; g < x.size(); g += 16) {
    const int kind = pick(rng);
    const float scale = std::pow(10.0f, normal(rng) * 2);
    const float level = normal(rng);
    for (size_t i = g; i < g + 16; ++i) {
      switch (kind) {
        case 0:
          x[i] = 0;
          break;
        case 1:
          x[i] = level;
          break;
        case 2:
          x[i] = std::fabs(normal(rng)) * scale + scale;
          break;
        case 3:
          x[i] = -std::fabs(normal(rng)) * scale;
          break;
        case 4:
          x[i] = static_cast<float>(small_int(rng)) * 0.5f;
          break;
        case 5:
          x[i] = heavy(rng) * scale;
          break;
        case 6:
          x[i] = (i % 16 == 3) ? 1000.0f * scale : normal(rng) * 0.01f * scale;
          break;
        case 7:
          x[i] = normal(rng) * 1e-20f;
          break;
        default:
          x[i] = normal(rng) * scale;
          break;
      }
    }
  }
  return x;
}

}  // namespace

TEST_CASE("the AVX2 searches give the scalar searches' bits", "[quant]") {
  if (!kq::x86::has_avx2()) {
    WARN("no AVX2 on this CPU: only the scalar searches run");
    return;
  }
  const std::vector<float> x = awkward_rows(64, 21);
  for (int n : {16, 32}) {
    for (size_t g = 0; g + 8 * n <= x.size(); g += 8 * n) {
      const float* xg = x.data() + g;
      std::vector<float> w(8 * n);
      for (int i = 0; i < 8 * n; ++i) w[i] = std::fabs(xg[i]) + 0.25f;
      for (const auto& [nmax, search] : {std::pair{3, kq::AffineSearch{-0.5f, 0.1f, 15, true}},
                                         std::pair{15, kq::AffineSearch{-1.f, 0.1f, 20, false}},
                                         std::pair{31, kq::AffineSearch{-0.5f, 0.1f, 15, false}}}) {
        uint8_t fast_L[256], slow_L[256], scratch[32];
        float fast_scales[8], fast_mins[8];
        kq::x86::affine_scale_search_x8(n, nmax, xg, w.data(), fast_L, fast_mins, fast_scales,
                                        search);
        for (int j = 0; j < 8; ++j) {
          float slow_min;
          const float slow_scale = kq::affine_scale_search(
              n, nmax, xg + j * n, w.data() + j * n, slow_L + j * n, &slow_min, scratch, search);
          REQUIRE(std::memcmp(&slow_scale, &fast_scales[j], 4) == 0);
          REQUIRE(std::memcmp(&slow_min, &fast_mins[j], 4) == 0);
        }
        REQUIRE(std::memcmp(fast_L, slow_L, 8 * n) == 0);
      }
      // Without importance weights (x^2) and with them.
      for (const float* weights : std::initializer_list<const float*>{nullptr, w.data()}) {
        for (int nmax : {4, 32}) {
          int8_t fast_q[256], slow_q[256];
          float fast_scales[8];
          kq::x86::symmetric_scale_search_x8(n, nmax, xg, weights, fast_q, fast_scales);
          for (int j = 0; j < 8; ++j) {
            const float slow_scale = kq::symmetric_scale_search(
                n, nmax, xg + j * n, weights ? weights + j * n : nullptr, slow_q + j * n);
            REQUIRE(std::memcmp(&slow_scale, &fast_scales[j], 4) == 0);
          }
          REQUIRE(std::memcmp(fast_q, slow_q, 8 * n) == 0);
        }
      }
    }
  }
}

TEST_CASE("the k-quant and IQ4 quantizers give their scalar references' bytes", "[quant]") {
  const std::vector<float> x = awkward_rows(96, 22);
  struct Pair {
    void (*fast)(const float*, std::byte*, size_t);
    void (*reference)(const float*, std::byte*, size_t);
    size_t block_bytes;
  };
  for (const Pair& p : {Pair{quantize_q2_K, scalar::quantize_q2_K, kQ2_KBlockBytes},
                        Pair{quantize_q4_K, scalar::quantize_q4_K, kQ4_KBlockBytes},
                        Pair{quantize_q5_K, scalar::quantize_q5_K, kQ5_KBlockBytes},
                        Pair{quantize_q6_K, scalar::quantize_q6_K, kQ6_KBlockBytes},
                        Pair{quantize_iq4_xs, scalar::quantize_iq4_xs, kIQ4_XSBlockBytes}}) {
    std::vector<std::byte> fast(x.size() / 256 * p.block_bytes), reference(fast.size());
    p.fast(x.data(), fast.data(), x.size());
    p.reference(x.data(), reference.data(), x.size());
    CHECK(fast == reference);
  }
  // IQ4_NL's blocks are its groups of 32; a row of 189 leaves five outside the AVX2 lanes.
  const size_t n = 189 * 32;
  std::vector<std::byte> fast(n / 32 * kIQ4_NLBlockBytes), reference(fast.size());
  quantize_iq4_nl(x.data(), fast.data(), n);
  scalar::quantize_iq4_nl(x.data(), reference.data(), n);
  CHECK(fast == reference);
}

TEST_CASE("the weighted quantizers give their scalar references' bytes", "[quant]") {
  const std::vector<float> x = awkward_rows(24, 23);
  // One row of 24 super-blocks; importances that vary widely, with zeros and a zero group.
  std::mt19937 rng(24);
  std::lognormal_distribution<float> spread(0, 2);
  std::vector<float> w(x.size());
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = (i % 7 == 3 || (i >= 512 && i < 544)) ? 0 : spread(rng);
  struct Pair {
    void (*fast)(const float*, std::byte*, size_t, const float*);
    void (*reference)(const float*, std::byte*, size_t, const float*);
    size_t block_elems, block_bytes;
  };
  for (const Pair& p :
       {Pair{quantize_q2_K_weighted, scalar::quantize_q2_K_weighted, 256, kQ2_KBlockBytes},
        Pair{quantize_q3_K_weighted, scalar::quantize_q3_K_weighted, 256, kQ3_KBlockBytes},
        Pair{quantize_q4_K_weighted, scalar::quantize_q4_K_weighted, 256, kQ4_KBlockBytes},
        Pair{quantize_q5_K_weighted, scalar::quantize_q5_K_weighted, 256, kQ5_KBlockBytes},
        Pair{quantize_q6_K_weighted, scalar::quantize_q6_K_weighted, 256, kQ6_KBlockBytes},
        Pair{quantize_q4_0_weighted, scalar::quantize_q4_0_weighted, 32, kQ4_0BlockBytes},
        Pair{quantize_q4_1_weighted, scalar::quantize_q4_1_weighted, 32, kQ4_1BlockBytes},
        Pair{quantize_q5_0_weighted, scalar::quantize_q5_0_weighted, 32, kQ5_0BlockBytes},
        Pair{quantize_q5_1_weighted, scalar::quantize_q5_1_weighted, 32, kQ5_1BlockBytes},
        Pair{quantize_iq4_nl_weighted, scalar::quantize_iq4_nl_weighted, 32, kIQ4_NLBlockBytes},
        Pair{quantize_iq4_xs_weighted, scalar::quantize_iq4_xs_weighted, 256, kIQ4_XSBlockBytes}}) {
    // The whole row, and for the legacy types a row whose last blocks do not fill eight lanes.
    for (size_t n : {x.size(), p.block_elems == 32 ? x.size() - 3 * 32 : x.size()}) {
      std::vector<std::byte> fast(n / p.block_elems * p.block_bytes), reference(fast.size());
      p.fast(x.data(), fast.data(), n, w.data());
      p.reference(x.data(), reference.data(), n, w.data());
      CHECK(fast == reference);
    }
  }
}

TEST_CASE("the symmetric search weighs by x^2 when given no weights", "[quant]") {
  const std::vector<float> x = awkward_rows(1, 25);
  for (size_t g = 0; g < x.size(); g += 16) {
    float x2[16];
    for (int i = 0; i < 16; ++i) x2[i] = x[g + i] * x[g + i];
    int8_t plain[16], weighted[16];
    const float a = kq::symmetric_scale_search(16, 32, &x[g], nullptr, plain);
    const float b = kq::symmetric_scale_search(16, 32, &x[g], x2, weighted);
    REQUIRE(std::memcmp(&a, &b, 4) == 0);
    REQUIRE(std::memcmp(plain, weighted, 16) == 0);
  }
}

TEST_CASE("the non-negative search recovers an exact grid and ignores zero weights", "[quant]") {
  // Eight group scales on the grid 0.5 * l: the fit is exact.
  const int levels[8] = {15, 0, 3, 7, 11, 1, 14, 15};
  float x[8], w[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  for (int i = 0; i < 8; ++i) x[i] = 0.5f * static_cast<float>(levels[i]);
  uint8_t L[8];
  CHECK(kq::nonnegative_scale_search(8, 15, x, w, L) == 0.5f);
  for (int i = 0; i < 8; ++i) CHECK(L[i] == levels[i]);

  // A value off the grid whose weight is zero does not move the scale.
  x[2] = 1.3f;
  w[2] = 0;
  CHECK(kq::nonnegative_scale_search(8, 15, x, w, L) == Approx(0.5f).epsilon(1e-6));

  // Values below ggml's all-zero threshold give scale 0 and zero quants.
  float tiny[8] = {1e-16f, 0, 0, 0, 0, 0, 0, 0};
  CHECK(kq::nonnegative_scale_search(8, 15, tiny, w, L) == 0.0f);
  for (int i = 0; i < 8; ++i) CHECK(L[i] == 0);
}
