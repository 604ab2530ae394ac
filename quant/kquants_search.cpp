#include "quant/kquants_search.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "quant/block_math.h"
#include "quant/kquants_search_x86.h"

namespace owl::kq {

using block::nearest_int;

namespace {

// The weight of largest magnitude with its sign (the first on ties), and that magnitude.
float signed_absmax(int n, const float* x, float& amax) {
  float max = 0;
  amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  return max;
}

int clamp_symmetric(int l, int nmax) {
  return std::max(-nmax, std::min(nmax - 1, l));
}

// Weight i's importance: its own, or x^2 without an importance matrix.
float weight_of(const float* weights, const float* x, int i) {
  return weights ? weights[i] : x[i] * x[i];
}

// The weighted sums sum(w x l) and sum(w l^2) of the quants `iscale` gives.
void weighted_sums(int n, int nmax, const float* x, const float* weights, float iscale,
                   float& sumlx, float& suml2) {
  sumlx = 0;
  suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = clamp_symmetric(nearest_int(iscale * x[i]), nmax);
    const float w = weight_of(weights, x, i);
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
}

void store_symmetric(int n, int nmax, const float* x, float iscale, int8_t* L) {
  for (int i = 0; i < n; ++i)
    L[i] = static_cast<int8_t>(nmax + clamp_symmetric(nearest_int(iscale * x[i]), nmax));
}

}  // namespace

float symmetric_scale_search(int n, int nmax, const float* x, const float* weights, int8_t* L) {
  float amax;
  const float max = signed_absmax(n, x, amax);
  if (amax < kGroupMaxEps) {
    std::fill(L, L + n, int8_t{0});
    return 0;
  }
  float iscale = static_cast<float>(-nmax) / max;
  float sumlx, suml2;
  weighted_sums(n, nmax, x, weights, iscale, sumlx, suml2);
  store_symmetric(n, nmax, x, iscale, L);
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int step = -9; step <= 9; ++step) {
    if (step == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(step)) / max;
    weighted_sums(n, nmax, x, weights, iscale, sumlx, suml2);
    // Compares sumlx^2 / suml2 (the fit's gain) without dividing.
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      store_symmetric(n, nmax, x, iscale, L);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

float q3_scale_search(int n, int nmax, const float* x, int8_t* L) {
  float amax;
  const float max = signed_absmax(n, x, amax);
  if (amax < kGroupMaxEps) {
    std::fill(L, L + n, int8_t{0});
    return 0;
  }
  const float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = clamp_symmetric(nearest_int(iscale * x[i]), nmax);
    L[i] = static_cast<int8_t>(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  constexpr int kSweeps = 5;
  for (int sweep = 0; sweep < kSweeps; ++sweep) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      // The sums without weight i, and the quant for it that the remaining fit's scale wants.
      const float w = x[i] * x[i];
      const float li = static_cast<float>(L[i]);
      float slx = sumlx - w * x[i] * li;
      if (!(slx > 0)) continue;
      float sl2 = suml2 - w * li * li;
      const int new_l = clamp_symmetric(nearest_int(x[i] * sl2 / slx), nmax);
      if (new_l == L[i]) continue;
      slx += w * x[i] * static_cast<float>(new_l);
      sl2 += w * static_cast<float>(new_l) * static_cast<float>(new_l);
      if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
        L[i] = static_cast<int8_t>(new_l);
        sumlx = slx;
        suml2 = sl2;
        ++changed;
      }
    }
    if (!changed) break;
  }
  for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

float affine_scale_search(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                          float* neg_min, uint8_t* scratch, const AffineSearch& search) {
  float min = x[0], max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    sum_w += weights[i];
    sum_x += weights[i] * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    std::fill(L, L + n, uint8_t{0});
    *neg_min = -min;
    return 0;
  }
  const auto error_of = [&](float diff) {
    return search.abs_error ? std::fabs(diff) : diff * diff;
  };

  float iscale = static_cast<float>(nmax) / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    L[i] = static_cast<uint8_t>(std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax));
    best_error += weights[i] * error_of(scale * static_cast<float>(L[i]) + min - x[i]);
  }
  if (search.steps < 1) {
    *neg_min = -min;
    return scale;
  }
  for (int step = 0; step <= search.steps; ++step) {
    // `min` is the best fit's so far: an improvement shifts the candidates after it.
    iscale = (search.rmin + search.rdelta * static_cast<float>(step) + static_cast<float>(nmax)) /
             (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax);
      scratch[i] = static_cast<uint8_t>(l);
      const float wl = weights[i] * static_cast<float>(l);
      sum_l += wl;
      sum_l2 += wl * static_cast<float>(l);
      sum_xl += wl * x[i];
    }
    // The weighted least-squares line through (l, x); a positive offset is refitted through 0.
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (!(det > 0)) continue;
    float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
    float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
    if (this_min > 0) {
      this_min = 0;
      this_scale = sum_xl / sum_l2;
    }
    float error = 0;
    for (int i = 0; i < n; ++i)
      error += weights[i] * error_of(this_scale * static_cast<float>(scratch[i]) + this_min - x[i]);
    if (error < best_error) {
      std::copy(scratch, scratch + n, L);
      best_error = error;
      scale = this_scale;
      min = this_min;
    }
  }
  *neg_min = -min;
  return scale;
}

