// AVX2 versions of the IQ1 split searches, eight second split points i2 at a time: the lanes
// compute each split's sums operation for operation as the scalar search does, and only a group
// of eight in which some lane would beat the running best is offered again, lane by lane in the
// scalar order, to the running best. So the result is the scalar search's (tests hold them equal).
// Chosen at run time (kq::x86::has_avx2).
#pragma once

#include "quant/iq1_split.h"

namespace owl::iq1::x86 {

SplitS best_split_s_avx2(const float* sumx, const float* sumw, float max);
SplitM best_split_m_avx2(const HalfSums& p, float max);

}  // namespace owl::iq1::x86
