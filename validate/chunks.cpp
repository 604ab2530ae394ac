#include "validate/chunks.h"

namespace owl::validate {

std::vector<Chunk> make_chunks(std::span<const int32_t> stream, uint64_t n_ctx,
                               std::optional<int32_t> bos) {
  std::vector<Chunk> chunks;
  if (n_ctx < 2) return chunks;
  for (uint64_t start = 0; start + n_ctx <= stream.size(); start += n_ctx) {
    Chunk c;
    c.tokens.assign(stream.begin() + static_cast<std::ptrdiff_t>(start),
                    stream.begin() + static_cast<std::ptrdiff_t>(start + n_ctx));
    if (bos) c.tokens[0] = *bos;
    c.first_scored = n_ctx / 2;
    chunks.push_back(std::move(c));
  }
  return chunks;
}

}  // namespace owl::validate
