// A token stream cut into evaluation chunks the way llama-perplexity cuts it, so owl's figures
// compare with published ones.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace owl::validate {

struct Chunk {
  std::vector<int32_t> tokens;  // n_ctx tokens; the first replaced by BOS when the model adds one
  uint64_t first_scored =
      0;  // logits at positions [first_scored, n_ctx - 1) predict the next token
};

// floor(n / n_ctx) chunks; the second half of each is scored.
std::vector<Chunk> make_chunks(std::span<const int32_t> stream, uint64_t n_ctx,
                               std::optional<int32_t> bos);

}  // namespace owl::validate
