#include "quant/float_codec_x86.h"

#include <cpuid.h>
#include <immintrin.h>

#include <cstring>

#include "quant/float_codec.h"

namespace owl::x86 {

#define OWL_AVX2_F16C __attribute__((target("avx2,f16c")))

namespace {
// Tensor data in a mapped file may sit at any byte offset: the tails go through memcpy.
uint16_t load16(const uint16_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
void store16(uint16_t* p, uint16_t v) {
  std::memcpy(p, &v, 2);
}
}  // namespace

namespace {
// Asks CPUID directly: clang 14 (Debian 12) rejects __builtin_cpu_supports("f16c"). AVX2 and F16C
// use the ymm registers, so the OS must also save their upper halves (OSXSAVE, then XCR0 bits 1
// and 2 via XGETBV), or the first vector instruction faults.
bool cpu_has_avx2_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  const bool osxsave = ecx & (1u << 27), avx = ecx & (1u << 28), f16c = ecx & (1u << 29);
  if (!osxsave || !avx || !f16c) return false;
  unsigned xcr0_lo = 0, xcr0_hi = 0;
  __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  if ((xcr0_lo & 0x6u) != 0x6u) return false;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  return ebx & (1u << 5);  // AVX2
}
}  // namespace

bool has_avx2_f16c() {
  static const bool has = cpu_has_avx2_f16c();
  return has;
}

OWL_AVX2_F16C void f16_to_f32(const uint16_t* in, float* out, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i,
                     _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i))));
  for (; i < n; ++i) out[i] = owl::f16_to_f32(load16(in + i));
}

OWL_AVX2_F16C void bf16_to_f32(const uint16_t* in, float* out, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i wide =
        _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i)));
    _mm256_storeu_ps(out + i, _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16)));
  }
  for (; i < n; ++i) out[i] = owl::bf16_to_f32(load16(in + i));
}

// F16C rounds to nearest even and handles subnormals and infinities as IEEE does; NaNs come out
// quiet with the top payload bits kept, which the scalar version reproduces.
OWL_AVX2_F16C void f32_to_f16(const float* in, uint16_t* out, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h =
        _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), h);
  }
  for (; i < n; ++i) store16(out + i, owl::f32_to_f16(in[i]));
}

OWL_AVX2_F16C void f32_to_bf16(const float* in, uint16_t* out, size_t n) {
  const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff), inf = _mm256_set1_epi32(0x7f800000);
  const __m256i one = _mm256_set1_epi32(1), bias = _mm256_set1_epi32(0x7fff),
                quiet = _mm256_set1_epi32(0x40);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i x = _mm256_castps_si256(_mm256_loadu_ps(in + i));
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), one);
    const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(x, _mm256_add_epi32(bias, lsb)), 16);
    const __m256i nan = _mm256_or_si256(_mm256_srli_epi32(x, 16), quiet);
    const __m256i is_nan = _mm256_cmpgt_epi32(_mm256_and_si256(x, abs_mask), inf);
    const __m256i r = _mm256_blendv_epi8(rounded, nan, is_nan);
    // Pack 8 x 32-bit (values < 2^16) into 8 x 16-bit: packus works within 128-bit lanes.
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0xd8);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm256_castsi256_si128(packed));
  }
  for (; i < n; ++i) store16(out + i, owl::f32_to_bf16(in[i]));
}

}  // namespace owl::x86
