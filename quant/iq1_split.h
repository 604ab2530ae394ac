// The exhaustive searches behind ggml's IQ1_S and IQ1_M quantizers: with values sorted, each
// split into (-1, 0, +1) and each shift of those values by +-1/8 is scored by its weighted
// least-squares fit, in ggml's float operations and order, and the first best kept.
#pragma once

namespace owl::iq1 {

inline constexpr float kDelta = 0.125f;  // ggml's IQ1S_DELTA and IQ1M_DELTA
// The three values with the shift up (x_p) and down (x_m).
inline constexpr float kShiftUp[3] = {-1 + kDelta, kDelta, 1 + kDelta};
inline constexpr float kShiftDown[3] = {-1 - kDelta, -kDelta, 1 - kDelta};

// A split of sorted values: the first `i1` are -1, up to `i2` 0, the rest +1 (-1: none found).
struct SplitS {
  float scale;
  int i1 = -1, i2 = -1;
  int shift = 0;  // +1: kShiftUp, -1: kShiftDown
};

struct SplitM {
  float scale;
  int i1 = -1, i2 = -1;
  int shifts = -1;  // bit 1: the first half shifts down, bit 0: the second half does
};

// Running best of a search, as ggml keeps it.
template <typename Split>
struct SplitSearch {
  Split best;
  float best_score;

  // ggml's test of one candidate's sums against the best so far; true (and the scale and score
  // taken) where it wins, for the caller to record which candidate it was.
  bool offer(float sumqx, float sumq2) {
    if (!(sumq2 > 0 && sumqx * sumqx > best_score * sumq2)) return false;
    best.scale = sumqx / sumq2;
    best_score = best.scale * sumqx;
    return true;
  }
};

// IQ1_S, 32 sorted values: the prefix sums sumx[j] of weight * x and sumw[j] of weight over the
// first j sorted values (j = 0..32). Scores the splits (i1, i2 = i1..32), both shifts, in order.
inline constexpr int kSplitS = 32;
SplitS best_split_s(const float* sumx, const float* sumw, float max);

// IQ1_M, 16 sorted values whose halves (positions 0..7 and 8..15) shift separately: the prefix
// sums px[h][j], pw[h][j] over the first j sorted values of those in half h.
inline constexpr int kSplitM = 16;
// The factors of ggml's algebra for a half's sums (x_p[2], x_m[2] and differences of squares).
inline constexpr float p2 = kShiftUp[2], m2 = kShiftDown[2];
inline constexpr float cp1 = kShiftUp[0] * kShiftUp[0] - kShiftUp[1] * kShiftUp[1];
inline constexpr float cp2 = kShiftUp[1] * kShiftUp[1] - kShiftUp[2] * kShiftUp[2];
inline constexpr float cm1 = kShiftDown[0] * kShiftDown[0] - kShiftDown[1] * kShiftDown[1];
inline constexpr float cm2 = kShiftDown[1] * kShiftDown[1] - kShiftDown[2] * kShiftDown[2];
struct HalfSums {
  float px[2][kSplitM + 1], pw[2][kSplitM + 1];
};
SplitM best_split_m(const HalfSums& p, float max);

// The shift values of half `k` under `shifts`.
inline const float* half_values(int shifts, int k) {
  const bool down = k == 0 ? shifts >= 2 : shifts % 2 == 1;
  return down ? kShiftDown : kShiftUp;
}

}  // namespace owl::iq1
