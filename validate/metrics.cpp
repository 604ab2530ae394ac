#include "validate/metrics.h"

#include <algorithm>
#include <cmath>

namespace owl::validate {
namespace {

// log-softmax denominator: max + log(sum(exp(x - max))).
double log_sum_exp(const float* x, uint64_t n) {
  const float m = *std::max_element(x, x + n);
  double s = 0;
  for (uint64_t i = 0; i < n; ++i) s += std::exp(static_cast<double>(x[i]) - m);
  return m + std::log(s);
}

}  // namespace

double nll(const float* logits, uint64_t n_vocab, int32_t target) {
  return log_sum_exp(logits, n_vocab) - logits[target];
}

TokenScore score_position(const float* ref, const float* test, uint64_t n_vocab, int32_t target) {
  const double lse_ref = log_sum_exp(ref, n_vocab), lse_test = log_sum_exp(test, n_vocab);
  TokenScore s;
  double kld = 0;
  uint64_t top_ref = 0, top_test = 0;
  for (uint64_t i = 0; i < n_vocab; ++i) {
    const double lr = ref[i] - lse_ref, lt = test[i] - lse_test;
    kld += std::exp(lr) * (lr - lt);
    if (ref[i] > ref[top_ref]) top_ref = i;
    if (test[i] > test[top_test]) top_test = i;
  }
  s.kld = std::max(0.0, kld);  // rounding can leave a tiny negative sum for identical inputs
  s.nll_ref = lse_ref - ref[target];
  s.nll_test = lse_test - test[target];
  s.p_ref = std::exp(-s.nll_ref);
  s.p_test = std::exp(-s.nll_test);
  s.same_top1 = top_ref == top_test;
  return s;
}

Distribution describe_distribution(std::vector<double> v) {
  Distribution d;
  if (v.empty()) return d;
  double sum = 0, sum2 = 0;
  for (double x : v) {
    sum += x;
    sum2 += x * x;
  }
  const double n = static_cast<double>(v.size());
  d.mean = sum / n;
  const double var = v.size() > 1 ? std::max(0.0, (sum2 - sum * d.mean) / (n - 1)) : 0.0;
  d.stderr_ = std::sqrt(var / n);
  std::sort(v.begin(), v.end());
  auto quantile = [&](double q) {
    return v[std::min(v.size() - 1, static_cast<size_t>(q * (n - 1) + 0.5))];
  };
  d.median = quantile(0.5);
  d.p90 = quantile(0.9);
  d.p99 = quantile(0.99);
  d.max = v.back();
  return d;
}

DriftSummary summarize(const std::vector<TokenScore>& scores) {
  DriftSummary s;
  s.tokens = scores.size();
  if (scores.empty()) return s;
  std::vector<double> kld;
  double nll_ref = 0, nll_test = 0, dp2 = 0;
  uint64_t same = 0;
  for (const auto& t : scores) {
    kld.push_back(t.kld);
    nll_ref += t.nll_ref;
    nll_test += t.nll_test;
    dp2 += (t.p_test - t.p_ref) * (t.p_test - t.p_ref);
    same += t.same_top1;
  }
  const double n = static_cast<double>(scores.size());
  s.kld = describe_distribution(std::move(kld));
  s.ppl_ref = std::exp(nll_ref / n);
  s.ppl_test = std::exp(nll_test / n);
  s.top1_agreement = static_cast<double>(same) / n;
  s.delta_p_rms = std::sqrt(dp2 / n);
  return s;
}

}  // namespace owl::validate
