#include "validate/matmul.h"

#include <omp.h>

#include <algorithm>

#include "validate/matmul_kernels.h"

namespace owl::validate {
namespace {

using gemm::kNr;

// Weight rows decoded together by one thread: two panels, so that each K block of the
// activations is read from L2 twice per decode.
constexpr uint64_t kTileRows = 2 * kNr;
// Work items per thread to aim for; small matrices (K/V projections) are also split by tokens.
constexpr uint64_t kItemsPerThread = 8;

uint64_t ceil_div(uint64_t a, uint64_t b) {
  return (a + b - 1) / b;
}

}  // namespace

void matmul(const Weight& w, const float* x, uint64_t tokens, float* y) {
  const uint64_t N = w.rows(), K = w.cols(), T = tokens;
  if (N == 0 || T == 0) return;
  const gemm::Kernel& kn = gemm::kernel();
  const uint64_t mr = kn.mr, blocks = ceil_div(T, mr);

  // Kept from call to call: a fresh allocation this size would be mapped and faulted in anew.
  static thread_local gemm::Buffer packed_x;
  float* a = packed_x.get(blocks * mr * K);
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < static_cast<int64_t>(blocks); ++b) {
    const uint64_t t0 = static_cast<uint64_t>(b) * mr;
    gemm::pack_a(x + t0 * K, K, std::min(mr, T - t0), K, mr, a + t0 * K);
  }

  // Any split gives the same bits: it only decides which thread computes which outputs.
  const uint64_t tiles = ceil_div(N, kTileRows);
  const uint64_t want = kItemsPerThread * static_cast<uint64_t>(omp_get_max_threads());
  const uint64_t splits = std::clamp<uint64_t>(ceil_div(want, tiles), 1, blocks);
  const uint64_t blocks_per_split = ceil_div(blocks, splits);
#pragma omp parallel
  {
    static thread_local gemm::Buffer rows_buf, panels_buf;
    float* rows = rows_buf.get(kNr * K);
    float* panels = panels_buf.get(kTileRows * K);
#pragma omp for schedule(dynamic, 1)
    for (int64_t item = 0; item < static_cast<int64_t>(tiles * splits); ++item) {
      const uint64_t tile = static_cast<uint64_t>(item) / splits,
                     part = static_cast<uint64_t>(item) % splits;
      const uint64_t r0 = tile * kTileRows, n_rows = std::min(kTileRows, N - r0),
                     n_panels = ceil_div(n_rows, kNr);
      for (uint64_t p = 0; p < n_panels; ++p) {
        const uint64_t n = std::min(kNr, n_rows - p * kNr);
        w.rows_f32(r0 + p * kNr, n, rows);
        gemm::pack_b_rows(rows, K, n, K, panels + p * K * kNr);
      }
      const uint64_t b_first = part * blocks_per_split,
                     b_end = std::min(blocks, b_first + blocks_per_split);
      for (uint64_t k0 = 0; k0 < K; k0 += gemm::kKc) {
        const uint64_t kc = std::min(gemm::kKc, K - k0);
        for (uint64_t p = 0; p < n_panels; ++p) {
          const float* panel = panels + p * K * kNr + k0 * kNr;
          const uint64_t n = std::min(kNr, n_rows - p * kNr);
          for (uint64_t b = b_first; b < b_end; ++b) {
            const uint64_t t0 = b * mr;
            kn.tile(a + t0 * K + k0 * mr, panel, kc, y + t0 * N + r0 + p * kNr, N,
                    std::min(mr, T - t0), n, k0 > 0);
          }
        }
      }
    }
  }
}

}  // namespace owl::validate
