#include <catch2/catch.hpp>

#include <set>

#include "formats/io/error.h"
#include "quant/codec.h"
#include "quant/recipe.h"

using namespace owl;
using T = ElemType;

namespace {

Tensor tensor(std::string name, std::vector<uint64_t> shape, ElemType type = T::F16) {
  return {std::move(name), std::move(shape), type, nullptr};
}

ModelFacts llama(int64_t layers, int64_t heads = 32, int64_t kv_heads = 8) {
  ModelFacts m;
  m.arch = "llama";
  m.layers = layers;
  m.heads = heads;
  m.kv_heads = kv_heads;
  m.tied_embeddings = false;
  return m;
}

// The mix's type for a tensor of `role` at position (index, count), rows of 4096.
ElemType pick(const char* mix, const ModelFacts& m, TensorRole role, int64_t index = 0,
              int64_t count = 0, uint64_t row = 4096) {
  const Mix* x = find_mix(mix);
  REQUIRE(x);
  const std::vector<uint64_t> shape{4096, row};
  return choose_type({m, *x, role, shape, {index, count}}).type;
}

}  // namespace

TEST_CASE("tensor roles follow llama.cpp's categories, fused attention counting as attn_v",
          "[recipe]") {
  CHECK(tensor_role("output.weight") == TensorRole::Output);
  CHECK(tensor_role("token_embd.weight") == TensorRole::TokenEmbd);
  CHECK(tensor_role("per_layer_token_embd.weight") == TensorRole::TokenEmbd);
  CHECK(tensor_role("blk.3.attn_v.weight") == TensorRole::AttnV);
  CHECK(tensor_role("blk.3.attn_qkv.weight") == TensorRole::AttnV);
  CHECK(tensor_role("blk.3.attn_kv_b.weight") == TensorRole::AttnV);
  CHECK(tensor_role("blk.3.attn_k.weight") == TensorRole::AttnK);
  CHECK(tensor_role("blk.3.attn_q.weight") == TensorRole::AttnQ);
  CHECK(tensor_role("blk.3.attn_output.weight") == TensorRole::AttnOutput);
  CHECK(tensor_role("blk.3.ffn_up_exps.weight") == TensorRole::FfnUp);
  CHECK(tensor_role("blk.3.ffn_gate_shexp.weight") == TensorRole::FfnGate);
  CHECK(tensor_role("blk.3.ffn_down.weight") == TensorRole::FfnDown);
  CHECK(tensor_role("blk.3.attn_norm.weight") == TensorRole::Other);
  CHECK(tensor_role("output_norm.weight") == TensorRole::Other);
}

TEST_CASE("layer numbers are read from names as llama.cpp's sscanf reads them", "[recipe]") {
  CHECK(layer_of_name("blk.12.attn_v.weight") == 12);
  CHECK(layer_of_name("blk.7") == 7);
  CHECK(layer_of_name("token_embd.weight") == -1);
  CHECK(layer_of_name("blk.x.attn_v.weight") == -1);
  CHECK(layer_of_name("blk.99999999999.attn_v.weight") == -1);
}

TEST_CASE("tensors llama.cpp never quantizes are kept, with the reason", "[recipe]") {
  CHECK(keep_reason(tensor("blk.0.attn_norm.weight", {4096}), true) == "1-D");
  // ggml does not count outer sizes of 1 as dimensions.
  CHECK(keep_reason(tensor("blk.0.attn_q.weight", {1, 4096}), true) == "1-D");
  CHECK(keep_reason(tensor("blk.0.attn_q_norm.weight", {8, 128}), true) == "norm");
  CHECK(keep_reason(tensor("blk.0.attn_q.bias", {8, 128}), true) == "not a weight");
  CHECK(keep_reason(tensor("blk.0.ffn_gate_inp.weight", {8, 4096}), true) == "expert router");
  CHECK(keep_reason(tensor("position_embd.weight", {512, 768}), true) == "positional embedding");
  CHECK(keep_reason(tensor("output.weight", {32000, 4096}), false) ==
        "output kept (--leave-output-tensor)");
  CHECK_FALSE(keep_reason(tensor("output.weight", {32000, 4096}), true));
  CHECK_FALSE(keep_reason(tensor("blk.0.ffn_down_exps.weight", {8, 4096, 14336}), true));
}

