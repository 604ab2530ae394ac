// Drift between two models' next-token distributions, scored as llama-perplexity scores them.
#pragma once

#include <cstdint>
#include <vector>

namespace owl::validate {

// One scored position: both models' view of the true next token, and how far apart they are.
struct TokenScore {
  double kld = 0;       // KL(P_ref || P_test), in nats
  double nll_ref = 0;   // -log P_ref(target)
  double nll_test = 0;  // -log P_test(target)
  double p_ref = 0, p_test = 0;
  bool same_top1 = false;
};

// Scores one position from the raw logits of both models (softmax in double).
TokenScore score_position(const float* ref_logits, const float* test_logits, uint64_t n_vocab,
                          int32_t target);

// Perplexity of one model alone, for positions scored without a second model.
double nll(const float* logits, uint64_t n_vocab, int32_t target);

struct Distribution {
  double mean = 0, stderr_ = 0, median = 0, p90 = 0, p99 = 0, max = 0;
};

struct DriftSummary {
  uint64_t tokens = 0;
  Distribution kld;
  double ppl_ref = 0, ppl_test = 0;
  double top1_agreement = 0;  // 0..1
  double delta_p_rms = 0;     // RMS of P_test(target) - P_ref(target)
};

DriftSummary summarize(const std::vector<TokenScore>& scores);

// Mean, standard error of the mean, and the quantiles of `values` (sorted internally).
Distribution describe_distribution(std::vector<double> values);

}  // namespace owl::validate
