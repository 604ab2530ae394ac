#include "converters/arch/expert_unstack.h"

#include "converters/arch/slice.h"
#include "converters/arch/stack.h"
#include "converters/arch/tensor_names.h"
#include "formats/io/error.h"

namespace owl::arch {
namespace {

constexpr std::string_view kWeight = ".weight";

std::string hf_layer_name(int64_t layer, std::string_view rest) {
  return "model.layers." + std::to_string(layer) + "." + std::string(rest);
}

// One expert's bytes of a stack [experts, rows, cols].
SourcePtr expert_slice(const Tensor& t, uint64_t e) {
  const uint64_t bytes = t.byte_size() / t.shape[0];
  return std::make_shared<SliceSource>(t.data, e * bytes, bytes);
}

}  // namespace

ExpertUnstacker::ExpertUnstacker(const ExpertTable& table, int64_t experts, int64_t layers)
    : table_(table), experts_(experts), layers_(layers) {}

void ExpertUnstacker::check_stack(const Tensor& t) const {
  if (t.shape.size() != 3 || experts_ <= 0 || t.shape[0] != static_cast<uint64_t>(experts_) ||
      t.shape[1] == 0 || t.shape[2] == 0 || t.byte_size() % t.shape[0]) {
    throw UsageError("tensor '" + t.name + "' is " + t.shape_string() + ", not [" +
                     std::to_string(experts_) + ", rows, columns] for the " +
                     std::to_string(experts_) + " experts the GGUF's expert_count gives");
  }
}

std::optional<std::vector<Tensor>> ExpertUnstacker::take(Tensor& t) {
  const auto in_layer = split_gguf_layer(t.name);
  if (!in_layer || !in_layer->second.ends_with(kWeight)) return std::nullopt;
  const auto [layer, rest] = *in_layer;
  const std::string_view stem = rest.substr(0, rest.size() - kWeight.size());
  const ExpertStem* per = nullptr;
  for (const ExpertStem& s : table_.stems)
    if (s.gguf == stem) per = &s;
  const NamePair* whole = nullptr;
  for (const NamePair& w : table_.whole)
    if (w.gguf == stem) whole = &w;
  const FusedExperts* fused = nullptr;
  for (const FusedExperts& f : table_.fused)
    if (f.first == stem || f.second == stem) fused = &f;
  if (!per && !whole && !fused) return std::nullopt;

  check_stack(t);
  if (layer >= layers_)
    throw UsageError("tensor '" + t.name + "' is beyond the " + std::to_string(layers_) +
                     " blocks the GGUF declares");
  // One tensor per expert where the family has that layout: transformers 4 writes it, and
  // transformers 5 reads it too.
  if (per) return per_expert(layer, per->hf, t);
  if (whole) {
    t.name = hf_layer_name(layer, std::string(whole->hf) + std::string(kWeight));
    return std::vector<Tensor>{std::move(t)};
  }
  const std::string partner = "blk." + std::to_string(layer) + "." +
                              std::string(stem == fused->first ? fused->second : fused->first) +
                              std::string(kWeight);
  auto other = waiting_.find(partner);
  if (other == waiting_.end()) {
    waiting_.emplace(t.name, std::move(t));
    return std::vector<Tensor>{};
  }
  Tensor mate = std::move(other->second);
  waiting_.erase(other);
  const bool first = stem == fused->first;
  return join(layer, *fused, first ? t : mate, first ? mate : t);
}

std::vector<Tensor> ExpertUnstacker::per_expert(int64_t layer, std::string_view hf,
                                                const Tensor& t) const {
  std::vector<Tensor> out;
  for (uint64_t e = 0; e < t.shape[0]; ++e) {
    Tensor x;
    x.name = hf_layer_name(layer, std::string(table_.prefix) + std::to_string(e) + "." +
                                      std::string(hf) + std::string(kWeight));
    x.shape = {t.shape[1], t.shape[2]};
    x.type = t.type;
    x.data = expert_slice(t, e);
    out.push_back(std::move(x));
  }
  return out;
}

// [experts, 2 * rows, cols] with each expert's first-half rows above its second-half rows, as
// the gatherer splits it on the way in.
std::vector<Tensor> ExpertUnstacker::join(int64_t layer, const FusedExperts& f, const Tensor& first,
                                          const Tensor& second) const {
  if (first.shape != second.shape || first.type != second.type)
    throw UsageError("tensors '" + first.name + "' and '" + second.name + "' are " +
                     std::string(type_name(first.type)) + " " + first.shape_string() + " and " +
                     std::string(type_name(second.type)) + " " + second.shape_string() +
                     "; owl cannot join them into one Hugging Face tensor");
  std::vector<SourcePtr> parts;
  for (uint64_t e = 0; e < first.shape[0]; ++e) {
    parts.push_back(expert_slice(first, e));
    parts.push_back(expert_slice(second, e));
  }
  Tensor x;
  x.name = hf_layer_name(layer, std::string(f.hf) + std::string(kWeight));
  x.shape = {first.shape[0], 2 * first.shape[1], first.shape[2]};
  x.type = first.type;
  x.data = std::make_shared<StackSource>(std::move(parts));
  return {std::move(x)};
}

void ExpertUnstacker::finish() const {
  if (waiting_.empty()) return;
  throw UsageError("tensor '" + waiting_.begin()->first +
                   "' has no partner to join with into one Hugging Face tensor");
}

}  // namespace owl::arch
