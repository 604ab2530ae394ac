#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

#include "formats/io/error.h"
#include "quant/plan.h"

using namespace owl;
using T = ElemType;

namespace {

Tensor tensor(std::string name, std::vector<uint64_t> shape, ElemType type = T::F16) {
  return {std::move(name), std::move(shape), type, nullptr};
}

// A Llama with `layers` layers of width `h`, tensors in the order owl's converter writes them.
Graph llama(int layers, uint64_t h = 256, bool tied = false) {
  Graph g;
  g.format = "gguf";
  g.metadata.set("general.architecture", Value::string("llama"));
  g.metadata.set("llama.block_count", Value::u32(static_cast<uint32_t>(layers)));
  g.metadata.set("llama.attention.head_count", Value::u32(4));
  g.metadata.set("llama.attention.head_count_kv", Value::u32(4));
  g.tensors.push_back(tensor("token_embd.weight", {1000, h}));
  for (int i = 0; i < layers; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    g.tensors.push_back(tensor(b + "attn_norm.weight", {h}, T::F32));
    g.tensors.push_back(tensor(b + "attn_q.weight", {h, h}));
    g.tensors.push_back(tensor(b + "attn_k.weight", {h, h}));
    g.tensors.push_back(tensor(b + "attn_v.weight", {h, h}));
    g.tensors.push_back(tensor(b + "attn_output.weight", {h, h}));
    g.tensors.push_back(tensor(b + "ffn_down.weight", {h, 2 * h}));
    g.tensors.push_back(tensor(b + "ffn_up.weight", {2 * h, h}));
  }
  g.tensors.push_back(tensor("output_norm.weight", {h}, T::F32));
  if (!tied) g.tensors.push_back(tensor("output.weight", {1000, h}));
  return g;
}

std::vector<ElemType> own_types(const Graph& g) {
  std::vector<ElemType> t;
  for (const auto& x : g.tensors) t.push_back(x.type);
  return t;
}

PlanOptions with_mix(const char* name) {
  PlanOptions o;
  o.mix = find_mix(name);
  REQUIRE(o.mix);
  return o;
}

Plan plan(const Graph& g, const PlanOptions& o) {
  return make_plan(g, own_types(g), o, "m.gguf");
}

const TensorPlan& entry(const Plan& p, const std::string& name) {
  const auto it = std::find_if(p.tensors.begin(), p.tensors.end(),
                               [&](const TensorPlan& t) { return t.name == name; });
  REQUIRE(it != p.tensors.end());
  return *it;
}

}  // namespace

TEST_CASE("a plan types each tensor by the mix and keeps 1-D tensors", "[plan]") {
  const Graph g = llama(16);
  const Plan p = plan(g, with_mix("Q4_K_M"));
  REQUIRE(p.tensors.size() == g.tensors.size());
  CHECK(entry(p, "output.weight").to == T::Q6_K);
  CHECK(entry(p, "token_embd.weight").to == T::Q4_K);
  CHECK(entry(p, "blk.0.attn_norm.weight").to == T::F32);
  CHECK(entry(p, "blk.0.attn_norm.weight").why == "1-D");
  // use_more_bits over 16 layers: 0, 1, 4, 7, 10, 13, 14, 15.
  for (int i = 0; i < 16; ++i) {
    const bool more = i < 2 || i >= 14 || (i - 2) % 3 == 2;
    INFO(i);
    CHECK(entry(p, "blk." + std::to_string(i) + ".ffn_down.weight").to ==
          (more ? T::Q6_K : T::Q4_K));
    CHECK(entry(p, "blk." + std::to_string(i) + ".attn_v.weight").to == (more ? T::Q6_K : T::Q4_K));
    CHECK(entry(p, "blk." + std::to_string(i) + ".ffn_up.weight").to == T::Q4_K);
  }
  CHECK(p.fallbacks == 0);
  CHECK(p.problems.empty());
  CHECK(p.warnings.empty());
}

