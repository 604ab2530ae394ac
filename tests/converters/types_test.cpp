#include <catch2/catch.hpp>

#include "converters/types.h"

using namespace owl;

TEST_CASE("ggml block types have ggml's ids and block sizes") {
  CHECK(type_info(ElemType::Q4_K).ggml_id == 12);
  CHECK(type_info(ElemType::Q4_K).block_elems == 256);
  CHECK(type_info(ElemType::Q4_K).block_bytes == 144);
  CHECK(type_info(ElemType::Q8_0).block_bytes == 34);
  CHECK(type_info(ElemType::Q8_1).block_bytes == 36);  // ggml's block_q8_1 (gguf-py says 40)
  CHECK(type_info(ElemType::BF16).ggml_id == 30);
  CHECK(type_from_ggml_id(14) == ElemType::Q6_K);
  CHECK(!type_from_ggml_id(4));  // Q4_2, removed from ggml
  CHECK(type_from_name("q4_k") == ElemType::Q4_K);
  CHECK(type_from_safetensors("F8_E4M3") == ElemType::F8_E4M3);
  CHECK(!type_from_safetensors("Q4_0"));
  // The newest two (llama.cpp 0.3.36): 1.125 and 2.25 bits per weight.
  CHECK(type_from_ggml_id(41) == ElemType::Q1_0);
  CHECK(type_from_ggml_id(42) == ElemType::Q2_0);
  CHECK(type_info(ElemType::Q1_0).block_elems == 128);
  CHECK(type_info(ElemType::Q1_0).block_bytes * 8.0 / 128 == 1.125);
  CHECK(type_info(ElemType::Q2_0).block_elems == 64);
  CHECK(type_info(ElemType::Q2_0).block_bytes * 8.0 / 64 == 2.25);
}

TEST_CASE("byte sizes follow blocks and refuse partial rows and overflow") {
  const uint64_t ok[] = {4, 512};
  CHECK(bytes_for_shape(ElemType::Q4_K, ok).bytes == 4 * 2 * 144);
  const uint64_t ragged[] = {4, 100};
  auto r = bytes_for_shape(ElemType::Q4_0, ragged);
  CHECK(!r.bytes);
  CHECK(r.problem.find("not a multiple") != std::string::npos);
  const uint64_t huge[] = {1ull << 62, 8};
  CHECK(!bytes_for_shape(ElemType::F32, huge).bytes);
  const uint64_t scalar[] = {0};
  CHECK(bytes_for_shape(ElemType::F32, std::span(scalar, 0)).bytes == 4);
}

TEST_CASE("every type's names are unique") {
  for (const auto& a : all_types())
    for (const auto& b : all_types())
      if (a.type != b.type) {
        CHECK(a.name != b.name);
        if (a.ggml_id >= 0) CHECK(a.ggml_id != b.ggml_id);
      }
}
