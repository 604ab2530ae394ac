#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>

#include "converters/lora/adapter.h"
#include "converters/lora/merge.h"
#include "converters/lora/merge_source.h"
#include "converters/lora/to_gguf.h"
#include "formats/hf/peft_config.h"
#include "formats/io/error.h"
#include "formats/open.h"
#include "quant/float_codec.h"

using namespace owl;

namespace {

peft::LoraConfig parse(const std::string& json) {
  return peft::parse_lora_config(json, "adapter_config.json");
}

std::string refusal(const std::string& json) {
  try {
    parse(json);
  } catch (const InputError& e) {
    return e.what();
  }
  return "accepted";
}

Tensor f32_tensor(std::vector<uint64_t> shape, const std::vector<float>& v) {
  std::vector<std::byte> bytes(v.size() * 4);
  std::memcpy(bytes.data(), v.data(), bytes.size());
  Tensor t;
  t.shape = std::move(shape);
  t.type = ElemType::F32;
  t.data = std::make_shared<BufferSource>(std::move(bytes));
  return t;
}

std::vector<float> as_f32(const std::vector<std::byte>& bytes) {
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), bytes.size());
  return v;
}

}  // namespace

TEST_CASE("PEFT LoRA config: scales as peft computes them") {
  const auto c = parse(R"({"peft_type": "LORA", "r": 8, "lora_alpha": 16})");
  CHECK(c.scale_for("model.layers.0.self_attn.q_proj") == 2.0);
  const auto rs = parse(R"({"peft_type": "LORA", "r": 16, "lora_alpha": 8, "use_rslora": true})");
  CHECK(rs.scale_for("x.q_proj") == 2.0);  // 8 / sqrt(16)
}

TEST_CASE("PEFT LoRA config: patterns match the end of a module name after a dot") {
  const auto c = parse(R"({"peft_type": "LORA", "r": 8, "lora_alpha": 8,
      "rank_pattern": {"k_proj": 4, "layers.1.self_attn.q_proj": 2},
      "alpha_pattern": {"layers.1.mlp.down_proj": 24}})");
  CHECK(c.rank_for("model.layers.0.self_attn.k_proj") == 4);
  CHECK(c.rank_for("model.layers.0.self_attn.xk_proj") == 8);  // not after a dot
  CHECK(c.rank_for("model.layers.1.self_attn.q_proj") == 2);
  CHECK(c.rank_for("model.layers.11.self_attn.q_proj") == 8);
  CHECK(c.alpha_for("model.layers.1.mlp.down_proj") == 24);
  CHECK(c.alpha_for("model.layers.0.mlp.down_proj") == 8);
  // '.' is a regular-expression dot in peft: it matches any character.
  CHECK(c.rank_for("model.layers_1_self_attn.q_proj") == 2);
  CHECK(parse(R"({"peft_type": "LORA", "rank_pattern": {"layers.1.k_proj": 4}})")
            .rank_for("m.layersX1.k_proj") == 4);
}

TEST_CASE("PEFT config: what is not plain LoRA is refused naming the file") {
  CHECK_THAT(refusal(R"({"peft_type": "LORA", "use_dora": true})"),
             Catch::Contains("adapter_config.json") && Catch::Contains("DoRA"));
  CHECK_THAT(refusal(R"({"peft_type": "IA3"})"), Catch::Contains("IA3 adapter"));
  CHECK_THAT(refusal(R"({"peft_type": "PROMPT_TUNING"})"), Catch::Contains("PROMPT_TUNING"));
  CHECK_THAT(refusal(R"({"peft_type": "LORA", "bias": "all"})"), Catch::Contains("biases"));
  CHECK_THAT(refusal(R"({"peft_type": "LORA", "fan_in_fan_out": true})"),
             Catch::Contains("fan_in_fan_out"));
  CHECK_THAT(refusal(R"({"peft_type": "LORA", "rank_pattern": {"q_proj|k_proj": 4}})"),
             Catch::Contains("regular-expression"));
  CHECK_THAT(refusal(R"({"peft_type": "LORA", "r": 0})"), Catch::Contains("r is 0"));
  CHECK_THAT(refusal(R"({"peft_type": "LORA", "lora_alpha": "16"})"),
             Catch::Contains("lora_alpha is a string"));
  CHECK_THAT(refusal(R"({"r": 8})"), Catch::Contains("peft_type is missing"));
  CHECK_THAT(refusal("[1]"), Catch::Contains("not a JSON object"));
  CHECK_THAT(refusal("{"), Catch::Contains("adapter_config.json"));
  // Off or empty, these settings are what every plain adapter's config holds.
  CHECK(refusal(R"({"peft_type": "LORA", "use_dora": false, "layer_replication": null,
                    "bias": "none", "target_parameters": []})") == "accepted");
}

