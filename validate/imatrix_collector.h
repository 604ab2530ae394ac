// Importance-matrix statistics as llama-imatrix gathers them from a forward pass: for every matrix
// product whose weight is a `blk.*` tensor (and `output.weight` when asked), the sum over the
// tokens of each input column's square, and how many tokens went through it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "formats/imatrix/imatrix.h"

namespace owl::validate {

class ImatrixCollector {
 public:
  explicit ImatrixCollector(bool process_output) : process_output_(process_output) {}

  // Whether llama-imatrix collects the products of this weight.
  bool collects(const std::string& weight) const;

  // Adds `tokens` rows of `cols` activations at the input of `weight`'s matrix `expert` of
  // `experts` (0 of 1 for a plain matrix; llama-imatrix keeps each expert's sums and token count
  // apart). Each column's sum runs over the tokens in order (in double), so the result is the
  // same whatever the thread count. Throws UsageError for a width or expert count that differs
  // from earlier calls, or non-finite activations.
  void add(const std::string& weight, uint64_t expert, uint64_t experts, const float* x,
           uint64_t tokens, uint64_t cols);
  void add(const std::string& weight, const float* x, uint64_t tokens, uint64_t cols) {
    add(weight, 0, 1, x, tokens, cols);
  }

  void add_dataset(const std::string& name) { datasets_.push_back(name); }

  // Adds another collector's sums and counts (its datasets are not taken). A pass shared by
  // several ranks collects each chunk apart and adds them in chunk order, which a single process
  // does too, so the sums do not depend on how many ranks there are.
  void merge(const ImatrixCollector& other);
  // The sums and counts as bytes, to send to another rank, and back into a collector; `what`
  // names the bytes in the error.
  std::string to_bytes() const;
  void merge_bytes(std::string_view bytes, const std::string& what);

  // The statistics so far; chunk_count is the most tokens any entry saw over `chunk_size`.
  Imatrix result(int32_t chunk_size) const;

 private:
  struct Entry {
    std::vector<double> sums;     // experts x columns
    std::vector<int64_t> counts;  // one per expert
  };
  void merge_entry(const std::string& weight, const double* sums, uint64_t n_sums,
                   const int64_t* counts, uint64_t n_counts);

  bool process_output_;
  std::map<std::string, Entry> entries_;
  std::vector<std::string> datasets_;
};

}  // namespace owl::validate