TEST_CASE("fallbacks go to the 32-block type llama.cpp names", "[recipe]") {
  CHECK(smaller_block_type(T::Q2_K) == T::Q4_0);
  CHECK(smaller_block_type(T::Q3_K) == T::Q4_0);
  CHECK(smaller_block_type(T::TQ1_0) == T::Q4_0);
  CHECK(smaller_block_type(T::Q4_K) == T::Q5_0);
  CHECK(smaller_block_type(T::Q5_K) == T::Q5_1);
  CHECK(smaller_block_type(T::Q6_K) == T::Q8_0);
  CHECK(smaller_block_type(T::IQ4_XS) == T::IQ4_NL);
  CHECK(smaller_block_type(T::IQ2_XXS) == T::IQ4_NL);
  CHECK(smaller_block_type(T::Q8_0) == T::Q8_0);  // already 32: the caller takes F16
  CHECK_FALSE(smaller_block_type(T::Q8_K));
  CHECK(smaller_block_type(T::Q2_0) == T::Q4_0);  // block 64
  CHECK_FALSE(smaller_block_type(T::Q1_0));       // block 128: llama.cpp names none
}

TEST_CASE("use_more_bits picks the first and last eighth and every third layer between",
          "[recipe]") {
  const ModelFacts m = llama(32);
  const Mix& mix = *find_mix("Q4_K_M");
  const std::vector<uint64_t> shape{4096, 4096};
  std::set<int64_t> more;
  for (int64_t i = 0; i < 32; ++i)
    if (holds(When::MoreBits, {m, mix, TensorRole::FfnDown, shape, {i, 32}})) more.insert(i);
  CHECK(more == std::set<int64_t>{0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31});
}

TEST_CASE("Q4_K_M gives Q6_K to the output and to attn_v and ffn_down of more-bits layers",
          "[recipe]") {
  const ModelFacts m = llama(32);
  CHECK(pick("Q4_K_M", m, TensorRole::Output) == T::Q6_K);
  CHECK(pick("Q4_K_M", m, TensorRole::TokenEmbd) == T::Q4_K);
  CHECK(pick("Q4_K_M", m, TensorRole::FfnDown, 6, 32) == T::Q6_K);
  CHECK(pick("Q4_K_M", m, TensorRole::FfnDown, 5, 32) == T::Q4_K);
  CHECK(pick("Q4_K_M", m, TensorRole::AttnV, 9, 32) == T::Q6_K);
  CHECK(pick("Q4_K_M", m, TensorRole::AttnV, 10, 32) == T::Q4_K);
  CHECK(pick("Q4_K_M", m, TensorRole::AttnQ) == T::Q4_K);
  CHECK(pick("Q4_K_M", m, TensorRole::FfnUp, 0, 32) == T::Q4_K);
}

TEST_CASE("the K mixes' other rules", "[recipe]") {
  const ModelFacts gqa4 = llama(32, 32, 8), mha = llama(32, 32, 32);
  CHECK(pick("Q2_K", gqa4, TensorRole::AttnV, 5, 32) == T::Q4_K);
  CHECK(pick("Q2_K", mha, TensorRole::AttnV, 5, 32) == T::Q3_K);
  CHECK(pick("Q2_K", mha, TensorRole::FfnDown, 5, 32) == T::Q3_K);
  CHECK(pick("Q2_K", mha, TensorRole::AttnOutput) == T::Q3_K);
  CHECK(pick("Q3_K_S", mha, TensorRole::AttnV, 0, 32) == T::Q3_K);
  CHECK(pick("Q3_K_M", mha, TensorRole::AttnV, 1, 32) == T::Q5_K);
  CHECK(pick("Q3_K_M", mha, TensorRole::AttnV, 2, 32) == T::Q4_K);
  CHECK(pick("Q3_K_M", mha, TensorRole::FfnDown, 1, 32) == T::Q5_K);
  CHECK(pick("Q3_K_M", mha, TensorRole::FfnDown, 2, 32) == T::Q4_K);
  CHECK(pick("Q3_K_L", mha, TensorRole::AttnOutput) == T::Q5_K);
  CHECK(pick("Q4_K_S", mha, TensorRole::AttnV, 3, 32) == T::Q5_K);
  CHECK(pick("Q4_K_S", mha, TensorRole::AttnV, 4, 32) == T::Q4_K);
  CHECK(pick("Q4_K_S", mha, TensorRole::FfnDown, 3, 32) == T::Q5_K);
  CHECK(pick("Q4_K_S", mha, TensorRole::FfnDown, 4, 32) == T::Q4_K);
  CHECK(pick("Q5_K_M", mha, TensorRole::FfnDown, 31, 32) == T::Q6_K);
  CHECK(pick("IQ4_XS", gqa4, TensorRole::AttnV, 20, 32) == T::Q5_K);
  CHECK(pick("TQ1_0", mha, TensorRole::TokenEmbd) == T::Q4_K);
}

