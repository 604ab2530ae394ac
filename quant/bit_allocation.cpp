#include "quant/bit_allocation.h"

#include <algorithm>
#include <string>

#include "formats/io/error.h"

namespace owl {
namespace {

uint64_t padded(uint64_t n, uint64_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

// The indices of a tensor's candidates on the lower convex hull of (bytes, error), smallest
// first: each step buys less error per byte than the one before.
std::vector<size_t> hull(const TensorSensitivity& s, uint64_t alignment) {
  std::vector<size_t> h;
  auto x = [&](size_t i) { return static_cast<double>(padded(s.candidates[i].bytes, alignment)); };
  auto y = [&](size_t i) { return s.candidates[i].error; };
  for (size_t i = 0; i < s.candidates.size(); ++i) {
    if (!h.empty() && x(i) == x(h.back())) {
      if (y(i) < y(h.back()))
        h.pop_back();
      else
        continue;
    }
    if (!h.empty() && y(i) >= y(h.back())) continue;  // larger and no better
    // Drop the last corner while it lies on or above the segment from the one before it to i.
    while (h.size() >= 2) {
      const size_t a = h[h.size() - 2], b = h.back();
      const double cross = (x(b) - x(a)) * (y(i) - y(a)) - (y(b) - y(a)) * (x(i) - x(a));
      if (cross > 0) break;
      h.pop_back();
    }
    h.push_back(i);
  }
  return h;
}

struct Step {
  double gain;  // error saved per byte
  size_t tensor, rank;
};

}  // namespace

BitAllocation allocate_bits(const SensitivityTable& t, uint64_t budget, uint64_t alignment) {
  alignment = std::max<uint64_t>(1, alignment);
  const size_t n = t.tensors.size();
  BitAllocation a;
  a.choice.assign(n, 0);
  std::vector<std::vector<size_t>> hulls(n);
  std::vector<Step> steps;
  for (size_t i = 0; i < n; ++i) {
    const auto& c = t.tensors[i].candidates;
    hulls[i] = hull(t.tensors[i], alignment);
    a.choice[i] = hulls[i].front();
    a.bytes += padded(c[a.choice[i]].bytes, alignment);
    for (size_t k = 1; k < hulls[i].size(); ++k) {
      const auto& lo = c[hulls[i][k - 1]];
      const auto& hi = c[hulls[i][k]];
      const double bytes =
          static_cast<double>(padded(hi.bytes, alignment) - padded(lo.bytes, alignment));
      steps.push_back({(lo.error - hi.error) / bytes, i, k});
    }
  }
  if (a.bytes > budget)
    throw UsageError("the target is too small: the smallest types take " + std::to_string(a.bytes) +
                     " bytes, the budget is " + std::to_string(budget));
  std::stable_sort(steps.begin(), steps.end(), [](const Step& x, const Step& y) {
    if (x.gain != y.gain) return x.gain > y.gain;
    return x.tensor != y.tensor ? x.tensor < y.tensor : x.rank < y.rank;
  });
  std::vector<size_t> rank(n, 0);
  std::vector<bool> blocked(n, false);
  auto size_of = [&](size_t i, size_t cand) {
    return padded(t.tensors[i].candidates[cand].bytes, alignment);
  };
  for (const Step& s : steps) {
    // Steps of one tensor come in order (their gains fall), unless one did not fit.
    if (blocked[s.tensor] || rank[s.tensor] + 1 != s.rank) continue;
    const size_t from = hulls[s.tensor][s.rank - 1], to = hulls[s.tensor][s.rank];
    const uint64_t grow = size_of(s.tensor, to) - size_of(s.tensor, from);
    if (a.bytes + grow > budget) {
      blocked[s.tensor] = true;
      continue;
    }
    a.bytes += grow;
    a.choice[s.tensor] = to;
    rank[s.tensor] = s.rank;
  }
  // What is left of the budget: the single upgrade that saves the most error, while one fits.
  for (;;) {
    double best_saving = 0;
    size_t best_tensor = n, best_cand = 0;
    for (size_t i = 0; i < n; ++i) {
      const auto& c = t.tensors[i].candidates;
      const uint64_t now = size_of(i, a.choice[i]);
      for (size_t k = 0; k < c.size(); ++k) {
        const uint64_t size = size_of(i, k);
        if (size <= now || a.bytes + (size - now) > budget) continue;
        const double saving = c[a.choice[i]].error - c[k].error;
        if (saving > best_saving) {
          best_saving = saving;
          best_tensor = i;
          best_cand = k;
        }
      }
    }
    if (best_tensor == n) break;
    a.bytes += size_of(best_tensor, best_cand) - size_of(best_tensor, a.choice[best_tensor]);
    a.choice[best_tensor] = best_cand;
  }
  for (size_t i = 0; i < n; ++i) a.error += t.tensors[i].candidates[a.choice[i]].error;
  return a;
}

}  // namespace owl
