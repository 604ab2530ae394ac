// AVX2/F16C versions of the float codecs' inner loops, chosen at run time. Each produces the
// same bits as its scalar reference in float_codec.cpp (tests hold them equal).
#pragma once

#include <cstddef>
#include <cstdint>

namespace owl::x86 {

bool has_avx2_f16c();

void f16_to_f32(const uint16_t* in, float* out, size_t n);
void bf16_to_f32(const uint16_t* in, float* out, size_t n);
void f32_to_f16(const float* in, uint16_t* out, size_t n);
void f32_to_bf16(const float* in, uint16_t* out, size_t n);

}  // namespace owl::x86