TEST_CASE("legacy mixes keep every tensor at the base type but the output", "[recipe]") {
  const ModelFacts m = llama(32);
  for (const char* mix : {"Q4_0", "Q4_1", "Q5_0", "Q5_1"}) {
    const ElemType base = find_mix(mix)->base;
    CHECK(pick(mix, m, TensorRole::Output) == T::Q6_K);
    CHECK(pick(mix, m, TensorRole::AttnV, 0, 32) == base);
    CHECK(pick(mix, m, TensorRole::FfnDown, 0, 32) == base);
  }
  CHECK(pick("Q8_0", m, TensorRole::Output) == T::Q8_0);
  CHECK(pick("Q6_K", m, TensorRole::Output) == T::Q6_K);
}

TEST_CASE("an output whose rows do not fit the base blocks, or Falcon's, is Q8_0", "[recipe]") {
  CHECK(pick("Q4_K_M", llama(32), TensorRole::Output, 0, 0, 4000) == T::Q8_0);
  CHECK(pick("Q4_0", llama(32), TensorRole::Output, 0, 0, 4000) == T::Q6_K);  // fits 32-blocks
  CHECK(pick("Q4_0", llama(32), TensorRole::Output, 0, 0, 4004) == T::Q8_0);
  ModelFacts falcon = llama(32);
  falcon.arch = "falcon";
  CHECK(pick("Q4_K_M", falcon, TensorRole::Output) == T::Q8_0);
  // Falcon's ffn_down under Q4_K_M: Q6_K in the first sixteenth, Q5_K in more-bits layers.
  CHECK(pick("Q4_K_M", falcon, TensorRole::FfnDown, 1, 32) == T::Q6_K);
  CHECK(pick("Q4_K_M", falcon, TensorRole::FfnDown, 6, 32) == T::Q5_K);
  CHECK(pick("Q4_K_M", falcon, TensorRole::FfnDown, 7, 32) == T::Q4_K);
  CHECK(pick("Q3_K_L", falcon, TensorRole::FfnDown, 7, 32) == T::Q4_K);
}

TEST_CASE("70B models and 8-expert models adjust attn_v and attn_k after the mix", "[recipe]") {
  ModelFacts big = llama(80);
  big.is_70b = true;
  CHECK(pick("Q3_K_M", big, TensorRole::AttnV, 10, 80) == T::Q5_K);  // Q4_K raised
  CHECK(pick("Q3_K_S", big, TensorRole::AttnV, 10, 80) == T::Q5_K);  // Q3_K raised
  CHECK(pick("Q4_K_M", big, TensorRole::AttnV, 9, 80) == T::Q6_K);   // Q6_K stays
  CHECK(pick("Q4_0", big, TensorRole::AttnV, 10, 80) == T::Q4_0);    // legacy types stay
  ModelFacts moe = llama(32);
  moe.experts = 8;
  CHECK(pick("Q4_K_M", moe, TensorRole::AttnV, 9, 32) == T::Q8_0);
  CHECK(pick("Q4_K_M", moe, TensorRole::AttnK) == T::Q8_0);
  CHECK(pick("Q4_K_M", moe, TensorRole::AttnOutput) == T::Q5_K);
  CHECK(pick("Q3_K_L", moe, TensorRole::AttnOutput) == T::Q3_K);
}