TEST_CASE("the counters count in llama.cpp's order whatever the graph's order", "[plan]") {
  const Graph sorted = llama(12);
  Graph shuffled = sorted;
  std::shuffle(shuffled.tensors.begin(), shuffled.tensors.end(), std::mt19937(7));
  for (const char* mix : {"Q3_K_M", "Q4_K_M", "Q4_K_S"}) {
    const Plan a = plan(sorted, with_mix(mix)), b = plan(shuffled, with_mix(mix));
    for (const TensorPlan& t : a.tensors) CHECK(entry(b, t.name).to == t.to);
  }
  // blk.10 sorts after blk.9 (by layer number, not by text): Q3_K_M's first two attn_v are
  // blk.0 and blk.1.
  const Plan q3 = plan(shuffled, with_mix("Q3_K_M"));
  CHECK(entry(q3, "blk.1.attn_v.weight").to == T::Q5_K);
  CHECK(entry(q3, "blk.10.attn_v.weight").to == T::Q4_K);
}

TEST_CASE("without output.weight, token_embd is typed as the output", "[plan]") {
  const Graph g = llama(4, 256, true);
  const Plan p = plan(g, with_mix("Q4_0"));
  CHECK(entry(p, "token_embd.weight").to == T::Q6_K);
  CHECK_THAT(entry(p, "token_embd.weight").why, Catch::Contains("also the output"));
}

TEST_CASE("options name tensors before the mix does", "[plan]") {
  const Graph g = llama(8);
  PlanOptions o = with_mix("Q4_K_M");
  o.output_type = T::Q8_0;
  o.token_embedding_type = T::Q6_K;
  o.overrides.push_back(parse_type_override("attn_v=q8_0"));
  o.overrides.push_back(parse_type_override("attn_v=q2_k"));
  o.overrides.push_back(parse_type_override("nothing_matches=q2_k"));
  const Plan p = plan(g, o);
  CHECK(entry(p, "output.weight").to == T::Q8_0);
  CHECK(entry(p, "token_embd.weight").to == T::Q6_K);
  CHECK(entry(p, "blk.3.attn_v.weight").to == T::Q8_0);
  CHECK(entry(p, "blk.3.attn_v.weight").why == "--tensor-type attn_v");
  REQUIRE(p.warnings.size() == 2);
  CHECK_THAT(p.warnings[0], Catch::Contains("attn_v") && Catch::Contains("applies to no"));

  PlanOptions pure = with_mix("Q4_K_M");
  pure.pure = true;
  const Plan q = plan(g, pure);
  CHECK(entry(q, "output.weight").to == T::Q4_K);
  CHECK(entry(q, "blk.0.ffn_down.weight").to == T::Q4_K);

  PlanOptions leave = with_mix("Q4_K_M");
  leave.quantize_output = false;
  CHECK(entry(plan(g, leave), "output.weight").to == T::F16);

  PlanOptions floats = with_mix("F16");
  floats.overrides.push_back(parse_type_override("attn_v=q8_0"));
  CHECK_THROWS_AS(plan(g, floats), UsageError);
}

TEST_CASE("overrides shift the attn_v counter as they do in llama.cpp", "[plan]") {
  const Graph g = llama(4);
  PlanOptions o = with_mix("Q3_K_M");
  o.overrides.push_back(parse_type_override(R"(blk\.0\.attn_v=q8_0)"));
  const Plan p = plan(g, o);
  // blk.0's attn_v is not counted: blk.1 and blk.2 are the "first two".
  CHECK(entry(p, "blk.1.attn_v.weight").to == T::Q5_K);
  CHECK(entry(p, "blk.2.attn_v.weight").to == T::Q5_K);
  CHECK(entry(p, "blk.3.attn_v.weight").to == T::Q4_K);
}