float nonnegative_scale_search(int n, int nmax, const float* x, const float* weights, uint8_t* L) {
  float max = 0;
  for (int i = 0; i < n; ++i) max = max > x[i] ? max : x[i];
  if (max < kGroupMaxEps) {
    std::fill(L, L + n, uint8_t{0});
    return 0;
  }
  // The quants are not clamped below: a negative value (a search that fitted a negative scale)
  // wraps in the byte as it does in ggml's uint8_t, and the sums then see the wrapped quant.
  float iscale = static_cast<float>(nmax) / max;
  for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(nearest_int(iscale * x[i]));
  const float scale = 1 / iscale;
  float best_mse = 0;
  for (int i = 0; i < n; ++i) {
    const float diff = x[i] - scale * static_cast<float>(L[i]);
    best_mse += weights[i] * diff * diff;
  }
  for (int step = -4; step <= 4; ++step) {
    if (step == 0) continue;
    const float iscale_step = (0.1f * static_cast<float>(step) + static_cast<float>(nmax)) / max;
    const float scale_step = 1 / iscale_step;
    float mse = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::min(nmax, nearest_int(iscale_step * x[i]));
      const float diff = x[i] - scale_step * static_cast<float>(l);
      mse += weights[i] * diff * diff;
    }
    if (mse < best_mse) {
      best_mse = mse;
      iscale = iscale_step;
    }
  }

  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::min(nmax, nearest_int(iscale * x[i]));
    L[i] = static_cast<uint8_t>(l);
    sumlx += weights[i] * x[i] * static_cast<float>(l);
    suml2 += weights[i] * static_cast<float>(l) * static_cast<float>(l);
  }
  constexpr int kSweeps = 5;
  for (int sweep = 0; sweep < kSweeps; ++sweep) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      // The sums without value i, and the quant for it that the remaining fit's scale wants.
      const float w = weights[i];
      const float li = static_cast<float>(L[i]);
      float slx = sumlx - w * x[i] * li;
      float sl2 = suml2 - w * li * li;
      if (!(slx > 0 && sl2 > 0)) continue;
      const int new_l = std::min(nmax, nearest_int(x[i] * sl2 / slx));
      if (new_l == L[i]) continue;
      slx += w * x[i] * static_cast<float>(new_l);
      sl2 += w * static_cast<float>(new_l) * static_cast<float>(new_l);
      if (slx * slx * suml2 > sumlx * sumlx * sl2) {
        L[i] = static_cast<uint8_t>(new_l);
        sumlx = slx;
        suml2 = sl2;
        ++changed;
      }
    }
    if (!changed) break;
  }
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

void affine_scale_search_groups(bool fast, size_t groups, int n, int nmax, const float* x,
                                const float* weights, uint8_t* L, float* scales, float* neg_mins,
                                const AffineSearch& search) {
  if (n < 1 || n > x86::kMaxGroup)
    throw std::logic_error("k-quant search: group size out of range");
  size_t g = 0;
  if (fast) {
    for (; g + x86::kLanes <= groups; g += x86::kLanes) {
      x86::affine_scale_search_x8(n, nmax, x + g * n, weights + g * n, L + g * n, neg_mins + g,
                                  scales + g, search);
    }
  }
  for (; g < groups; ++g) {
    uint8_t scratch[x86::kMaxGroup];
    scales[g] = affine_scale_search(n, nmax, x + g * n, weights + g * n, L + g * n, &neg_mins[g],
                                    scratch, search);
  }
}

void symmetric_scale_search_groups(bool fast, size_t groups, int n, int nmax, const float* x,
                                   const float* weights, int8_t* L, float* scales) {
  const auto weights_of = [&](size_t g) { return weights ? weights + g * n : nullptr; };
  size_t g = 0;
  if (fast) {
    for (; g + x86::kLanes <= groups; g += x86::kLanes)
      x86::symmetric_scale_search_x8(n, nmax, x + g * n, weights_of(g), L + g * n, scales + g);
  }
  for (; g < groups; ++g)
    scales[g] = symmetric_scale_search(n, nmax, x + g * n, weights_of(g), L + g * n);
}

}  // namespace owl::kq
