// The AVX2 version of IQ4_NL/IQ4_XS's scale search, eight groups of 32 at a time: lane j runs
// group j's search operation for operation as the scalar version in iquants.cpp does, so the
// scales are the same bits (tests hold them equal). Chosen at run time (kq::x86::has_avx2).
#pragma once

namespace owl::iq4::x86 {

// The best scale of each of the eight groups x + 32 j, each value counting by its weight in
// w + 32 j; 0 for a group whose largest magnitude is below ggml's all-zero threshold.
void group_scales_x8(const float* x, const float* w, float* scales);

}  // namespace owl::iq4::x86
