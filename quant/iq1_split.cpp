#include "quant/iq1_split.h"

#include <cfloat>
#include <initializer_list>

namespace owl::iq1 {

namespace {

void consider_split_s(const float* sumx, const float* sumw, int i1, int i2,
                      SplitSearch<SplitS>& s) {
  constexpr int n = kSplitS;
  for (const int shift : {1, -1}) {
    const float* v = shift == 1 ? kShiftUp : kShiftDown;
    const float sumqx =
        (sumx[i1] - sumx[0]) * v[0] + (sumx[i2] - sumx[i1]) * v[1] + (sumx[n] - sumx[i2]) * v[2];
    const float sumq2 = (sumw[i1] - sumw[0]) * v[0] * v[0] + (sumw[i2] - sumw[i1]) * v[1] * v[1] +
                        (sumw[n] - sumw[i2]) * v[2] * v[2];
    if (s.offer(sumqx, sumq2)) s.best = {s.best.scale, i1, i2, shift};
  }
}

// Each half's sums for a split come from two lookups in its prefix sums (ggml's algebra, in
// ggml's order).
void consider_split_m(const HalfSums& p, int i1, int i2, SplitSearch<SplitM>& s) {
  constexpr int n = kSplitM;
  float qx_p[2], qx_m[2], q2_p[2], q2_m[2];
  for (int h = 0; h < 2; ++h) {
    const float sx = p.px[h][i1] + p.px[h][i2];
    qx_p[h] = p.px[h][n] * p2 - sx;
    qx_m[h] = p.px[h][n] * m2 - sx;
    q2_p[h] = p.pw[h][n] * p2 * p2 + p.pw[h][i1] * cp1 + p.pw[h][i2] * cp2;
    q2_m[h] = p.pw[h][n] * m2 * m2 + p.pw[h][i1] * cm1 + p.pw[h][i2] * cm2;
  }
  const float sumqx[4] = {qx_p[0] + qx_p[1], qx_p[0] + qx_m[1], qx_m[0] + qx_p[1],
                          qx_m[0] + qx_m[1]};
  const float sumq2[4] = {q2_p[0] + q2_p[1], q2_p[0] + q2_m[1], q2_m[0] + q2_p[1],
                          q2_m[0] + q2_m[1]};
  for (int k = 0; k < 4; ++k)
    if (s.offer(sumqx[k], sumq2[k])) s.best = {s.best.scale, i1, i2, k};
}

}  // namespace

SplitS best_split_s(const float* sumx, const float* sumw, float max) {
  SplitSearch<SplitS> s{SplitS{max}, -FLT_MAX};
  for (int i1 = 0; i1 <= kSplitS; ++i1)
    for (int i2 = i1; i2 <= kSplitS; ++i2) consider_split_s(sumx, sumw, i1, i2, s);
  return s.best;
}

SplitM best_split_m(const HalfSums& p, float max) {
  SplitSearch<SplitM> s{SplitM{max}, -FLT_MAX};
  for (int i1 = 0; i1 <= kSplitM; ++i1)
    for (int i2 = i1; i2 <= kSplitM; ++i2) consider_split_m(p, i1, i2, s);
  return s.best;
}

}  // namespace owl::iq1