TEST_CASE("rows that do not fit fall back, loudly, and --no-fallback refuses them", "[plan]") {
  const Graph g = llama(2, 320);
  PlanOptions o = with_mix("Q4_K_M");
  Plan p = plan(g, o);
  CHECK(entry(p, "blk.0.attn_q.weight").to == T::Q5_0);
  CHECK_THAT(entry(p, "blk.0.attn_q.weight").fallback,
             Catch::Contains("320") && Catch::Contains("Q5_0"));
  CHECK(entry(p, "blk.1.ffn_down.weight").to == T::Q8_0);  // Q6_K -> Q8_0
  CHECK(entry(p, "output.weight").to == T::Q8_0);          // the output rule, not a fallback
  CHECK(entry(p, "output.weight").fallback.empty());
  CHECK(p.fallbacks == p.warnings.size());
  CHECK(p.fallbacks > 0);
  CHECK_NOTHROW(check_plan(p));

  o.no_fallback = true;
  p = plan(g, o);
  CHECK(p.problems.size() == p.fallbacks);
  CHECK_THROWS_WITH(check_plan(p), Catch::Contains("--no-fallback") && Catch::Contains("more"));

  // A row of 48 fits no 32-block either: F16.
  Graph narrow = llama(1, 48);
  PlanOptions q8 = with_mix("Q8_0");
  q8.output_type = T::Q4_K;
  const Plan n = plan(narrow, q8);
  CHECK(entry(n, "blk.0.attn_q.weight").to == T::F16);
  CHECK(entry(n, "output.weight").to == T::F16);
}

TEST_CASE("quantized inputs need --allow-requantize", "[plan]") {
  Graph g = llama(2);
  for (auto& t : g.tensors)
    if (t.type == T::F16) t.type = T::Q8_0;
  PlanOptions o = with_mix("Q4_K_M");
  Plan p = plan(g, o);
  CHECK_FALSE(p.problems.empty());
  CHECK_THROWS_WITH(check_plan(p), Catch::Contains("--allow-requantize"));
  o.allow_requantize = true;
  p = plan(g, o);
  CHECK(p.problems.empty());
  CHECK_THAT(p.warnings.back(), Catch::Contains("second rounding"));
  // Same type: copied, not requantized.
  CHECK(plan(g, with_mix("Q8_0")).problems.empty());
}

TEST_CASE("sizes count the stored types; bits per weight over every tensor", "[plan]") {
  Graph g;
  g.format = "safetensors";
  g.metadata.set("general.architecture", Value::string("llama"));
  g.tensors.push_back(tensor("blk.0.ffn_up.weight", {4, 256}, T::BF16));
  g.tensors.push_back(tensor("blk.0.ffn_norm.weight", {256}, T::BF16));
  const std::vector<ElemType> stored{T::F16, T::F32};
  const Plan p = make_plan(g, stored, with_mix("Q8_0"), "dir");
  CHECK(p.tensors[0].to == T::Q8_0);
  CHECK(p.tensors[1].to == T::F32);            // kept as stored, not as read
  CHECK(p.in_bytes == 4 * 256 * 2 + 256 * 2);  // as read: BF16
  CHECK(p.out_bytes == 4 * 8 * 34 + 256 * 4);
  CHECK(p.elements == 5 * 256);
  CHECK(p.bits_per_weight() == Approx(8.0 * p.out_bytes / p.elements));
  CHECK(p.changed() == 2);
}

TEST_CASE("experts take their layer from the name", "[plan]") {
  Graph g;
  g.format = "gguf";
  g.metadata.set("general.architecture", Value::string("llama"));
  g.metadata.set("llama.block_count", Value::u32(8));
  g.metadata.set("llama.expert_count", Value::u32(4));
  g.tensors.push_back(tensor("blk.5.ffn_down_exps.weight", {4, 256, 512}));
  g.tensors.push_back(tensor("blk.0.ffn_down_exps.weight", {4, 256, 512}));
  const Plan p = plan(g, with_mix("Q4_K_M"));
  CHECK(entry(p, "blk.0.ffn_down_exps.weight").to == T::Q6_K);  // layer 0 of 8: more bits
  CHECK(entry(p, "blk.5.ffn_down_exps.weight").to == T::Q4_K);
  g.tensors.push_back(tensor("blk.9.ffn_down_exps.weight", {4, 256, 512}));
  CHECK_THROWS_AS(plan(g, with_mix("Q4_K_M")), InputError);
}