TEST_CASE("LoRA option values: DIR or DIR:SCALE") {
  CHECK(lora::parse_lora_spec("ad").folder == "ad");
  CHECK(lora::parse_lora_spec("ad").scale == 1.0);
  const auto s = lora::parse_lora_spec("out/ad:0.5");
  CHECK(s.folder == "out/ad");
  CHECK(s.scale == 0.5);
  CHECK(lora::parse_lora_spec("a:b").folder == "a:b");  // not a number: part of the name
  CHECK_THROWS_AS(lora::parse_lora_spec(":2"), UsageError);
}

TEST_CASE("merged weights are W plus scale times B A a band of rows at a time") {
  // W [3, 2], A [2, 2] (rank 2), B [3, 2].
  const Tensor w = f32_tensor({3, 2}, {1, 2, 3, 4, 5, 6});
  lora::Delta d{f32_tensor({2, 2}, {1, 0, 0, 1}), f32_tensor({3, 2}, {1, 2, 3, 4, 5, 6}), 0.5f};
  lora::Delta d2{f32_tensor({1, 2}, {1, 1}), f32_tensor({3, 1}, {0, 0, 2}), 1.0f};
  const lora::MergedWeightSource src(w.data, ElemType::F32, 3, 2, {d, d2}, ElemType::F32);
  const std::vector<float> want = {1.5f, 3, 4.5f, 6, 7.5f + 2, 9 + 2};
  CHECK(as_f32(read_all(src)) == want);
  // Row by row gives the same bytes.
  std::vector<std::byte> row(8);
  for (uint64_t r = 0; r < 3; ++r) {
    src.read(r * 8, row);
    CHECK(as_f32(row) == std::vector<float>(want.begin() + 2 * r, want.begin() + 2 * r + 2));
  }
  // Rounded once to F16.
  const lora::MergedWeightSource half(w.data, ElemType::F32, 3, 2, {d}, ElemType::F16);
  std::vector<std::byte> h = read_all(half);
  uint16_t first;
  std::memcpy(&first, h.data(), 2);
  CHECK(first == f32_to_f16(1.5f));
  // Shapes that do not make a [3, 2] delta.
  CHECK_THROWS_AS(lora::MergedWeightSource(w.data, ElemType::F32, 2, 3, {d}, ElemType::F32),
                  UsageError);
}

TEST_CASE("PEFT adapter folders give pairs and saved modules and a GGUF graph and a merge") {
  const std::string data = OWL_TEST_DATA;
  const auto ad = lora::read_adapter(data + "/lora/llama-rslora");
  REQUIRE(ad.pairs.size() == 8);
  CHECK(ad.pairs[0].weight == "model.layers.0.mlp.down_proj.weight");
  CHECK(ad.replacements.size() == 1);
  CHECK(ad.replacements[0].name == "lm_head.weight");
  for (const auto& p : ad.pairs) {
    // rank_pattern {k_proj: 4}, alpha_pattern {layers.1.mlp.down_proj: 24}, rsLoRA.
    const bool k = p.weight.find("k_proj") != std::string::npos;
    CHECK(p.rank == (k ? 4 : 8));
    const double alpha = p.weight == "model.layers.1.mlp.down_proj.weight" ? 24 : 8;
    CHECK(p.scale == alpha / std::sqrt(static_cast<double>(p.rank)));
  }

  const Graph g = lora::adapter_gguf_graph(data + "/lora/llama-r8", data + "/hf/tiny-llama", {});
  CHECK(g.metadata.get_string("general.type") == "adapter");
  REQUIRE(g.tensors.size() == 28);
  CHECK(g.tensors[0].name == "blk.0.ffn_down.weight.lora_a");
  for (const auto& t : g.tensors) CHECK(read_all(*t.data).size() == t.byte_size());

  Graph base = open_model(data + "/hf/tiny-llama");
  const auto summary =
      lora::apply_adapters(base, {{data + "/lora/llama-rslora", 0.5}}, ElemType::F32);
  CHECK(summary.merged == 8);
  CHECK(summary.replaced == 1);
  for (const auto& t : base.tensors) CHECK(read_all(*t.data).size() == t.byte_size());
}
