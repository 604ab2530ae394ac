#include <catch2/catch.hpp>

#include "converters/source.h"
#include "quant/convert_types.h"

using namespace owl;

namespace {
Tensor tensor(std::string name, std::vector<uint64_t> shape, ElemType type = ElemType::BF16) {
  uint64_t n = 1;
  for (auto d : shape) n *= d;
  return {std::move(name), std::move(shape), type,
          std::make_shared<BufferSource>(std::vector<std::byte>(n * type_info(type).block_bytes))};
}
}  // namespace

TEST_CASE("GGUF conversion keeps llama.cpp's F32 tensors and falls back for partial blocks", "[quant]") {
  CHECK(gguf_convert_type(tensor("blk.0.attn_q.weight", {64, 64}), ElemType::F16).type == ElemType::F16);
  CHECK(gguf_convert_type(tensor("blk.0.attn_norm.weight", {64}), ElemType::F16).type == ElemType::F32);
  CHECK(gguf_convert_type(tensor("blk.0.attn_q_norm.weight", {1, 64}), ElemType::F16).type == ElemType::F32);
  CHECK(gguf_convert_type(tensor("blk.0.attn_q.bias", {4, 64}), ElemType::Q8_0).type == ElemType::F32);
  CHECK(gguf_convert_type(tensor("blk.3.ffn_gate_inp.weight", {8, 64}), ElemType::Q8_0).type == ElemType::F32);
  CHECK(gguf_convert_type(tensor("blk.0.ffn_down.weight", {64, 172}), ElemType::Q8_0).type == ElemType::F16);
  CHECK(gguf_convert_type(tensor("pos", {4, 4}, ElemType::I64), ElemType::F16).type == ElemType::I64);
}

TEST_CASE("applying the conversion types retypes lazily and reports fallbacks", "[quant]") {
  Graph g;
  g.tensors.push_back(tensor("blk.0.ffn_down.weight", {2, 172}));
  g.tensors.push_back(tensor("blk.0.ffn_up.weight", {2, 64}));
  auto fallbacks = apply_gguf_convert_types(g, ElemType::Q8_0);
  REQUIRE(fallbacks.size() == 1);
  CHECK(fallbacks[0].tensor == "blk.0.ffn_down.weight");
  CHECK(g.tensors[0].type == ElemType::F16);
  CHECK(g.tensors[0].byte_size() == 2 * 172 * 2);
  CHECK(g.tensors[1].type == ElemType::Q8_0);
  CHECK(g.tensors[1].byte_size() == 2 * 2 * 34);
  CHECK(read_all(*g.tensors[1].data).size() == 2 * 2 * 34);
}
