#include <catch2/catch.hpp>

#include <omp.h>

#include <cmath>
#include <cstring>
#include <random>

#include "quant/codec.h"
#include "quant/float_codec.h"
#include "validate/attention.h"
#include "validate/matmul.h"
#include "validate/matmul_kernels.h"

using namespace owl;
using namespace owl::validate;

namespace {

std::vector<float> random_floats(uint64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& f : v) f = d(rng);
  return v;
}

// A [rows, cols] tensor of `type` holding `values` rounded or quantized into it.
Tensor make_tensor(ElemType type, uint64_t rows, uint64_t cols, const std::vector<float>& values) {
  Tensor t;
  t.name = std::string("w");
  t.shape = {rows, cols};
  t.type = type;
  const TypeInfo& info = type_info(type);
  std::vector<std::byte> bytes(rows * cols / info.block_elems * info.block_bytes);
  if (is_castable_float(type))
    cast_elements(ElemType::F32, std::as_bytes(std::span(values)), type, bytes, values.size());
  else
    quantize_row(type, values, bytes);
  t.data = std::make_shared<BufferSource>(std::move(bytes));
  return t;
}

// Every kernel this CPU runs; the widest is left in use afterwards.
std::vector<gemm::Isa> isas() {
  std::vector<gemm::Isa> all;
  for (gemm::Isa i : {gemm::Isa::Portable, gemm::Isa::Avx2, gemm::Isa::Avx512})
    if (gemm::cpu_has(i)) all.push_back(i);
  return all;
}

struct RestoreIsa {
  gemm::Isa saved = gemm::kernel().isa;
  ~RestoreIsa() { gemm::use_isa(saved); }
};

// f32 products summed k-block by k-block: each block is a sequential sum of at most kKc terms
// and the blocks are summed in order, so each output's error is at most n u sum|x w| with
// n = kKc + the number of blocks (u = 2^-24; the bound is first order, hence the 2x).
double error_bound(uint64_t K) {
  const double n =
      static_cast<double>(std::min<uint64_t>(K, gemm::kKc) + (K + gemm::kKc - 1) / gemm::kKc);
  return 2.0 * n * std::ldexp(1.0, -24);
}

void check_against_double(const Weight& w, uint64_t T, uint32_t seed) {
  const uint64_t N = w.rows(), K = w.cols();
  const auto x = random_floats(T * K, seed);
  std::vector<float> wf(N * K);
  w.rows_f32(0, N, wf.data());
  std::vector<float> y(T * N, NAN);
  matmul(w, x.data(), T, y.data());
  for (uint64_t t = 0; t < T; ++t)
    for (uint64_t r = 0; r < N; ++r) {
      double ref = 0, mag = 0;
      for (uint64_t k = 0; k < K; ++k) {
        ref += static_cast<double>(x[t * K + k]) * wf[r * K + k];
        mag += std::fabs(static_cast<double>(x[t * K + k]) * wf[r * K + k]);
      }
      const double err = std::fabs(y[t * N + r] - ref);
      if (!(err <= error_bound(K) * mag)) {
        INFO("token " << t << " row " << r << ": " << y[t * N + r] << " vs " << ref << ", |x||w| "
                      << mag);
        REQUIRE(err <= error_bound(K) * mag);
      }
    }
}

}  // namespace

TEST_CASE("matmul matches a double-precision product for every weight type and kernel",
          "[validate][matmul]") {
  RestoreIsa restore;
  struct Case {
    ElemType type;
    uint64_t rows, cols;
  };
  // Rows not a multiple of a panel (32) or a tile (64), columns not of a K block (256) or of 32.
  const Case cases[] = {{ElemType::F32, 45, 172},  {ElemType::F32, 70, 600},
                        {ElemType::F16, 33, 172},  {ElemType::BF16, 97, 300},
                        {ElemType::Q8_0, 70, 288}, {ElemType::Q4_K, 40, 512}};
  for (gemm::Isa isa : isas()) {
    REQUIRE(gemm::use_isa(isa));
    for (const Case& c : cases) {
      const Tensor t = make_tensor(c.type, c.rows, c.cols, random_floats(c.rows * c.cols, 7));
      const Weight w(t);
      for (uint64_t T : {1, 5, 13, 29}) {
        INFO(gemm::kernel().name << " " << type_name(c.type) << " [" << c.rows << ", " << c.cols
                                 << "] x " << T << " tokens");
        check_against_double(w, T, static_cast<uint32_t>(T));
      }
    }
  }
}