TEST_CASE("command-line types and overrides are checked", "[plan]") {
  CHECK(parse_type_override("blk\\.1\\.attn_v=Q6_K").type == T::Q6_K);
  CHECK(parse_type_override("a=b=q8_0").pattern == "a=b");
  CHECK_THROWS_AS(parse_type_override("attn_v"), UsageError);
  CHECK_THROWS_AS(parse_type_override("=q8_0"), UsageError);
  CHECK_THROWS_AS(parse_type_override("attn_v="), UsageError);
  CHECK_THROWS_AS(parse_type_override("attn_v(=q8_0"), UsageError);
  CHECK_THROWS_AS(parse_type_override("attn_v=q9_9"), UsageError);
  CHECK_THROWS_AS(parse_tensor_type("i32", "--output-tensor-type"), UsageError);
  CHECK_THROWS_AS(parse_tensor_type("f8_e4m3", "--output-tensor-type"), UsageError);
  CHECK(parse_tensor_type("bf16", "--output-tensor-type") == T::BF16);
}

TEST_CASE("architectures with rules owl does not hold are refused", "[plan]") {
  Graph g = llama(1);
  g.metadata.set("general.architecture", Value::string("glm5-next"));
  CHECK_THROWS_AS(plan(g, with_mix("Q4_K_M")), UsageError);
}

namespace {

// Importance weights of the right width for every blk.* matrix of llama(layers).
std::shared_ptr<ImportanceWeights> weights_for(const Graph& g) {
  auto w = std::make_shared<ImportanceWeights>();
  for (const auto& t : g.tensors)
    if (t.name.starts_with("blk.") && t.shape.size() == 2)
      (*w)[t.name] = std::vector<float>(t.shape.back(), 1.0f);
  return w;
}

bool any_problem(const Plan& p, const std::string& a, const std::string& b) {
  return std::any_of(p.problems.begin(), p.problems.end(), [&](const std::string& s) {
    return s.find(a) != s.npos && s.find(b) != s.npos;
  });
}

}  // namespace

TEST_CASE("plan with an importance matrix: weights where llama-quantize uses them", "[plan]") {
  const Graph g = llama(8);
  PlanOptions o = with_mix("IQ2_XS");
  o.imatrix = weights_for(g);
  const Plan p = plan(g, o);
  CHECK(entry(p, "blk.0.attn_q.weight").weights == "blk.0.attn_q.weight");
  CHECK(entry(p, "token_embd.weight").weights.empty());  // no entry: quantized without
  CHECK(p.weighted() == 8 * 6);
  // IQ3_XXS's rules change with an imatrix: attn_v keeps IQ3_XXS, ffn_down the base type.
  o = with_mix("IQ3_XXS");
  CHECK(entry(plan(g, o), "blk.3.attn_v.weight").to == T::IQ3_S);
  CHECK(entry(plan(g, o), "blk.3.ffn_down.weight").to == T::Q3_K);
  o.imatrix = weights_for(g);
  CHECK(entry(plan(g, o), "blk.3.attn_v.weight").to == T::IQ3_XXS);
  CHECK(entry(plan(g, o), "blk.3.ffn_down.weight").to == T::IQ3_XXS);
}

TEST_CASE("plan: what needs an importance matrix is refused without one, naming the tensor",
          "[plan]") {
  const Graph g = llama(8);
  PlanOptions o = with_mix("IQ1_S");
  CHECK(any_problem(plan(g, o), "blk.0.attn_q.weight", "needs an importance matrix"));
  o = with_mix("Q4_K_M");
  o.overrides.push_back(parse_type_override("attn_k=iq2_xxs"));
  CHECK(any_problem(plan(g, o), "blk.0.attn_k.weight", "IQ2_XXS needs an importance matrix"));
  // An entry missing, or of another width.
  o = with_mix("IQ2_XXS");
  auto w = weights_for(g);
  w->erase("blk.2.ffn_up.weight");
  (*w)["blk.5.attn_q.weight"].resize(128);
  o.imatrix = w;
  const Plan p = plan(g, o);
  CHECK(any_problem(p, "blk.2.ffn_up.weight", "no entry"));
  CHECK(any_problem(p, "blk.5.attn_q.weight", "has 128 weights for it, not 256 columns"));
  // Q4_K_M needs none: a missing entry only means no weights.
  o.mix = find_mix("Q4_K_M");
  w->erase("blk.5.attn_q.weight");
  const Plan q = plan(g, o);
  CHECK(q.problems.empty());
  CHECK(entry(q, "blk.2.ffn_up.weight").weights.empty());
}
