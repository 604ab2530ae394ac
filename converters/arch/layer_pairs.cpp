#include "converters/arch/layer_pairs.h"

#include <string>

#include "converters/arch/tensor_names.h"
#include "formats/io/error.h"

namespace owl::arch {

void join_layer_pairs(Graph& g, std::string_view first, std::string_view second,
                      std::string_view joined,
                      const std::function<Tensor(const Tensor&, const Tensor&)>& join) {
  std::vector<Tensor> out;
  size_t seconds = 0, joined_seconds = 0;
  for (Tensor& t : g.tensors) {
    const auto in_layer = split_gguf_layer(t.name);
    if (in_layer && in_layer->second == second) {
      ++seconds;  // joined with its layer's first
      continue;
    }
    if (!in_layer || in_layer->second != first) {
      out.push_back(std::move(t));
      continue;
    }
    const Tensor* mate =
        g.find("blk." + std::to_string(in_layer->first) + "." + std::string(second));
    if (!mate)
      throw UsageError("tensor '" + t.name + "' has no " + std::string(second) +
                       " beside it to join with into " + std::string(joined));
    out.push_back(join(t, *mate));
    ++joined_seconds;
  }
  // Each join took its own layer's second; one left over has no first, and would be lost.
  if (seconds != joined_seconds)
    throw UsageError("a " + std::string(second) + " tensor has no " + std::string(first) +
                     " to join with into " + std::string(joined));
  g.tensors = std::move(out);
}

}  // namespace owl::arch
