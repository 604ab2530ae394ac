#include "converters/arch/expert_params.h"

#include "converters/arch/expert_layout.h"
#include "converters/arch/experts.h"
#include "converters/arch/tensor_names.h"
#include "formats/io/error.h"

namespace owl::arch {
namespace {

constexpr uint64_t kOpenAiBlockBytes = 16;
constexpr std::string_view kBlocks = "_blocks", kScales = "_scales";

// The two picks of a fused gate-and-up's `n` outputs, gate first.
std::pair<RowPick, RowPick> split_picks(GateUpSplit split, uint64_t n) {
  if (split == GateUpSplit::alternate) return {{0, 2, n / 2}, {1, 2, n / 2}};
  return {{0, 1, n / 2}, {n / 2, 1, n / 2}};
}

std::string in_layer(int64_t layer, std::string_view name) {
  return "blk." + std::to_string(layer) + "." + std::string(name);
}

}  // namespace

ExpertParams::ExpertParams(const ExpertTable& table, int64_t experts, int64_t layers,
                           std::string where)
    : table_(table), experts_(experts), layers_(layers), where_(std::move(where)) {
  const bool has_params = !table.transposed.empty() || !table.packed.empty();
  if (has_params && (experts_ <= 0 || experts_ > kMaxExperts))
    fail("config.json gives " + std::to_string(experts_) + " experts, outside 1.." +
         std::to_string(kMaxExperts));
}

void ExpertParams::fail(const std::string& what) const {
  throw InputError(where_, what);
}

void ExpertParams::check_layer(const std::string& hf_name, int64_t layer) const {
  if (layer >= layers_)
    fail("tensor '" + hf_name + "' is in layer " + std::to_string(layer) +
         " but config.json says there are " + std::to_string(layers_));
}

std::optional<std::vector<Tensor>> ExpertParams::take(const std::string& hf_name, Tensor& t) {
  const auto found = split_hf_layer(hf_name);
  if (!found) return std::nullopt;
  const auto [layer, rest] = *found;
  for (const ExpertParam& x : table_.transposed) {
    if (rest != x.hf) continue;
    check_layer(hf_name, layer);
    return transpose(layer, x, hf_name, t);
  }
  for (size_t i = 0; i < table_.packed.size(); ++i) {
    const ExpertParam& p = table_.packed[i];
    if (!rest.starts_with(p.hf)) continue;
    const std::string_view kind = rest.substr(p.hf.size());
    if (kind != kBlocks && kind != kScales) continue;
    check_layer(hf_name, layer);
    auto& [blocks, scales] = pending_[{layer, i}];
    auto& slot = kind == kBlocks ? blocks : scales;
    if (slot) fail("tensor '" + hf_name + "' appears twice");
    slot = std::move(t);
    if (!blocks || !scales) return std::vector<Tensor>{};
    std::vector<Tensor> out = repack(layer, p, *blocks, *scales);
    pending_.erase({layer, i});
    return out;
  }
  return std::nullopt;
}

std::vector<std::pair<std::string_view, RowPick>> ExpertParams::outputs(
    const ExpertParam& x, uint64_t n, const std::string& what) const {
  if (x.second.empty()) return {{x.first, {0, 1, n}}};
  if (n % 2)
    fail("tensor '" + what + "' has " + std::to_string(n) +
         " outputs per expert, which do not split into gate and up");
  const auto [gate, up] = split_picks(x.split, n);
  return {{x.first, gate}, {x.second, up}};
}

std::vector<Tensor> ExpertParams::transpose(int64_t layer, const ExpertParam& x,
                                            const std::string& hf_name, Tensor& t) const {
  const auto experts = static_cast<uint64_t>(experts_);
  // Weights are [experts, in, out]; biases [experts, out].
  const bool matrix = x.first.ends_with(".weight");
  if (t.shape.size() != (matrix ? 3u : 2u) || t.shape[0] != experts || t.shape.back() == 0 ||
      (matrix && t.shape[1] == 0))
    fail("tensor '" + hf_name + "' is " + t.shape_string() + ", not [" + std::to_string(experts) +
         (matrix ? ", in, out]" : ", out]") + " for the config's " + std::to_string(experts) +
         " experts");
  const TypeInfo& type = type_info(t.type);
  if (type.block_elems != 1 || type.kind == TypeKind::Quantized)
    fail("tensor '" + hf_name + "' is " + std::string(type.name) + ", not a plain number type");
  const uint64_t rows = matrix ? t.shape[1] : 1, cols = t.shape.back();
  std::vector<Tensor> result;
  for (const auto& [name, pick] : outputs(x, cols, hf_name)) {
    Tensor o;
    o.name = in_layer(layer, name);
    o.type = t.type;
    o.shape = matrix ? std::vector<uint64_t>{experts, pick.count, rows}
                     : std::vector<uint64_t>{experts, pick.count};
    o.data = std::make_shared<TransposedExpertsSource>(t.data, experts, rows, cols,
                                                       type.block_bytes, pick);
    result.push_back(std::move(o));
  }
  return result;
}

std::vector<Tensor> ExpertParams::repack(int64_t layer, const ExpertParam& p, Tensor& blocks,
                                         Tensor& scales) const {
  const auto experts = static_cast<uint64_t>(experts_);
  const std::string stem = "model.layers." + std::to_string(layer) + "." + std::string(p.hf);
  const auto& b = blocks.shape;
  const auto& s = scales.shape;
  if (blocks.type != ElemType::U8 || scales.type != ElemType::U8)
    fail("MXFP4 tensors '" + stem + "_blocks' and '_scales' must be U8, not " +
         std::string(type_name(blocks.type)) + " and " + std::string(type_name(scales.type)));
  if (b.size() != 4 || b[3] != kOpenAiBlockBytes || b[0] != experts || b[1] == 0 || b[2] == 0 ||
      s.size() != 3 || s[0] != b[0] || s[1] != b[1] || s[2] != b[2])
    fail("MXFP4 tensors '" + stem + "_blocks' " + blocks.shape_string() + " and '_scales' " +
         scales.shape_string() + " are not [" + std::to_string(experts) +
         ", rows, groups, 16] and [" + std::to_string(experts) + ", rows, groups]");
  const uint64_t rows = b[1], groups = b[2];
  std::vector<Tensor> result;
  for (const auto& [name, pick] : outputs(p, rows, stem + "_blocks")) {
    Tensor o;
    o.name = in_layer(layer, name);
    o.type = ElemType::MXFP4;
    o.shape = {experts, pick.count, groups * type_info(ElemType::MXFP4).block_elems};
    o.data =
        std::make_shared<Mxfp4RepackSource>(blocks.data, scales.data, experts, rows, groups, pick);
    result.push_back(std::move(o));
  }
  return result;
}

void ExpertParams::finish() const {
  for (const auto& [key, pair] : pending_) {
    const std::string stem = "model.layers." + std::to_string(key.first) + "." +
                             std::string(table_.packed[key.second].hf);
    fail("MXFP4 tensor '" + stem + (pair.first ? "_blocks" : "_scales") + "' has no '" + stem +
         (pair.first ? "_scales" : "_blocks") + "' beside it");
  }
}

}  // namespace owl::arch
