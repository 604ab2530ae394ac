// The register-blocked f32 GEMM microkernels behind matmul() and the attention, with the packed
// operand layouts they read. One kernel is picked for the CPU at run time.
//
// C[m, n] (+)= sum_k A[m, k] * B[n, k] for a tile of at most `mr` rows of A ("tokens") and kNr
// rows of B ("weight rows", the columns of C). Operands are packed so that the kernel reads
// both contiguously:
//   A block: [k][mr]  the k-th values of mr tokens side by side (missing tokens are zeros)
//   B panel: [k][kNr] the k-th values of kNr weight rows side by side (missing rows are zeros)
// Each C value is one sequential f32 sum over the k given to one call, so its bits do not depend
// on which thread computes it or on which other tokens and rows share its tile.
#pragma once

#include <cstdint>
#include <memory>
#include <new>

namespace owl::validate::gemm {

constexpr uint64_t kNr = 32;  // weight rows per B panel
constexpr uint64_t kMaxMr = 16;
// Values of k summed in registers before they are added to C: one K block's A and B slices
// stay in L1, and the blocked sum keeps the rounding error near f32's per-block bound.
constexpr uint64_t kKc = 256;

enum class Isa { Portable, Avx2, Avx512 };

// c: C's first value; ldc: C's row stride; m <= mr valid tokens, n <= kNr valid columns.
// add: C += the sum, else C = the sum.
using TileFn = void (*)(const float* a, const float* b, uint64_t kc, float* c, uint64_t ldc,
                        uint64_t m, uint64_t n, bool add);

struct Kernel {
  Isa isa;
  uint64_t mr;  // tokens per A block
  TileFn tile;
  const char* name;
};

// The kernel in use: the widest this CPU runs, unless a test picked another.
const Kernel& kernel();
// For tests and benchmarks: use `isa` from now on. False (and no change) if the CPU lacks it.
bool use_isa(Isa isa);
bool cpu_has(Isa isa);

// Per-ISA kernels (matmul_x86.cpp); only called when cpu_has() says so.
Kernel avx2_kernel();
Kernel avx512_kernel();
Kernel portable_kernel();
// pack_b_rows for a full panel, 16 values of k at a time; returns how many values of k it packed.
uint64_t pack_b_rows_avx512(const float* w, uint64_t ldw, uint64_t k, float* out);

// 64-byte aligned float storage that keeps its capacity, for per-thread packed operands.
class Buffer {
 public:
  float* get(uint64_t n) {
    if (n > size_) {
      data_.reset(new (std::align_val_t(64)) float[n]);
      size_ = n;
    }
    return data_.get();
  }

 private:
  struct Free {
    void operator()(float* p) const { ::operator delete[](p, std::align_val_t(64)); }
  };
  std::unique_ptr<float[], Free> data_;
  uint64_t size_ = 0;
};

// A blocks for `rows` tokens of `k` values (token t at x + t * ldx): ceil(rows / mr) blocks of
// k * mr floats, block b at out + b * k * mr.
void pack_a(const float* x, uint64_t ldx, uint64_t rows, uint64_t k, uint64_t mr, float* out);
// One B panel from n <= kNr rows of k values (row r at w + r * ldw): out holds k * kNr floats.
void pack_b_rows(const float* w, uint64_t ldw, uint64_t n, uint64_t k, float* out);
// One B panel from a [k][n] matrix (value (k, r) at v + k * ldv + r), n <= kNr: a copy, since
// its rows already run along the output columns.
void pack_b_cols(const float* v, uint64_t ldv, uint64_t n, uint64_t k, float* out);

// C[m, n] = A block x B panel over all k, summed kKc values at a time in order.
void tile_all_k(const Kernel& kn, const float* a, const float* b, uint64_t k, float* c,
                uint64_t ldc, uint64_t m, uint64_t n);

}  // namespace owl::validate::gemm
