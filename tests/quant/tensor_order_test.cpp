#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "quant/tensor_order.h"

using namespace owl;

namespace {

Graph graph_of(const std::vector<std::string>& names) {
  Graph g;
  for (const auto& n : names) g.tensors.push_back({n, {4}, ElemType::F32, nullptr});
  return g;
}

std::vector<std::string> names_of(const Graph& g) {
  std::vector<std::string> n;
  for (const auto& t : g.tensors) n.push_back(t.name);
  return n;
}

}  // namespace

TEST_CASE("llama_sort_layer reads blk.N as sscanf(\"blk.%d.\") does") {
  CHECK(llama_sort_layer("token_embd.weight") == -1);
  CHECK(llama_sort_layer("blk.0.attn_q.weight") == 0);
  CHECK(llama_sort_layer("blk.12.ffn_up.weight") == 12);
  CHECK(llama_sort_layer("blk.7") == 7);  // the trailing '.' is not needed to set the number
  CHECK(llama_sort_layer("blk.3x.w") == 3);
  CHECK(llama_sort_layer("blk.x.w") == -1);
  CHECK(llama_sort_layer("blk.") == -1);
  CHECK(llama_sort_layer("blk.-.w") == -1);
  CHECK(llama_sort_layer("Blk.1.w") == -1);
  CHECK(llama_sort_layer("v.blk.1.w") == -1);  // the name must start with it
  // %d skips white space and takes a sign.
  CHECK(llama_sort_layer("blk. \t5.w") == 5);
  CHECK(llama_sort_layer("blk.+5.w") == 5);
  CHECK(llama_sort_layer("blk.-3.w") == -3);
  CHECK(llama_sort_layer("blk.007.w") == 7);
  // Too large for an int: glibc keeps the low 32 bits of strtol's (saturated) long.
  CHECK(llama_sort_layer("blk.2147483648.w") == INT32_MIN);
  CHECK(llama_sort_layer("blk.4294967301.w") == 5);
  CHECK(llama_sort_layer("blk.99999999999999999999999.w") == -1);  // LONG_MAX
  CHECK(llama_sort_layer("blk.-99999999999999999999999.w") == 0);  // LONG_MIN
  CHECK(llama_sort_layer("blk.9223372036854775807.w") == -1);      // LONG_MAX itself
  CHECK(llama_sort_layer("blk.-9223372036854775808.w") == 0);      // LONG_MIN itself
  CHECK(llama_sort_layer("blk.9223372036854775806.w") == -2);
}

TEST_CASE("tensors are sorted by layer, then by name, as llama.cpp's loader keeps them") {
  // Not in the order llama.cpp keeps: output last, layer 10 before layer 2, ...
  Graph g =
      graph_of({"token_embd.weight", "blk.0.attn_norm.weight", "blk.0.ffn_down.weight",
                "blk.0.attn_q.weight", "blk.1.attn_norm.weight", "blk.10.attn_q.weight",
                "blk.2.attn_q.weight", "output_norm.weight", "output.weight", "rope_freqs.weight"});
  sort_tensors_like_llama(g);
  CHECK(names_of(g) == std::vector<std::string>{"output.weight", "output_norm.weight",
                                                "rope_freqs.weight", "token_embd.weight",
                                                "blk.0.attn_norm.weight", "blk.0.attn_q.weight",
                                                "blk.0.ffn_down.weight", "blk.1.attn_norm.weight",
                                                "blk.2.attn_q.weight", "blk.10.attn_q.weight"});
}

TEST_CASE("names compare byte by byte, as unsigned bytes") {
  CHECK(llama_tensor_before("Z.weight", "a.weight"));
  CHECK(llama_tensor_before("a.weight", "\xc3\xa9.weight"));
  CHECK(llama_tensor_before("output.weight", "output_norm.weight"));  // '.' < '_'
  CHECK_FALSE(llama_tensor_before("blk.0.a", "output.weight"));
  CHECK(llama_tensor_before("blk.-2.a", "output.weight"));  // below -1, before the others
  CHECK_FALSE(llama_tensor_before("a", "a"));
}

TEST_CASE("sorting carries each tensor's shape, type and data along") {
  Graph g;
  g.tensors.push_back({"blk.1.w", {2, 3}, ElemType::F16, nullptr});
  g.tensors.push_back({"blk.0.w", {5}, ElemType::F32, nullptr});
  sort_tensors_like_llama(g);
  REQUIRE(names_of(g) == std::vector<std::string>{"blk.0.w", "blk.1.w"});
  CHECK(g.tensors[0].shape == std::vector<uint64_t>{5});
  CHECK(g.tensors[0].type == ElemType::F32);
  CHECK(g.tensors[1].shape == std::vector<uint64_t>{2, 3});
  CHECK(g.tensors[1].type == ElemType::F16);
  CHECK(llama_tensor_order(g) == std::vector<size_t>{0, 1});  // sorted already
}
