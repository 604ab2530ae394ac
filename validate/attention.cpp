#include "validate/attention.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "validate/gemma.h"
#include "validate/matmul_kernels.h"

namespace owl::validate {
namespace {

using gemm::kNr;

uint64_t ceil_div(uint64_t a, uint64_t b) {
  return (a + b - 1) / b;
}

// A row of `scores` holds one query's q.k for keys 0..n-1; keys outside first..last are
// masked. The row becomes the softmax probabilities, zero outside first..last; a soft cap bends
// the scaled scores first; a sink takes its share of the sum as ggml's soft_max does (in the
// maximum and the sum, unscaled).
void softmax_row(float* row, uint64_t first, uint64_t last, uint64_t n, float scale, float softcap,
                 const float* sink) {
  if (softcap != 0) {
    for (uint64_t s = first; s <= last; ++s) row[s] *= scale;
    validate::softcap(row + first, last + 1 - first, softcap);
    scale = 1.0f;
  }
  float max = sink ? *sink : -INFINITY;  // exact in any order, so it may be vectorized
#pragma omp simd reduction(max : max)
  for (uint64_t s = first; s <= last; ++s) {
    row[s] *= scale;
    max = std::max(max, row[s]);
  }
  double sum = 0;
  for (uint64_t s = first; s <= last; ++s) sum += row[s] = std::exp(row[s] - max);
  if (sink) sum += std::exp(*sink - max);
  const double inv = 1.0 / sum;
#pragma omp simd
  for (uint64_t s = first; s <= last; ++s) row[s] = static_cast<float>(row[s] * inv);
  std::fill(row, row + first, 0.0f);
  std::fill(row + last + 1, row + n, 0.0f);
}

// The keys query t sees: [first, last].
std::pair<uint64_t, uint64_t> visible_keys(const AttentionShape& sh, uint64_t t) {
  if (!sh.causal) {
    const uint64_t reach = sh.window ? sh.window / 2 : sh.tokens;
    return {t > reach ? t - reach : 0, std::min(sh.tokens - 1, t + reach)};
  }
  if (sh.chunk) return {t - t % sh.chunk, t};
  return {sh.window && t >= sh.window ? t + 1 - sh.window : 0, t};
}

}  // namespace

void causal_attention(const float* q, const float* k, const float* v, const AttentionShape& sh,
                      float* out) {
  const uint64_t T = sh.tokens, hd = sh.head_dim, nq = sh.n_head, nkv = sh.n_head_kv;
  if (T == 0 || hd == 0 || nq == 0) return;
  const gemm::Kernel& kn = gemm::kernel();
  const uint64_t mr = kn.mr, blocks = ceil_div(T, mr), key_panels = ceil_div(T, kNr),
                 dim_panels = ceil_div(hd, kNr);
  const uint64_t group = nq / nkv, q_stride = nq * hd, kv_stride = nkv * hd;
#pragma omp parallel
  {
    // Kept from call to call: fresh ones would be mapped and faulted in anew by every thread
    // at every layer, and page faults serialize on the process's memory map.
    static thread_local gemm::Buffer qa_buf, kp_buf, vp_buf, scores_buf, pa_buf;
    float* qa = qa_buf.get(blocks * mr * hd);
    float* kp = kp_buf.get(key_panels * hd * kNr);
    float* vp = vp_buf.get(dim_panels * T * kNr);
    float* scores = scores_buf.get(mr * T);
    float* pa = pa_buf.get(mr * T);
#pragma omp for schedule(dynamic, 1)
    for (int64_t head = 0; head < static_cast<int64_t>(nq); ++head) {
      const uint64_t h = static_cast<uint64_t>(head), hk = h / group;
      gemm::pack_a(q + h * hd, q_stride, T, hd, mr, qa);
      for (uint64_t j = 0; j < key_panels; ++j)
        gemm::pack_b_rows(k + j * kNr * kv_stride + hk * hd, kv_stride, std::min(kNr, T - j * kNr),
                          hd, kp + j * hd * kNr);
      for (uint64_t p = 0; p < dim_panels; ++p)
        gemm::pack_b_cols(v + hk * hd + p * kNr, kv_stride, std::min(kNr, hd - p * kNr), T,
                          vp + p * T * kNr);

      // A block of queries at a time: its scores against the keys it may see, then
      // its probabilities times those values.
      for (uint64_t b = 0; b < blocks; ++b) {
        // Causal: the keys up to the block's last query; else all of them.
        const uint64_t t0 = b * mr, m = std::min(mr, T - t0), keys = sh.causal ? t0 + m : T;
        for (uint64_t j = 0; j * kNr < keys; ++j)
          gemm::tile_all_k(kn, qa + t0 * hd, kp + j * hd * kNr, hd, scores + j * kNr, T, m,
                           std::min(kNr, keys - j * kNr));
        for (uint64_t i = 0; i < m; ++i) {
          const auto [first, last] = visible_keys(sh, t0 + i);
          softmax_row(scores + i * T, first, last, keys, sh.scale, sh.softcap,
                      sh.sinks ? sh.sinks + h : nullptr);
        }
        gemm::pack_a(scores, T, m, keys, mr, pa);
        for (uint64_t p = 0; p < dim_panels; ++p)
          gemm::tile_all_k(kn, pa, vp + p * T * kNr, keys, out + t0 * q_stride + h * hd + p * kNr,
                           q_stride, m, std::min(kNr, hd - p * kNr));
      }
    }
  }
}

}  // namespace owl::validate
