#include "validate/imatrix_collector.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <span>

#include "formats/io/byte_cursor.h"
#include "formats/io/error.h"
#include "validate/layer_ops.h"

namespace owl::validate {
namespace {

// Columns one thread sums together, token after token: four cache lines of each row's
// activations, narrow enough that even a 2048-wide matrix spreads over 32 threads.
constexpr uint64_t kColumnBlock = 64;

}  // namespace

bool ImatrixCollector::collects(const std::string& weight) const {
  return weight.starts_with("blk.") || (process_output_ && weight == "output.weight");
}

void ImatrixCollector::add(const std::string& weight, uint64_t expert, uint64_t experts,
                           const float* x, uint64_t tokens, uint64_t cols) {
  Entry& e = entries_[weight];
  if (e.sums.empty()) {
    e.sums.assign(experts * cols, 0.0);
    e.counts.assign(experts, 0);
  } else if (e.sums.size() != experts * cols || e.counts.size() != experts) {
    throw UsageError("imatrix entry '" + weight + "' holds " + std::to_string(e.sums.size()) +
                     " values in " + std::to_string(e.counts.size()) +
                     " matrices, but the model's product takes " + std::to_string(cols) +
                     " columns in " + std::to_string(experts));
  }
  if (expert >= experts)
    throw UsageError("imatrix entry '" + weight + "' has no expert " + std::to_string(expert));

  const uint64_t blocks = (cols + kColumnBlock - 1) / kColumnBlock;
  double* acc = e.sums.data() + expert * cols;
  bool finite = true;
#pragma omp parallel for schedule(static) if (tokens * cols >= kParallelValues) \
    reduction(&& : finite)
  for (int64_t b = 0; b < static_cast<int64_t>(blocks); ++b) {
    const uint64_t c0 = static_cast<uint64_t>(b) * kColumnBlock,
                   c1 = std::min(cols, c0 + kColumnBlock);
    for (uint64_t t = 0; t < tokens; ++t) {
      const float* row = x + t * cols;
      for (uint64_t c = c0; c < c1; ++c) acc[c] += static_cast<double>(row[c]) * row[c];
    }
    for (uint64_t c = c0; c < c1; ++c) finite = finite && std::isfinite(acc[c]);
  }
  if (!finite)
    throw UsageError("non-finite activations at the input of '" + weight +
                     "': the model's weights or the text overflow f32");
  e.counts[expert] += static_cast<int64_t>(tokens);
}

void ImatrixCollector::merge_entry(const std::string& weight, const double* sums, uint64_t n_sums,
                                   const int64_t* counts, uint64_t n_counts) {
  Entry& e = entries_[weight];
  if (e.sums.empty()) {
    e.sums.assign(n_sums, 0.0);
    e.counts.assign(n_counts, 0);
  } else if (e.sums.size() != n_sums || e.counts.size() != n_counts) {
    throw UsageError("imatrix entry '" + weight + "' holds " + std::to_string(e.sums.size()) +
                     " values in " + std::to_string(e.counts.size()) + " matrices here and " +
                     std::to_string(n_sums) + " in " + std::to_string(n_counts) +
                     " in the statistics added to it");
  }
  for (uint64_t i = 0; i < n_sums; ++i) e.sums[i] += sums[i];
  for (uint64_t i = 0; i < n_counts; ++i) e.counts[i] += counts[i];
}

void ImatrixCollector::merge(const ImatrixCollector& other) {
  for (const auto& [name, e] : other.entries_)
    merge_entry(name, e.sums.data(), e.sums.size(), e.counts.data(), e.counts.size());
}

// Per entry: name length and name, then the sum count and sums, then the count count and counts.
std::string ImatrixCollector::to_bytes() const {
  std::string out;
  auto put = [&out](const void* p, size_t n) { out.append(static_cast<const char*>(p), n); };
  for (const auto& [name, e] : entries_) {
    const uint64_t n_name = name.size(), n_sums = e.sums.size(), n_counts = e.counts.size();
    put(&n_name, sizeof n_name);
    put(name.data(), name.size());
    put(&n_sums, sizeof n_sums);
    put(e.sums.data(), n_sums * sizeof(double));
    put(&n_counts, sizeof n_counts);
    put(e.counts.data(), n_counts * sizeof(int64_t));
  }
  return out;
}

void ImatrixCollector::merge_bytes(std::string_view bytes, const std::string& what) {
  ByteCursor c(std::as_bytes(std::span(bytes.data(), bytes.size())), what);
  while (!c.at_end()) {
    const std::string name(c.take_string(c.read<uint64_t>("name length"), "name"));
    const uint64_t n_sums = c.read<uint64_t>("sum count");
    if (n_sums > c.remaining() / sizeof(double)) c.fail("more sums than bytes");
    std::vector<double> sums(n_sums);
    std::memcpy(sums.data(), c.take(n_sums * sizeof(double), "sums").data(),
                n_sums * sizeof(double));
    const uint64_t n_counts = c.read<uint64_t>("count count");
    if (n_counts > c.remaining() / sizeof(int64_t)) c.fail("more counts than bytes");
    std::vector<int64_t> counts(n_counts);
    std::memcpy(counts.data(), c.take(n_counts * sizeof(int64_t), "counts").data(),
                n_counts * sizeof(int64_t));
    merge_entry(name, sums.data(), n_sums, counts.data(), n_counts);
  }
}

Imatrix ImatrixCollector::result(int32_t chunk_size) const {
  Imatrix m;
  int64_t most = 0;
  for (const auto& [name, e] : entries_) {
    ImatrixEntry& out = m.entries[name];
    out.sums.assign(e.sums.begin(), e.sums.end());
    out.counts = e.counts;
    // A stacked tensor that is not a mixture's experts (DeepSeek's per-head attn_k_b/attn_v_b)
    // runs every matrix on every token in one batched product, which llama-imatrix counts once.
    const bool routed = name.find("_exps.") != std::string::npos;
    if (!routed && out.counts.size() > 1 &&
        std::all_of(out.counts.begin(), out.counts.end(),
                    [&](int64_t c) { return c == out.counts[0]; }))
      out.counts = {out.counts.front()};
    for (int64_t c : e.counts) most = std::max(most, c);
  }
  m.datasets = datasets_;
  m.chunk_size = chunk_size;
  m.chunk_count = chunk_size > 0 ? static_cast<int32_t>(most / chunk_size) : 0;
  m.format = ImatrixFormat::Gguf;
  m.has_metadata = true;
  return m;
}

}  // namespace owl::validate
