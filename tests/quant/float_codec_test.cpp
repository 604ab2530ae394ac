#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>

#include <immintrin.h>

#include "quant/float_codec.h"
#include "quant/float_codec_x86.h"

using namespace owl;

namespace {

// Correct rounding of `x` to bfloat16, worked out in double: the nearer of the two neighbours,
// ties to the even one. An independent check of the bit-twiddling version.
uint16_t bf16_by_arithmetic(float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  const uint16_t down = static_cast<uint16_t>(bits >> 16);
  const uint16_t up = static_cast<uint16_t>(down + 1);
  const double lo = bf16_to_f32(down), hi = bf16_to_f32(up), v = x;
  const double dlo = std::fabs(v - lo), dhi = std::fabs(hi - v);
  if (dlo < dhi) return down;
  if (dhi < dlo) return up;
  return (down & 1) ? up : down;
}

// The reference conversions: the compiler's _Float16, except on clang 14, which has no
// _Float16 on x86; there the CPU's F16C instructions are the reference (the tests need them).
#if defined(__clang__) && __clang_major__ < 15
__attribute__((target("f16c"))) float ref_f16_to_f32(uint16_t h) {
  return _cvtsh_ss(h);
}
__attribute__((target("f16c"))) uint16_t ref_f32_to_f16(float f) {
  return _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
bool reference16_runs() {
  return x86::has_avx2_f16c();
}
#else
float ref_f16_to_f32(uint16_t h) {
  return static_cast<float>(std::bit_cast<_Float16>(h));
}
uint16_t ref_f32_to_f16(float f) {
  return std::bit_cast<uint16_t>(static_cast<_Float16>(f));
}
bool reference16_runs() {
  return true;
}
#endif

}  // namespace

TEST_CASE("f16 decodes every one of its 65536 values as the compiler's _Float16 does") {
  if (!reference16_runs()) {
    WARN("no F16C on this CPU: nothing to compare with");
    return;
  }
  for (uint32_t h = 0; h < 65536; ++h) {
    const float expect = ref_f16_to_f32(static_cast<uint16_t>(h));
    const float got = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(expect)) {
      REQUIRE(std::isnan(got));
    } else {
      REQUIRE(std::bit_cast<uint32_t>(got) == std::bit_cast<uint32_t>(expect));
    }
  }
}

TEST_CASE("f32 to f16 rounds to nearest even like IEEE conversion") {
  if (!reference16_runs()) {
    WARN("no F16C on this CPU: nothing to compare with");
    return;
  }
  std::mt19937 rng(42);
  auto check = [](uint32_t bits) {
    const float f = std::bit_cast<float>(bits);
    const uint16_t expect = ref_f32_to_f16(f);
    const uint16_t got = f32_to_f16(f);
    if (std::isnan(f)) {
      REQUIRE((got & 0x7c00) == 0x7c00);
      REQUIRE((got & 0x3ff) != 0);
    } else {
      INFO("input bits " << bits);
      REQUIRE(got == expect);
    }
  };
  // Every float near the f16 range edges (subnormals, overflow, halfway cases) ...
  for (uint32_t edge : {0x33000000u, 0x33800000u, 0x38800000u})
    for (uint32_t b = edge - 4096; b < edge + 4096; ++b) check(b);
  for (uint32_t b = 0x33000000; b < 0x38800000; b += 61) check(b);
  for (uint32_t b = 0x477fe000; b < 0x47801000; ++b) check(b);
  // ... and random floats of every magnitude, both signs.
  for (int i = 0; i < 2000000; ++i) check(static_cast<uint32_t>(rng()));
  check(0x7f800000);  // inf
  check(0xff800000);
  check(0x7fc00001);  // NaN
}

TEST_CASE("f32 to bf16 rounds to nearest even and keeps NaN a NaN") {
  std::mt19937 rng(7);
  for (int i = 0; i < 2'000'000; ++i) {
    const auto bits = static_cast<uint32_t>(rng());
    const float f = std::bit_cast<float>(bits);
    if (std::isnan(f)) {
      REQUIRE(std::isnan(bf16_to_f32(f32_to_bf16(f))));
    } else if (std::isfinite(f) && std::fabs(f) < 3.38e38f) {
      INFO("input bits " << bits);
      REQUIRE(f32_to_bf16(f) == bf16_by_arithmetic(f));
    }
  }
  CHECK(f32_to_bf16(3.4028235e38f) == 0x7f80);                      // rounds up to infinity
  CHECK(f32_to_bf16(std::bit_cast<float>(0x3f808000u)) == 0x3f80);  // tie, even stays
  CHECK(f32_to_bf16(std::bit_cast<float>(0x3f818000u)) == 0x3f82);  // tie, odd rounds up
}

TEST_CASE("casting arrays converts through f32 and is deterministic") {
  const double in[] = {1.0, 65504.0, 65520.0, -0.0, 1e-8, 3.0000001};
  uint16_t out[6];
  cast_elements(ElemType::F64, std::as_bytes(std::span(in)), ElemType::F16,
                std::as_writable_bytes(std::span(out)), 6);
  CHECK(out[0] == 0x3c00);
  CHECK(out[1] == 0x7bff);
  CHECK(out[2] == 0x7c00);
  CHECK(out[3] == 0x8000);
  CHECK(out[4] == f32_to_f16(1e-8f));
  CHECK(out[5] == 0x4200);
  // Large arrays run in parallel blocks; the result does not depend on how they are split.
  std::vector<float> big(1 << 20);
  std::mt19937 rng(3);
  for (auto& x : big) x = std::bit_cast<float>(static_cast<uint32_t>(rng() & 0xbfffffffu));
  std::vector<uint16_t> a(big.size());
  cast_elements(ElemType::F32, std::as_bytes(std::span(big)), ElemType::BF16,
                std::as_writable_bytes(std::span(a)), big.size());
  for (size_t i = 0; i < big.size(); i += 997) REQUIRE(a[i] == f32_to_bf16(big[i]));
}

TEST_CASE("the AVX2/F16C float codecs give the scalar codecs' bits", "[quant]") {
  if (!x86::has_avx2_f16c()) return;
  std::mt19937 rng(11);
  const size_t n = 1 << 20;  // not a multiple of 8 below, to cover the tails
  std::vector<uint32_t> bits(n);
  for (auto& b : bits) b = static_cast<uint32_t>(rng());
  std::vector<float> f(n);
  std::memcpy(f.data(), bits.data(), n * 4);
  std::vector<uint16_t> h(n - 3), b16(n - 3);
  x86::f32_to_f16(f.data(), h.data(), n - 3);
  x86::f32_to_bf16(f.data(), b16.data(), n - 3);
  for (size_t i = 0; i < n - 3; ++i) {
    REQUIRE(h[i] == f32_to_f16(f[i]));
    REQUIRE(b16[i] == f32_to_bf16(f[i]));
  }
  std::vector<uint16_t> halves(65536 + 5);
  for (size_t i = 0; i < halves.size(); ++i) halves[i] = static_cast<uint16_t>(i);
  std::vector<float> from_h(halves.size()), from_b(halves.size());
  x86::f16_to_f32(halves.data(), from_h.data(), halves.size());
  x86::bf16_to_f32(halves.data(), from_b.data(), halves.size());
  for (size_t i = 0; i < halves.size(); ++i) {
    REQUIRE(std::bit_cast<uint32_t>(from_h[i]) == std::bit_cast<uint32_t>(f16_to_f32(halves[i])));
    REQUIRE(std::bit_cast<uint32_t>(from_b[i]) == std::bit_cast<uint32_t>(bf16_to_f32(halves[i])));
  }
}
