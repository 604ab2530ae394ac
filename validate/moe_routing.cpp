#include "validate/moe_routing.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace owl::validate {
namespace {

// Indices of `v` from the largest value down; ties keep index order.
std::vector<uint64_t> descending(const std::vector<float>& v) {
  std::vector<uint64_t> order(v.size());
  std::iota(order.begin(), order.end(), uint64_t{0});
  std::stable_sort(order.begin(), order.end(), [&](uint64_t a, uint64_t b) { return v[a] > v[b]; });
  return order;
}

float sigmoid(float x) {
  return 1.0f / (1.0f + std::exp(-x));
}

void softmax(float* p, uint64_t n) {
  const float top = *std::max_element(p, p + n);
  float sum = 0;
  for (uint64_t e = 0; e < n; ++e) sum += p[e] = std::exp(p[e] - top);
  for (uint64_t e = 0; e < n; ++e) p[e] /= sum;
}

// The scores experts are picked by: gpt-oss and Llama 4 pick by the logits themselves.
void scores(const RoutingRule& r, float* p) {
  if (r.gating == Gating::softmax) softmax(p, r.n_expert);
  if (r.gating == Gating::sigmoid)
    for (uint64_t e = 0; e < r.n_expert; ++e) p[e] = sigmoid(p[e]);
}

// The picked experts' weights from their scores.
void picked_weights(const RoutingRule& r, std::vector<std::pair<uint64_t, float>>& chosen) {
  if (r.gating == Gating::softmax_of_picked) {
    std::vector<float> w;
    for (const auto& c : chosen) w.push_back(c.second);
    softmax(w.data(), w.size());
    for (size_t i = 0; i < w.size(); ++i) chosen[i].second = w[i];
  }
  if (r.gating == Gating::sigmoid_on_input)
    for (auto& c : chosen) c.second = sigmoid(c.second);
}

// Sets the choice of every expert outside the best groups to -infinity.
void keep_best_groups(const RoutingRule& r, std::vector<float>& choice) {
  const uint64_t per_group = r.n_expert / r.groups;
  std::vector<float> group_score(r.groups);
  for (uint64_t g = 0; g < r.groups; ++g) {
    std::vector<float> members(choice.begin() + g * per_group,
                               choice.begin() + (g + 1) * per_group);
    const auto best = descending(members);
    for (uint64_t i = 0; i < std::min<uint64_t>(2, per_group); ++i)
      group_score[g] += members[best[i]];
  }
  const auto order = descending(group_score);
  std::vector<bool> kept(r.groups, false);
  for (uint64_t i = 0; i < r.groups_used && i < r.groups; ++i) kept[order[i]] = true;
  for (uint64_t e = 0; e < r.n_expert; ++e)
    if (!kept[e / per_group]) choice[e] = -std::numeric_limits<float>::infinity();
}

}  // namespace

std::vector<std::pair<uint64_t, float>> route(const RoutingRule& r, float* logits,
                                              const float* bias) {
  scores(r, logits);
  std::vector<float> choice(logits, logits + r.n_expert);
  if (bias)
    for (uint64_t e = 0; e < r.n_expert; ++e) choice[e] += bias[e];
  if (r.groups > 1) keep_best_groups(r, choice);
  const auto order = descending(choice);
  std::vector<std::pair<uint64_t, float>> chosen;
  for (uint64_t i = 0; i < r.n_used; ++i) chosen.push_back({order[i], logits[order[i]]});
  picked_weights(r, chosen);
  float picked = 0;
  for (const auto& c : chosen) picked += c.second;
  // ggml clamps the sum from below before dividing.
  const float norm = r.norm ? std::max(picked, 6.103515625e-5f) : 1.0f;
  const float scale = r.scale != 0 && r.scale != 1 ? r.scale : 1.0f;
  for (auto& [e, w] : chosen) w = w / norm * scale;
  return chosen;
}

}  // namespace owl::validate
