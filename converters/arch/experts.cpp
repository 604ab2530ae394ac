#include "converters/arch/experts.h"

#include <charconv>

#include "converters/arch/slice.h"
#include "converters/arch/stack.h"
#include "converters/arch/tensor_names.h"
#include "formats/io/error.h"

namespace owl::arch {
namespace {

std::string_view without_weight(std::string_view s) {
  constexpr std::string_view kWeight = ".weight";
  return s.ends_with(kWeight) ? s.substr(0, s.size() - kWeight.size()) : s;
}

std::string layer_name(int64_t layer, std::string_view gguf) {
  return "blk." + std::to_string(layer) + "." + std::string(gguf) + ".weight";
}

// "E.<stem>" -> {E, stem}.
std::optional<std::pair<int64_t, std::string_view>> split_expert(std::string_view s) {
  const size_t dot = s.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 9) return std::nullopt;
  int64_t e = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + dot, e);
  if (ec != std::errc() || p != s.data() + dot) return std::nullopt;
  return std::pair{e, s.substr(dot + 1)};
}

}  // namespace

int64_t config_expert_count(const HParams& hp) {
  return hp.first_int({"num_local_experts", "num_experts", "n_routed_experts"}).value_or(0);
}

ExpertGatherer::ExpertGatherer(const ExpertTable& table, int64_t experts, int64_t layers,
                               std::string where)
    : table_(table), experts_(experts), layers_(layers), where_(std::move(where)) {
  const bool has_experts = !table.stems.empty() || !table.fused.empty() || !table.whole.empty();
  if (has_experts && (experts_ <= 0 || experts_ > kMaxExperts))
    fail("config.json gives " + std::to_string(experts_) + " experts, outside 1.." +
         std::to_string(kMaxExperts));
}

void ExpertGatherer::fail(const std::string& what) const {
  throw InputError(where_, what);
}

std::optional<std::vector<Tensor>> ExpertGatherer::take(const std::string& hf_name, Tensor& t) {
  const auto in_layer = split_hf_layer(hf_name);
  if (!in_layer) return std::nullopt;
  const auto [layer, rest] = *in_layer;
  const std::string_view stem = without_weight(rest);
  for (const NamePair& w : table_.whole) {
    if (stem != w.hf) continue;
    check_stacked(hf_name, t, 1);
    if (layer >= layers_) fail("tensor '" + hf_name + "' is beyond the config's layers");
    t.name = layer_name(layer, w.gguf);
    return std::vector<Tensor>{std::move(t)};
  }
  for (const FusedExperts& f : table_.fused)
    if (stem == f.hf) return split(layer, f, hf_name, t);
  if (table_.stems.empty() || !rest.starts_with(table_.prefix)) return std::nullopt;
  const auto expert = split_expert(rest.substr(table_.prefix.size()));
  if (!expert || !rest.ends_with(".weight")) return std::nullopt;
  const auto [e, expert_stem] = *expert;
  size_t s = 0;
  while (s < table_.stems.size() && table_.stems[s].hf != without_weight(expert_stem)) ++s;
  if (s == table_.stems.size()) return std::nullopt;

  if (layer >= layers_)
    fail("tensor '" + hf_name + "' is in layer " + std::to_string(layer) +
         " but config.json says there are " + std::to_string(layers_));
  if (e >= experts_)
    fail("tensor '" + hf_name + "' is expert " + std::to_string(e) + " but config.json says " +
         "there are " + std::to_string(experts_));
  if (t.shape.size() != 2) fail("expert tensor '" + hf_name + "' is not a matrix");
  Layer& l = pending_[layer];
  if (l.by_stem.empty())
    l.by_stem.assign(table_.stems.size(), std::vector<std::optional<Tensor>>(experts_));
  for (const auto& other : l.by_stem[s]) {
    if (other && (other->shape != t.shape || other->type != t.type))
      fail("expert tensor '" + hf_name + "' is " + std::string(type_name(t.type)) + " " +
           t.shape_string() + " but another expert's is " + std::string(type_name(other->type)) +
           " " + other->shape_string());
  }
  if (l.by_stem[s][e]) fail("tensor '" + hf_name + "' appears twice");
  l.by_stem[s][e] = std::move(t);
  if (++l.count < experts_ * static_cast<int64_t>(table_.stems.size()))
    return std::vector<Tensor>{};
  std::vector<Tensor> out = stack(layer, l);
  pending_.erase(layer);
  return out;
}

std::vector<Tensor> ExpertGatherer::stack(int64_t layer, Layer& l) const {
  std::vector<Tensor> out;
  for (size_t s = 0; s < table_.stems.size(); ++s) {
    std::vector<SourcePtr> parts;
    for (auto& e : l.by_stem[s]) parts.push_back(e->data);
    const Tensor& first = *l.by_stem[s][0];
    Tensor t;
    t.name = layer_name(layer, table_.stems[s].gguf);
    t.shape = {static_cast<uint64_t>(experts_), first.shape[0], first.shape[1]};
    t.type = first.type;
    t.data = std::make_shared<StackSource>(std::move(parts));
    out.push_back(std::move(t));
  }
  return out;
}

void ExpertGatherer::check_stacked(const std::string& hf_name, const Tensor& t,
                                   uint64_t min_rows) const {
  if (t.shape.size() != 3 || t.shape[0] != static_cast<uint64_t>(experts_) ||
      t.shape[1] < min_rows || t.shape[2] == 0) {
    fail("tensor '" + hf_name + "' is " + t.shape_string() + ", not [" + std::to_string(experts_) +
         ", rows, columns] for the config's " + std::to_string(experts_) + " experts");
  }
}

std::vector<Tensor> ExpertGatherer::split(int64_t layer, const FusedExperts& f,
                                          const std::string& hf_name, Tensor& t) const {
  check_stacked(hf_name, t, 2);
  if (layer >= layers_) fail("tensor '" + hf_name + "' is beyond the config's layers");
  const uint64_t rows = t.shape[1];
  if (rows % 2) fail("tensor '" + hf_name + "' has an odd number of rows per expert to halve");
  const uint64_t expert_bytes = t.byte_size() / t.shape[0];
  const uint64_t half_bytes = expert_bytes / 2;
  if (t.byte_size() % t.shape[0] || expert_bytes % rows)
    fail("tensor '" + hf_name + "' does not divide into whole rows per expert");
  std::vector<Tensor> out;
  for (int half = 0; half < 2; ++half) {
    std::vector<SourcePtr> parts;
    for (uint64_t e = 0; e < t.shape[0]; ++e)
      parts.push_back(
          std::make_shared<SliceSource>(t.data, e * expert_bytes + half * half_bytes, half_bytes));
    Tensor h;
    h.name = layer_name(layer, half == 0 ? f.first : f.second);
    h.shape = {t.shape[0], rows / 2, t.shape[2]};
    h.type = t.type;
    h.data = std::make_shared<StackSource>(std::move(parts));
    out.push_back(std::move(h));
  }
  return out;
}

void ExpertGatherer::finish() const {
  for (const auto& [layer, l] : pending_) {
    for (size_t s = 0; s < l.by_stem.size(); ++s) {
      for (size_t e = 0; e < l.by_stem[s].size(); ++e) {
        if (l.by_stem[s][e]) continue;
        fail("layer " + std::to_string(layer) + " lacks tensor 'model.layers." +
             std::to_string(layer) + "." + std::string(table_.prefix) + std::to_string(e) + "." +
             std::string(table_.stems[s].hf) + ".weight' (config.json says there are " +
             std::to_string(experts_) + " experts)");
      }
    }
  }
}

}  // namespace owl::arch
