#include "converters/lora/merge.h"

#include <charconv>
#include <cmath>
#include <map>

#include "converters/lora/adapter.h"
#include "converters/lora/merge_source.h"
#include "formats/io/error.h"
#include "quant/float_codec.h"

namespace owl::lora {
namespace {

Tensor& base_tensor(Graph& g, std::map<std::string, size_t>& index, const std::string& name,
                    const std::string& adapter_file) {
  auto it = index.find(name);
  if (it == index.end())
    throw InputError(adapter_file, "adapts '" + name + "', which the base model does not have");
  Tensor& t = g.tensors[it->second];
  if (!is_castable_float(t.type))
    throw UsageError("base tensor '" + name + "' is " + std::string(type_name(t.type)) +
                     "; LoRA merges into float weights (F32, F16, BF16)");
  return t;
}

}  // namespace

LoraSpec parse_lora_spec(std::string_view text) {
  LoraSpec s{std::string(text), 1.0};
  if (const auto colon = text.rfind(':'); colon != std::string_view::npos) {
    const std::string_view tail = text.substr(colon + 1);
    double v = 0;
    const auto [end, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), v);
    if (ec == std::errc() && end == tail.data() + tail.size() && !tail.empty() &&
        std::isfinite(v)) {
      s.folder = std::string(text.substr(0, colon));
      s.scale = v;
    }
  }
  if (s.folder.empty()) throw UsageError("--lora needs an adapter folder, as DIR or DIR:SCALE");
  return s;
}

MergeSummary apply_adapters(Graph& g, const std::vector<LoraSpec>& specs,
                            std::optional<ElemType> merged_type) {
  MergeSummary summary;
  if (specs.empty()) return summary;
  if (g.format == "gguf")
    throw UsageError(
        "a LoRA adapter names the base's Hugging Face tensors: give the base as a Hugging Face "
        "folder or checkpoint, not GGUF");
  if (merged_type && !is_castable_float(*merged_type))
    throw UsageError("merged weights are stored as a float type");

  std::map<std::string, size_t> index;
  for (size_t i = 0; i < g.tensors.size(); ++i) index.emplace(g.tensors[i].name, i);

  // Every adapter's deltas per weight, in the order given, applied in one source per weight.
  std::map<size_t, std::vector<Delta>> deltas;
  for (const auto& spec : specs) {
    const Adapter ad = read_adapter(spec.folder);
    for (const auto& p : ad.pairs) {
      Tensor& t = base_tensor(g, index, p.weight, ad.weights_file);
      if (t.shape.size() != 2 || t.shape[0] != p.b.shape[0] || t.shape[1] != p.a.shape[1])
        throw InputError(ad.weights_file, "'" + p.weight + "': lora_B " + p.b.shape_string() +
                                              " x lora_A " + p.a.shape_string() +
                                              " does not fit the base's " + t.shape_string());
      deltas[index.at(p.weight)].push_back({p.a, p.b, static_cast<float>(p.scale * spec.scale)});
    }
    for (const auto& r : ad.replacements) {
      Tensor& t = base_tensor(g, index, r.name, ad.weights_file);
      if (t.shape != r.shape)
        throw InputError(ad.weights_file, "'" + r.name + "' is " + r.shape_string() +
                                              " but the base's is " + t.shape_string());
      // A saved module replaces the weight outright; deltas before it in the order are lost.
      deltas.erase(index.at(r.name));
      const ElemType to = merged_type.value_or(t.type);
      t.data =
          to == r.type ? r.data : std::make_shared<CastSource>(r.data, r.type, to, r.elements());
      t.type = to;
      ++summary.replaced;
    }
  }
  for (auto& [i, list] : deltas) {
    Tensor& t = g.tensors[i];
    const ElemType to = merged_type.value_or(t.type);
    t.data = std::make_shared<MergedWeightSource>(t.data, t.type, t.shape[0], t.shape[1],
                                                  std::move(list), to);
    t.type = to;
    ++summary.merged;
  }
  return summary;
}

}  // namespace owl::lora
