#include "converters/arch/expert_unstack.h"

#include "converters/arch/expert_layout.h"
#include "converters/arch/interleave.h"
#include "converters/arch/slice.h"
#include "converters/arch/tensor_names.h"
#include "formats/io/error.h"
#include "quant/dequantize_source.h"

namespace owl::arch {
namespace {

constexpr std::string_view kWeight = ".weight";

std::string hf_layer_name(int64_t layer, std::string_view rest) {
  return "model.layers." + std::to_string(layer) + "." + std::string(rest);
}

std::string gguf_layer_name(int64_t layer, std::string_view rest) {
  return "blk." + std::to_string(layer) + "." + std::string(rest);
}

// One expert's bytes of a stack [experts, rows, cols].
SourcePtr expert_slice(const Tensor& t, uint64_t e) {
  const uint64_t bytes = t.byte_size() / t.shape[0];
  return std::make_shared<SliceSource>(t.data, e * bytes, bytes);
}

void check_same(const Tensor& a, const Tensor& b) {
  if (a.shape != b.shape || a.type != b.type)
    throw UsageError("tensors '" + a.name + "' and '" + b.name + "' are " +
                     std::string(type_name(a.type)) + " " + a.shape_string() + " and " +
                     std::string(type_name(b.type)) + " " + b.shape_string() +
                     "; owl cannot join them into one Hugging Face tensor");
}

}  // namespace

ExpertUnstacker::ExpertUnstacker(const ExpertTable& table, int64_t experts, int64_t layers)
    : table_(table), experts_(experts), layers_(layers) {}

void ExpertUnstacker::check_stack(const Tensor& t, size_t dims) const {
  bool fits = t.shape.size() == dims && experts_ > 0 &&
              t.shape[0] == static_cast<uint64_t>(experts_) && t.byte_size() % t.shape[0] == 0;
  for (size_t i = 1; fits && i < dims; ++i) fits = t.shape[i] != 0;
  if (!fits) {
    throw UsageError("tensor '" + t.name + "' is " + t.shape_string() + ", not [" +
                     std::to_string(experts_) + (dims == 3 ? ", rows, columns]" : ", columns]") +
                     " for the " + std::to_string(experts_) +
                     " experts the GGUF's expert_count gives");
  }
}

std::optional<Tensor> ExpertUnstacker::partner_of(Tensor& t, const std::string& partner) {
  auto other = waiting_.find(partner);
  if (other == waiting_.end()) {
    waiting_.emplace(t.name, std::move(t));
    return std::nullopt;
  }
  Tensor mate = std::move(other->second);
  waiting_.erase(other);
  return mate;
}

std::optional<std::vector<Tensor>> ExpertUnstacker::take(Tensor& t) {
  const auto in_layer = split_gguf_layer(t.name);
  if (!in_layer) return std::nullopt;
  const auto [layer, rest] = *in_layer;
  // transformers' own parameters; an MXFP4 stack goes back to OpenAI's layout where the family
  // has one.
  const ExpertParam* x = nullptr;
  bool packed = false;
  if (t.type == ElemType::MXFP4)
    for (const ExpertParam& p : table_.packed)
      if (p.first == rest || p.second == rest) x = &p, packed = true;
  if (!x)
    for (const ExpertParam& p : table_.transposed)
      if (p.first == rest || p.second == rest) x = &p;
  if (x) {
    check_stack(t, rest.ends_with(kWeight) ? 3 : 2);
    if (layer >= layers_)
      throw UsageError("tensor '" + t.name + "' is beyond the " + std::to_string(layers_) +
                       " blocks the GGUF declares");
    if (x->second.empty()) return param(layer, *x, packed, t, nullptr);
    const bool first = rest == x->first;
    auto mate = partner_of(t, gguf_layer_name(layer, first ? x->second : x->first));
    if (!mate) return std::vector<Tensor>{};
    return first ? param(layer, *x, packed, t, &*mate) : param(layer, *x, packed, *mate, &t);
  }

  if (!rest.ends_with(kWeight)) return std::nullopt;
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
  const bool first = stem == fused->first;
  auto mate =
      partner_of(t, gguf_layer_name(layer, std::string(first ? fused->second : fused->first) +
                                               std::string(kWeight)));
  if (!mate) return std::vector<Tensor>{};
  return join(layer, *fused, first ? t : *mate, first ? *mate : t);
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
  check_same(first, second);
  Tensor x;
  x.name = hf_layer_name(layer, std::string(f.hf) + std::string(kWeight));
  x.shape = {first.shape[0], 2 * first.shape[1], first.shape[2]};
  x.type = first.type;
  x.data = std::make_shared<InterleaveSource>(first.data, second.data, first.shape[0]);
  return {std::move(x)};
}

// GGUF's [experts, out, in] stacks (gate and up dealt back into one, taking turns or gate
// above up in each expert) as transformers' [experts, in, out] parameter, or a bias [experts,
// out]; MXFP4 stacks of a packed entry as OpenAI's "<hf>_blocks" and "<hf>_scales".
std::vector<Tensor> ExpertUnstacker::param(int64_t layer, const ExpertParam& x, bool packed,
                                           const Tensor& first, const Tensor* second) const {
  if (second) check_same(first, *second);
  const uint64_t experts = first.shape[0], outs = first.shape[1];
  const bool matrix = first.shape.size() == 3;
  const uint64_t rows = second ? 2 * outs : outs;  // per expert
  SourcePtr data = first.data;
  if (second) {
    // Taking turns, the pieces are rows (a bias's single values); gate above up, experts.
    const uint64_t pieces = x.split == GateUpSplit::alternate ? experts * outs : experts;
    data = std::make_shared<InterleaveSource>(first.data, second->data, pieces);
  }
  const std::string hf = hf_layer_name(layer, x.hf);
  std::vector<Tensor> out;
  if (packed) {
    const uint64_t groups = first.shape[2] / type_info(ElemType::MXFP4).block_elems;
    for (const auto& [suffix, part] : {std::pair{"_blocks", Mxfp4SplitSource::Part::codes},
                                       std::pair{"_scales", Mxfp4SplitSource::Part::exponents}}) {
      Tensor p;
      p.name = hf + suffix;
      p.type = ElemType::U8;
      p.shape = part == Mxfp4SplitSource::Part::codes
                    ? std::vector<uint64_t>{experts, rows, groups, 16}
                    : std::vector<uint64_t>{experts, rows, groups};
      p.data = std::make_shared<Mxfp4SplitSource>(data, part);
      out.push_back(std::move(p));
    }
    return out;
  }
  ElemType type = first.type;
  const TypeInfo& info = type_info(type);
  if (info.block_elems != 1 || is_quantized(type)) {
    // A quantized matrix is transposed as the F32 values it stands for; a bias's single values
    // cannot be dealt out of blocks.
    if (!matrix || !can_dequantize_from(type))
      throw UsageError("tensor '" + first.name + "' is " + std::string(info.name) +
                       ", which owl cannot turn into transformers' " + std::string(x.hf));
    data = std::make_shared<DequantizeSource>(data, type, ElemType::F32, experts * rows,
                                              first.shape[2]);
    type = ElemType::F32;
  }
  Tensor p;
  p.name = hf;
  p.type = type;
  if (matrix) {
    const uint64_t in = first.shape[2];
    p.shape = {experts, in, rows};
    p.data = std::make_shared<TransposedExpertsSource>(
        data, experts, rows, in, type_info(type).block_bytes, RowPick{0, 1, in});
  } else {
    p.shape = {experts, rows};
    p.data = data;
  }
  out.push_back(std::move(p));
  return out;
}

void ExpertUnstacker::finish() const {
  if (waiting_.empty()) return;
  throw UsageError("tensor '" + waiting_.begin()->first +
                   "' has no partner to join with into one Hugging Face tensor");
}

}  // namespace owl::arch
