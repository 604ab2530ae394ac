#include "converters/arch/arch.h"

#include "converters/arch/arch_internal.h"
#include "converters/arch/family.h"
#include "formats/hf/folder.h"
#include "formats/io/error.h"

namespace owl::arch {

void to_gguf(Graph& g, const std::function<void(const std::string&)>& warn,
             const ToGgufOptions& options) {
  if (g.format == "llama2c") return llama2c_to_gguf(g);
  for (const auto& [key, value] : g.metadata)
    if (key.starts_with(hf::kConfigPrefix)) return hf_to_gguf(g, warn, options);
  throw UsageError("no config.json: cannot tell the architecture");
}

void check_convertible(const Graph& g) {
  if (g.format == "llama2c") return;
  for (const auto& [key, value] : g.metadata)
    if (key.starts_with(hf::kConfigPrefix)) {
      hf_family(g);
      return;
    }
}

void to_hf(Graph& g) {
  gguf_to_hf(g);
}

std::vector<std::string> supported_architectures() {
  std::vector<std::string> out;
  for (const Family* f : families())
    for (auto a : f->hf_architectures) out.emplace_back(a);
  return out;
}

}  // namespace owl::arch