TEST_CASE("matmul gives the same bits whatever the thread count or the batch",
          "[validate][matmul]") {
  const Tensor t = make_tensor(ElemType::Q8_0, 300, 608, random_floats(300 * 608, 3));
  const Weight w(t);
  const uint64_t T = 41;
  const auto x = random_floats(T * 608, 4);
  const int saved = omp_get_max_threads();
  auto run = [&](int threads, uint64_t tokens, const float* in) {
    omp_set_num_threads(threads);
    std::vector<float> y(tokens * 300);
    matmul(w, in, tokens, y.data());
    return y;
  };
  const auto one = run(1, T, x.data()), three = run(3, T, x.data());
  omp_set_num_threads(saved);
  REQUIRE(std::memcmp(one.data(), three.data(), one.size() * 4) == 0);
  // A token's outputs do not depend on which tokens share its tile.
  const auto alone = run(saved, 1, x.data() + 17 * 608);
  REQUIRE(std::memcmp(alone.data(), one.data() + 17 * 300, 300 * 4) == 0);
}

TEST_CASE("causal attention matches a double-precision softmax", "[validate][matmul]") {
  RestoreIsa restore;
  const AttentionShape plain{37, 4, 2, 40, 0.3f};
  const uint64_t qn = plain.tokens * plain.n_head * plain.head_dim,
                 kn = plain.tokens * plain.n_head_kv * plain.head_dim;
  const auto q = random_floats(qn, 1), k = random_floats(kn, 2), v = random_floats(kn, 3);
  const float sinks[] = {0.5f, -1.0f, 2.0f, 0.0f};
  // Plain; a sliding window of 5 (gpt-oss); chunks of 8 (Llama 4); sinks, alone and with a window.
  const AttentionShape shapes[] = {plain,
                                   {37, 4, 2, 40, 0.3f, 5},
                                   {37, 4, 2, 40, 0.3f, 0, 8},
                                   {37, 4, 2, 40, 0.3f, 0, 0, sinks},
                                   {37, 4, 2, 40, 0.3f, 5, 0, sinks}};
  for (const AttentionShape& s : shapes) {
    for (gemm::Isa isa : isas()) {
      REQUIRE(gemm::use_isa(isa));
      INFO(gemm::kernel().name << " window " << s.window << " chunk " << s.chunk << " sinks "
                               << (s.sinks != nullptr));
      std::vector<float> out(qn, NAN);
      causal_attention(q.data(), k.data(), v.data(), s, out.data());
      for (uint64_t t = 0; t < s.tokens; ++t)
        for (uint64_t h = 0; h < s.n_head; ++h) {
          const uint64_t hk = h / (s.n_head / s.n_head_kv);
          uint64_t first = s.window && t + 1 > s.window ? t + 1 - s.window : 0;
          if (s.chunk) first = t / s.chunk * s.chunk;
          const float* qv = q.data() + (t * s.n_head + h) * s.head_dim;
          std::vector<double> p(t + 1, 0.0);
          double max = s.sinks ? s.sinks[h] : -INFINITY, sum = 0;
          for (uint64_t j = first; j <= t; ++j) {
            const float* kv = k.data() + (j * s.n_head_kv + hk) * s.head_dim;
            double d = 0;
            for (uint64_t i = 0; i < s.head_dim; ++i) d += static_cast<double>(qv[i]) * kv[i];
            p[j] = d * s.scale;
            max = std::max(max, p[j]);
          }
          for (uint64_t j = first; j <= t; ++j) sum += p[j] = std::exp(p[j] - max);
          if (s.sinks) sum += std::exp(s.sinks[h] - max);
          for (uint64_t i = 0; i < s.head_dim; ++i) {
            double ref = 0;
            for (uint64_t j = first; j <= t; ++j)
              ref += p[j] / sum * v[(j * s.n_head_kv + hk) * s.head_dim + i];
            // Outputs are averages of values in [-1, 1]; q.k and exp carry a few f32 roundings.
            REQUIRE(std::fabs(out[(t * s.n_head + h) * s.head_dim + i] - ref) < 2e-6);
          }
        }
    }
  }
}

TEST_CASE("causal attention gives the same bits whatever the thread count", "[validate][matmul]") {
  const AttentionShape s{70, 6, 3, 64, 0.125f};
  const uint64_t qn = s.tokens * s.n_head * s.head_dim, kn = s.tokens * s.n_head_kv * s.head_dim;
  const auto q = random_floats(qn, 5), k = random_floats(kn, 6), v = random_floats(kn, 7);
  const int saved = omp_get_max_threads();
  auto run = [&](int threads) {
    omp_set_num_threads(threads);
    std::vector<float> out(qn);
    causal_attention(q.data(), k.data(), v.data(), s, out.data());
    return out;
  };
  const auto one = run(1), three = run(3);
  omp_set_num_threads(saved);
  REQUIRE(std::memcmp(one.data(), three.data(), qn * 4) == 0);
}
