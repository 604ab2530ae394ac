#include "quant/plan.h"

#include <algorithm>
#include <cctype>

#include "formats/io/error.h"
#include "quant/codec.h"
#include "quant/dequantize_source.h"
#include "quant/float_codec.h"
#include "quant/tensor_order.h"

namespace owl {

ElemType parse_tensor_type(std::string_view name, std::string_view option) {
  const auto t = type_from_name(name);
  const bool usable = t && (*t == ElemType::F32 || *t == ElemType::F16 || *t == ElemType::BF16 ||
                            (is_quantized(*t) && type_info(*t).ggml_id >= 0));
  if (!usable)
    throw UsageError(
        std::string(option) + ": '" + std::string(name) +
        "' is not a tensor type (F32, F16, BF16, or a ggml block type such as Q4_K, Q8_0)");
  return *t;
}

TypeOverride parse_type_override(std::string_view text) {
  const size_t eq = text.rfind('=');
  if (eq == text.npos || eq == 0 || eq + 1 == text.size())
    throw UsageError("--tensor-type '" + std::string(text) +
                     "' must be REGEX=TYPE, e.g. attn_v=q8_0");
  TypeOverride o;
  // llama-quantize lowercases the pattern (tensor names are lowercase), and so does owl.
  o.pattern = std::string(text.substr(0, eq));
  std::transform(o.pattern.begin(), o.pattern.end(), o.pattern.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  try {
    o.regex = std::regex(o.pattern);
  } catch (const std::regex_error& e) {
    throw UsageError("--tensor-type '" + o.pattern + "' is not a regular expression: " + e.what());
  }
  o.type = parse_tensor_type(text.substr(eq + 1), "--tensor-type");
  return o;
}

size_t Plan::changed() const {
  return static_cast<size_t>(std::count_if(tensors.begin(), tensors.end(),
                                           [](const TensorPlan& t) { return t.to != t.from; }));
}

size_t Plan::weighted() const {
  return static_cast<size_t>(std::count_if(tensors.begin(), tensors.end(),
                                           [](const TensorPlan& t) { return !t.weights.empty(); }));
}

namespace {

// The types ggml's quantizer asserts an importance matrix for (ggml_quantize_requires_imatrix):
// even where llama-quantize asks for none (token_embd, output.weight), it aborts without one.
bool unweighted_impossible(ElemType t) {
  return t == ElemType::IQ2_XXS || t == ElemType::IQ2_XS || t == ElemType::IQ1_S;
}

bool is_ffn(TensorRole r) {
  return r == TensorRole::FfnUp || r == TensorRole::FfnGate || r == TensorRole::FfnDown;
}

// The walk over the tensors, with llama.cpp's counters: how many attn_v and ffn_* tensors the
// mix's rules have typed so far.
class Planner {
 public:
  Planner(const Graph& g, const PlanOptions& opt, const std::string& file, Plan& plan)
      : opt_(opt), file_(file), plan_(plan) {
    for (const auto& t : g.tensors) n_attn_v_ += tensor_role(t.name) == TensorRole::AttnV;
    override_used_.assign(opt.overrides.size(), false);
  }

  void type(const Tensor& t, TensorPlan& p) {
    if (auto keep = kept(t, p.stored_as)) {
      p.to = p.stored_as;
      p.why = *keep;
      return;
    }
    const TensorRole role = tensor_role(t.name);
    const auto [to, why] = choose(t, role);
    p.to = to;
    p.why = why;
    if (is_quantized(p.to)) fit_rows(p);
    const size_t problems = plan_.problems.size();
    find_weights(t, p);
    if (plan_.problems.size() == problems && p.weights.empty() && p.to != p.stored_as &&
        unweighted_impossible(p.to))
      plan_.problems.push_back("tensor '" + p.name + "': " + std::string(type_name(p.to)) +
                               " cannot be made without importance weights (ggml refuses to)");
  }

  void finish() {
    for (size_t i = 0; i < opt_.overrides.size(); ++i)
      if (!override_used_[i])
        plan_.warnings.push_back(
            "--tensor-type " + opt_.overrides[i].pattern +
            " applies to no tensor (none matches, or an earlier pattern takes them)");
  }

 private:
  std::optional<std::string> kept(const Tensor& t, ElemType stored) const {
    if (!is_castable_float(stored) && !is_quantized(stored)) return "not a float tensor";
    return keep_reason(t, opt_.quantize_output);
  }

  const TypeOverride* find_override(const std::string& name) {
    for (size_t i = 0; i < opt_.overrides.size(); ++i) {
      if (std::regex_search(name, opt_.overrides[i].regex)) {
        override_used_[i] = true;
        return &opt_.overrides[i];
      }
    }
    return nullptr;
  }

  // llama_tensor_get_type: the options that name a tensor, then the user's patterns, then the
  // mix's rules.
  std::pair<ElemType, std::string> choose(const Tensor& t, TensorRole role) {
    const Mix& mix = *opt_.mix;
    if (opt_.token_embedding_type && role == TensorRole::TokenEmbd) {
      // per_layer_token_embd is a large table of its own: a --tensor-type pattern may name it.
      const bool named = t.name == "per_layer_token_embd.weight" && any_override_matches(t.name);
      if (!named) return {*opt_.token_embedding_type, "--token-embedding-type"};
    }
    if (opt_.output_type && role == TensorRole::Output)
      return {*opt_.output_type, "--output-tensor-type"};
    if (!is_quantized(mix.base)) return {mix.base, std::string(mix.name) + " mix"};
    if (const TypeOverride* o = find_override(t.name))
      return {o->type, "--tensor-type " + o->pattern};
    if (opt_.pure) return {mix.base, "--pure"};

    const TensorRole effective =
        role == TensorRole::TokenEmbd && plan_.model.tied_embeddings ? TensorRole::Output : role;
    if (effective == TensorRole::Output && opt_.output_type)
      return {*opt_.output_type, "--output-tensor-type (token_embd is also the output)"};
    const RuleInput in{plan_.model, mix, effective, t.shape, position(t, effective), has_imatrix()};
    MixChoice c = choose_type(in);
    if (effective != role) c.why += " (token_embd is also the output)";
    return {c.type, c.why};
  }

  bool any_override_matches(const std::string& name) const {
    return std::any_of(opt_.overrides.begin(), opt_.overrides.end(),
                       [&](const TypeOverride& o) { return std::regex_search(name, o.regex); });
  }

  // Where llama.cpp's counters stand for this tensor; counts it.
  RulePosition position(const Tensor& t, TensorRole role) {
    if (role == TensorRole::AttnV) return {attn_v_seen_++, n_attn_v_};
    if (!is_ffn(role)) return {};
    const int64_t layers = plan_.model.layers;
    int64_t& seen = role == TensorRole::FfnUp     ? ffn_up_seen_
                    : role == TensorRole::FfnGate ? ffn_gate_seen_
                                                  : ffn_down_seen_;
    const int64_t counter = seen++;
    int64_t layer = counter;
    // Expert tensors are not one per layer: the layer comes from the name.
    if (plan_.model.experts > 1) {
      layer = layer_of_name(t.name);
      if (layer < 0 || layer >= layers)
        throw InputError(file_, "tensor '" + t.name + "': cannot tell its layer (of " +
                                    std::to_string(layers) +
                                    ") from the name, which the mix's rules for experts need");
    }
    return {layer, layers, counter};
  }

  bool has_imatrix() const { return opt_.imatrix && !opt_.imatrix->empty(); }

  // The tensor's importance weights, where llama-quantize would quantize with them, and what
  // it refuses: a type that needs them without them, weights of the wrong width.
  void find_weights(const Tensor& t, TensorPlan& p) {
    const bool needed = needs_imatrix(p.name, p.to, *opt_.mix);
    const std::string tensor = "tensor '" + p.name + "': ";
    const std::string type(type_name(p.to));
    if (!has_imatrix()) {
      if (needed)
        plan_.problems.push_back(tensor + type + " needs an importance matrix (--imatrix), as in " +
                                 "llama-quantize");
      return;
    }
    if (!is_quantized(p.to) || p.to == p.stored_as) return;
    const auto it = opt_.imatrix->find(p.name);
    if (it == opt_.imatrix->end()) {
      if (needed)
        plan_.problems.push_back(tensor + "the importance matrix has no entry for it, which " +
                                 type + " needs");
      return;
    }
    const uint64_t cols = t.shape.empty() ? 1 : t.shape.back();
    const uint64_t experts = t.shape.size() >= 3 ? t.shape[t.shape.size() - 3] : 1;
    if (it->second.size() != cols * experts) {
      // llama-quantize lets token_embd go without (its rows are looked up, not multiplied).
      if (tensor_role(p.name) != TensorRole::TokenEmbd)
        plan_.problems.push_back(tensor + "the importance matrix has " +
                                 std::to_string(it->second.size()) + " weights for it, not " +
                                 std::to_string(cols) + " columns x " + std::to_string(experts) +
                                 " experts");
      return;
    }
    p.weights = p.name;
  }

  // llama.cpp's tensor_type_fallback, but never silent: each fallback is a warning, and with
  // --no-fallback a problem.
  void fit_rows(TensorPlan& p) {
    const uint64_t row = p.shape.empty() ? 0 : p.shape.back();
    const uint32_t block = type_info(p.to).block_elems;
    if (row % block == 0) return;
    const ElemType chosen = p.to;
    const auto smaller = smaller_block_type(chosen);
    const std::string head = "row of " + std::to_string(row) + " is not a multiple of " +
                             std::to_string(block) + " (" + std::string(type_name(chosen)) + ")";
    if (!smaller) {
      plan_.problems.push_back("tensor '" + p.name + "': " + head + " and " +
                               std::string(type_name(chosen)) + " has no smaller-block fallback");
      return;
    }
    p.to = row % type_info(*smaller).block_elems == 0 ? *smaller : ElemType::F16;
    p.fallback = head + ": " + std::string(type_name(p.to)) + " instead";
    ++plan_.fallbacks;
    plan_.warnings.push_back("tensor '" + p.name + "': " + p.fallback);
    if (opt_.no_fallback)
      plan_.problems.push_back("tensor '" + p.name + "': " + head + " (--no-fallback)");
  }

  const PlanOptions& opt_;
  const std::string& file_;
  Plan& plan_;
  std::vector<bool> override_used_;
  int64_t n_attn_v_ = 0, attn_v_seen_ = 0, ffn_up_seen_ = 0, ffn_gate_seen_ = 0, ffn_down_seen_ = 0;
};

// What stands between the plan and its output: missing codecs, requantization not allowed.
void find_problems(const PlanOptions& opt, Plan& plan) {
  bool requantizes = false;
  for (const TensorPlan& p : plan.tensors) {
    if (p.to == p.from) continue;
    const std::string tensor = "tensor '" + p.name + "': ";
    // (IQ2_XXS, IQ2_XS and IQ1_S exist only weighted: the walk refused them without weights.)
    if (is_quantized(p.to) && !can_quantize(p.to) && !block_codec(p.to).quantize_weighted)
      plan.problems.push_back(tensor + "owl cannot quantize to " + std::string(type_name(p.to)) +
                              " yet");
    if (!is_quantized(p.from)) continue;
    requantizes = true;
    if (!can_dequantize_from(p.from))
      plan.problems.push_back(tensor + "owl cannot dequantize " + std::string(type_name(p.from)));
    else if (!opt.allow_requantize)
      plan.problems.push_back(tensor + "it is " + std::string(type_name(p.from)) +
                              " already; requantizing to " + std::string(type_name(p.to)) +
                              " needs --allow-requantize");
  }
  if (requantizes && opt.allow_requantize)
    plan.warnings.push_back(
        "requantizing tensors that are quantized already adds a second rounding error; "
        "quantize from the original F32/F16/BF16 weights where you can");
}

}  // namespace

Plan make_plan(const Graph& g, std::span<const ElemType> stored_as, const PlanOptions& opt,
               const std::string& file) {
  if (!opt.mix) throw std::logic_error("make_plan: no mix");
  if (stored_as.size() != g.tensors.size())
    throw std::logic_error("make_plan: one stored type per tensor");
  if (!opt.overrides.empty() && !is_quantized(opt.mix->base))
    throw UsageError("--tensor-type applies to quantized mixes; " + std::string(opt.mix->name) +
                     " gives every quantizable tensor " + std::string(type_name(opt.mix->base)));
  Plan plan;
  plan.mix = opt.mix;
  plan.imatrix = opt.imatrix;
  plan.model = model_facts(g, file);
  if (has_unsupported_rules(plan.model.arch))
    throw UsageError("llama.cpp has quantization rules of its own for " + plan.model.arch +
                     " models, which owl's mixes do not hold yet");

  plan.tensors.resize(g.tensors.size());
  for (size_t i = 0; i < g.tensors.size(); ++i) {
    const Tensor& t = g.tensors[i];
    TensorPlan& p = plan.tensors[i];
    p.name = t.name;
    p.shape = t.shape;
    p.from = t.type;
    p.stored_as = stored_as[i];
  }
  Planner planner(g, opt, file, plan);
  for (size_t i : opt.keep_split ? input_tensor_order(g) : llama_tensor_order(g))
    planner.type(g.tensors[i], plan.tensors[i]);
  planner.finish();

  for (size_t i = 0; i < g.tensors.size(); ++i) {
    TensorPlan& p = plan.tensors[i];
    p.elements = g.tensors[i].elements();
    p.in_bytes = bytes_for_shape(p.from, p.shape).bytes.value_or(0);
    p.out_bytes = bytes_for_shape(p.to, p.shape).bytes.value_or(0);
    plan.elements += p.elements;
    plan.in_bytes += p.in_bytes;
    plan.out_bytes += p.out_bytes;
  }
  find_problems(opt, plan);
  return plan;
}

void check_plan(const Plan& plan) {
  if (plan.problems.empty()) return;
  std::string msg = plan.problems.front();
  if (plan.problems.size() > 1)
    msg += " (and " + std::to_string(plan.problems.size() - 1) + " more)";
  throw UsageError(msg);
}

}  // namespace owl