TEST_CASE("MXFP4_MOE puts stacked experts in MXFP4 and all else in Q8_0", "[recipe]") {
  ModelFacts moe = llama(4);
  moe.experts = 8;
  const Mix& mix = *find_mix("MXFP4_MOE");
  const std::vector<uint64_t> experts{8, 4096, 1024}, dense{4096, 1024};
  CHECK(choose_type({moe, mix, TensorRole::FfnDown, experts, {0, 4}}).type == T::MXFP4);
  CHECK(choose_type({moe, mix, TensorRole::AttnQ, dense, {}}).type == T::Q8_0);
  CHECK(choose_type({moe, mix, TensorRole::Output, dense, {}}).type == T::Q8_0);
  moe.arch = "bailingmoe3";
  CHECK(choose_type({moe, mix, TensorRole::AttnQ, experts, {}}).type == T::Q8_0);
}

TEST_CASE("mixes are found by name in any case and are consistent", "[recipe]") {
  CHECK(find_mix("q4_k_m") == find_mix("Q4_K_M"));
  CHECK_FALSE(find_mix("Q4_K"));
  std::set<std::string_view> names;
  std::set<uint32_t> file_types;
  for (const Mix& m : all_mixes()) {
    names.insert(m.name);
    file_types.insert(m.file_type);
    INFO(m.name);
    // IQ2_XXS, IQ2_XS and IQ1_S are made only with an importance matrix.
    auto producible = [](T t) { return can_quantize(t) || block_codec(t).quantize_weighted; };
    CHECK((producible(m.base) || m.base == T::F16 || m.base == T::BF16 || m.base == T::F32));
    for (const Rule& r : m.rules) CHECK(producible(r.type));
  }
  CHECK(names.size() == all_mixes().size());
  CHECK(file_types.size() == all_mixes().size());
  for (const char* n :
       {"Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K_S", "Q4_K_M",
        "Q5_K_S", "Q5_K_M", "Q6_K", "Q8_0", "F16", "BF16", "F32"})
    CHECK(find_mix(n));
  CHECK(find_mix("Q4_K_M")->file_type == 15);
  CHECK(find_mix("F32")->file_type == 0);
}

TEST_CASE("model facts come from the metadata the rules need", "[recipe]") {
  Graph g;
  g.metadata.set("general.architecture", Value::string("llama"));
  g.metadata.set("llama.block_count", Value::u32(80));
  g.metadata.set("llama.attention.head_count", Value::u32(64));
  g.metadata.set("llama.attention.head_count_kv", Value::u32(8));
  g.tensors.push_back(tensor("output.weight", {32000, 8192}));
  ModelFacts f = model_facts(g, "m.gguf");
  CHECK(f.layers == 80);
  CHECK(f.gqa() == 8);
  CHECK(f.is_70b);
  CHECK_FALSE(f.tied_embeddings);

  // An 80-layer Llama without grouped-query attention is llama.cpp's 65B.
  g.metadata.set("llama.attention.head_count_kv", Value::u32(64));
  CHECK_FALSE(model_facts(g, "m.gguf").is_70b);

  // Per-layer head counts: layer 0's count; head_count_kv defaults to head_count.
  Array heads{ValueType::U32, {Value::u32(16), Value::u32(32)}};
  g.metadata.set("llama.attention.head_count", Value::array(heads));
  g.metadata.erase("llama.attention.head_count_kv");
  f = model_facts(g, "m.gguf");
  CHECK(f.heads == 16);
  CHECK(f.kv_heads == 16);

  g.metadata.set("llama.block_count", Value::string("many"));
  CHECK_THROWS_AS(model_facts(g, "m.gguf"), InputError);
  g.metadata.erase("llama.block_count");
  g.tensors = {tensor("blk.0.attn_q.weight", {8, 8}), tensor("blk.6.attn_q.weight", {8, 8})};
  f = model_facts(g, "m.gguf");
  CHECK(f.layers == 7);
  CHECK(f.tied_embeddings);
}
