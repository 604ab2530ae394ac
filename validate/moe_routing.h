// Which experts a token's router sends it to, and with what weights, as llama.cpp's
// build_moe_ffn chooses them: softmax or sigmoid scores, an optional selection bias (DeepSeek-V3's
// exp_probs_b), an optional search limited to the best groups of experts, top-k, the picked
// logits turned into weights (gpt-oss, Llama 4), and the chosen weights renormalised and scaled
// where the model says so.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace owl::validate {

// How the router's logits become expert weights: a softmax over all experts; their sigmoids
// (DeepSeek-V3); a softmax over the picked ones, picked by logit (gpt-oss); the sigmoid of the
// picked ones, picked by logit, multiplying the expert's input rather than its output (Llama 4).
enum class Gating { softmax, sigmoid, softmax_of_picked, sigmoid_on_input };

struct RoutingRule {
  uint64_t n_expert = 0, n_used = 0;
  Gating gating = Gating::softmax;
  bool norm = false;  // the chosen weights divided by their sum
  float scale = 0;    // the chosen weights multiplied by this (0 or 1: left alone)
  // The experts in `groups` consecutive groups; only the `groups_used` groups whose two best
  // scores sum highest are searched (0 or 1 group: all are).
  uint64_t groups = 0, groups_used = 0;
};

// `logits`: the router's n_expert outputs for one token (overwritten with the scores); `bias`:
// n_expert values added to the scores for the choice alone, or null. Returns the chosen experts,
// best first, with their weights.
std::vector<std::pair<uint64_t, float>> route(const RoutingRule& r, float* logits,
                                              const float* bias);

}  // namespace owl::validate
