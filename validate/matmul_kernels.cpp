#include "validate/matmul_kernels.h"

#include <algorithm>

namespace owl::validate::gemm {
namespace {

constexpr uint64_t kPortableMr = 4;

// The fallback for CPUs without AVX2: plain loops the compiler vectorizes for the baseline ISA.
template <uint64_t M>
void portable_tile(const float* a, const float* b, uint64_t kc, float* c, uint64_t ldc, uint64_t n,
                   bool add) {
  float acc[M][kNr] = {};
  for (uint64_t k = 0; k < kc; ++k) {
    const float* bk = b + k * kNr;
    for (uint64_t i = 0; i < M; ++i) {
      const float ai = a[k * kPortableMr + i];
#pragma omp simd
      for (uint64_t r = 0; r < kNr; ++r) acc[i][r] += ai * bk[r];
    }
  }
  for (uint64_t i = 0; i < M; ++i)
    for (uint64_t r = 0; r < n; ++r) c[i * ldc + r] = add ? c[i * ldc + r] + acc[i][r] : acc[i][r];
}

void portable(const float* a, const float* b, uint64_t kc, float* c, uint64_t ldc, uint64_t m,
              uint64_t n, bool add) {
  switch (m) {
    case 1:
      return portable_tile<1>(a, b, kc, c, ldc, n, add);
    case 2:
      return portable_tile<2>(a, b, kc, c, ldc, n, add);
    case 3:
      return portable_tile<3>(a, b, kc, c, ldc, n, add);
    default:
      return portable_tile<4>(a, b, kc, c, ldc, n, add);
  }
}

Kernel best() {
  if (cpu_has(Isa::Avx512)) return avx512_kernel();
  if (cpu_has(Isa::Avx2)) return avx2_kernel();
  return portable_kernel();
}

Kernel& current() {
  static Kernel k = best();
  return k;
}

}  // namespace

Kernel portable_kernel() {
  return {Isa::Portable, kPortableMr, portable, "portable"};
}

const Kernel& kernel() {
  return current();
}

bool use_isa(Isa isa) {
  if (!cpu_has(isa)) return false;
  current() = isa == Isa::Avx512 ? avx512_kernel()
              : isa == Isa::Avx2 ? avx2_kernel()
                                 : portable_kernel();
  return true;
}

void pack_a(const float* x, uint64_t ldx, uint64_t rows, uint64_t k, uint64_t mr, float* out) {
  for (uint64_t t0 = 0; t0 < rows; t0 += mr) {
    float* block = out + t0 * k;  // (t0 / mr) * k * mr
    const uint64_t m = std::min(mr, rows - t0);
    const float* src = x + t0 * ldx;
    // Written in order, read from m rows at once.
    for (uint64_t j = 0; j < k; ++j) {
      float* dst = block + j * mr;
      for (uint64_t i = 0; i < m; ++i) dst[i] = src[i * ldx + j];
      for (uint64_t i = m; i < mr; ++i) dst[i] = 0.0f;
    }
  }
}

void pack_b_rows(const float* w, uint64_t ldw, uint64_t n, uint64_t k, float* out) {
  // Sixteen values of k at a time: the reads stay within one cache line per row and the
  // writes within sixteen lines of the panel.
  constexpr uint64_t kStep = 16;
  const uint64_t done =
      n == kNr && kernel().isa == Isa::Avx512 ? pack_b_rows_avx512(w, ldw, k, out) : 0;
  for (uint64_t k0 = done; k0 < k; k0 += kStep) {
    const uint64_t kn = std::min(kStep, k - k0);
    for (uint64_t r = 0; r < n; ++r) {
      const float* src = w + r * ldw + k0;
      for (uint64_t j = 0; j < kn; ++j) out[(k0 + j) * kNr + r] = src[j];
    }
    for (uint64_t r = n; r < kNr; ++r)
      for (uint64_t j = 0; j < kn; ++j) out[(k0 + j) * kNr + r] = 0.0f;
  }
}

void pack_b_cols(const float* v, uint64_t ldv, uint64_t n, uint64_t k, float* out) {
  for (uint64_t j = 0; j < k; ++j) {
    std::copy(v + j * ldv, v + j * ldv + n, out + j * kNr);
    std::fill(out + j * kNr + n, out + (j + 1) * kNr, 0.0f);
  }
}

void tile_all_k(const Kernel& kn, const float* a, const float* b, uint64_t k, float* c,
                uint64_t ldc, uint64_t m, uint64_t n) {
  if (k == 0) return kn.tile(a, b, 0, c, ldc, m, n, false);
  for (uint64_t k0 = 0; k0 < k; k0 += kKc)
    kn.tile(a + k0 * kn.mr, b + k0 * kNr, std::min(kKc, k - k0), c, ldc, m, n, k0 > 0);
}

}  // namespace owl::validate::gemm
