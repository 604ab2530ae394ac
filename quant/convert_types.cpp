#include "quant/convert_types.h"

#include <array>
#include <regex>
#include <stdexcept>

#include "quant/float_codec.h"
#include "quant/quantize_source.h"

namespace owl {
namespace {

// Tensors convert_hf_to_gguf.py keeps in F32 whatever the target (matched on canonical names).
const std::regex kAlwaysF32(R"((blk\.\d+\.ffn_gate_inp(_shexp)?|position_embd|token_types)\.weight)");

bool ends_with(const std::string& s, std::string_view suffix) { return s.ends_with(suffix); }

}  // namespace

TypeChoice gguf_convert_type(const Tensor& t, ElemType target) {
  if (!is_castable_float(t.type)) return {t.type, "not a float tensor"};
  if (t.shape.size() <= 1) return {ElemType::F32, "1-D tensors stay F32"};
  if (ends_with(t.name, "_norm.weight")) return {ElemType::F32, "norms stay F32"};
  if (!ends_with(t.name, ".weight") || std::regex_match(t.name, kAlwaysF32))
    return {ElemType::F32, "kept F32 as llama.cpp does"};
  if (is_quantized(target) && t.shape.back() % type_info(target).block_elems != 0)
    return {ElemType::F16, "row of " + std::to_string(t.shape.back()) + " is not a multiple of " +
                               std::to_string(type_info(target).block_elems) + ": F16 instead"};
  return {target, {}};
}

std::vector<Fallback> apply_gguf_convert_types(Graph& g, ElemType target) {
  std::vector<Fallback> fallbacks;
  for (auto& t : g.tensors) {
    const TypeChoice c = gguf_convert_type(t, target);
    if (c.type == t.type) continue;
    if (is_quantized(target) && c.type == ElemType::F16) fallbacks.push_back({t.name, c.why});
    if (is_quantized(c.type)) {
      const uint64_t row = t.shape.back();
      t.data = std::make_shared<QuantizeSource>(t.data, t.type, c.type, t.elements() / row, row);
    } else {
      t.data = std::make_shared<CastSource>(t.data, t.type, c.type, t.elements());
    }
    t.type = c.type;
  }
  return fallbacks;
}

uint32_t llama_file_type(ElemType target) {
  switch (target) {
    case ElemType::F32: return 0;
    case ElemType::F16: return 1;
    case ElemType::Q8_0: return 7;
    case ElemType::BF16: return 32;
    default: throw std::logic_error("llama_file_type: no file type for this target");
  }
}

}  // namespace owl
