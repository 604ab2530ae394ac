// Measured recipes' sensitivity (quant/sensitivity.h): errors fall as types grow, the input
// moments weigh them, the thread count changes nothing, and the saved JSON reads back exactly
// while malformed files are refused.
#include <catch2/catch.hpp>

#include <random>

#include "formats/io/error.h"
#include "quant/sensitivity.h"

using namespace owl;

namespace {

std::vector<float> random_values(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0, 0.02f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

const RecipeCandidate& at(const TensorSensitivity& s, ElemType t) {
  for (const auto& c : s.candidates)
    if (c.type == t) return c;
  FAIL("no candidate " << type_name(t));
  return s.candidates.front();
}

}  // namespace

TEST_CASE("sensitivity: every fitting type, errors falling with bits, same for any threads") {
  const std::vector<float> w = random_values(16 * 512, 1);
  std::vector<float> moments(512);
  for (size_t c = 0; c < moments.size(); ++c) moments[c] = 0.5f + static_cast<float>(c % 7);
  const SensitivityInput in{"blk.0.ffn_down.weight", {16, 512}, w, {}, moments, false, {}};
  const TensorSensitivity one = measure_tensor_sensitivity(in, 1);
  const TensorSensitivity four = measure_tensor_sensitivity(in, 4);
  REQUIRE(one.candidates.size() == recipe_candidate_types().size());
  for (size_t i = 0; i < one.candidates.size(); ++i) {
    CHECK(one.candidates[i].error == four.candidates[i].error);
    CHECK(one.candidates[i].bytes == *bytes_for_elements(one.candidates[i].type, w.size()));
    if (i) CHECK(one.candidates[i - 1].bytes <= one.candidates[i].bytes);
  }
  CHECK(at(one, ElemType::Q2_K).error > at(one, ElemType::Q3_K).error);
  CHECK(at(one, ElemType::Q3_K).error > at(one, ElemType::Q4_K).error);
  CHECK(at(one, ElemType::Q4_K).error > at(one, ElemType::Q5_K).error);
  CHECK(at(one, ElemType::Q5_K).error > at(one, ElemType::Q6_K).error);
  CHECK(at(one, ElemType::Q6_K).error > at(one, ElemType::Q8_0).error);

  // Doubling every moment doubles the error.
  std::vector<float> twice(moments);
  for (auto& m : twice) m *= 2;
  const SensitivityInput in2{in.name, in.shape, w, {}, twice, false, {}};
  const TensorSensitivity doubled = measure_tensor_sensitivity(in2, 2);
  for (size_t i = 0; i < one.candidates.size(); ++i)
    CHECK(doubled.candidates[i].error == Approx(2 * one.candidates[i].error).epsilon(1e-12));

  // A norm after the product (Gemma's post-norms) scales each output row's error by its factor.
  std::vector<float> scales(16, 1.0f);
  scales[0] = 3.0f;
  const SensitivityInput in3{in.name, in.shape, w, {}, moments, false, scales};
  const SensitivityInput row0{in.name, {1, 512}, std::span(w).first(512), {}, moments, false, {}};
  const TensorSensitivity scaled = measure_tensor_sensitivity(in3, 2),
                          first = measure_tensor_sensitivity(row0, 1);
  for (size_t i = 0; i < one.candidates.size(); ++i)
    CHECK(scaled.candidates[i].error ==
          Approx(one.candidates[i].error + 2 * first.candidates[i].error).epsilon(1e-12));
  const SensitivityInput wrong{
      in.name, in.shape, w, {}, moments, false, std::span(scales).first(8)};
  CHECK_THROWS_AS(measure_tensor_sensitivity(wrong, 1), std::logic_error);
}

TEST_CASE("sensitivity: rows of 32-element blocks get only the 32-element types") {
  const std::vector<float> w = random_values(8 * 96, 2);
  const SensitivityInput in{"token_embd.weight", {8, 96}, w, {}, {}, true, {}};
  const TensorSensitivity s = measure_tensor_sensitivity(in, 2);
  for (const auto& c : s.candidates) CHECK(type_info(c.type).block_elems == 32);
  CHECK(s.candidates.size() == 6);
}

TEST_CASE("sensitivity: the JSON file reads back exactly") {
  SensitivityTable t{"calib.txt", {}};
  const std::vector<float> w = random_values(4 * 256, 3);
  t.tensors.push_back(
      measure_tensor_sensitivity({"blk.0.attn_q.weight", {4, 256}, w, {}, {}, false, {}}, 1));
  const SensitivityTable back = parse_sensitivity(sensitivity_json(t), "t.json");
  CHECK(back.calibration == "calib.txt");
  REQUIRE(back.tensors.size() == 1);
  CHECK(back.tensors[0].name == t.tensors[0].name);
  CHECK(back.tensors[0].shape == t.tensors[0].shape);
  REQUIRE(back.tensors[0].candidates.size() == t.tensors[0].candidates.size());
  for (size_t i = 0; i < t.tensors[0].candidates.size(); ++i) {
    CHECK(back.tensors[0].candidates[i].type == t.tensors[0].candidates[i].type);
    CHECK(back.tensors[0].candidates[i].bytes == t.tensors[0].candidates[i].bytes);
    CHECK(back.tensors[0].candidates[i].error == t.tensors[0].candidates[i].error);
  }
}

TEST_CASE("sensitivity: malformed files are refused with the file named") {
  const std::string head = R"({"format": "owl-sensitivity", "version": 1, "tensors": [)";
  auto tensor = [](const std::string& candidates, const std::string& name = "a") {
    return R"({"name": ")" + name + R"(", "shape": [2, 256], "candidates": [)" + candidates + "]}";
  };
  const std::string good = R"({"type": "Q4_K", "bytes": 288, "error": 1.5})";
  CHECK(parse_sensitivity(head + tensor(good) + "]}", "f.json").tensors.size() == 1);
  const std::vector<std::string> bad = {
      "[]",
      R"({"format": "other", "version": 1, "tensors": []})",
      R"({"format": "owl-sensitivity", "version": 2, "tensors": []})",
      head + tensor(R"({"type": "Q4_K", "bytes": 289, "error": 1.5})") + "]}",
      head + tensor(R"({"type": "Q9_K", "bytes": 288, "error": 1.5})") + "]}",
      head + tensor(R"({"type": "F16", "bytes": 1024, "error": 1.5})") + "]}",
      head + tensor(R"({"type": "Q4_K", "bytes": 288, "error": -1})") + "]}",
      head + tensor(R"({"type": "Q4_K", "bytes": 288})") + "]}",
      head + tensor(good + "," + good) + "]}",
      head + tensor("") + "]}",
      head + tensor(good) + "," + tensor(good) + "]}",
      head + R"({"name": "a", "shape": [], "candidates": [)" + good + "]}]}",
      head + R"({"name": "a", "shape": [0, 256], "candidates": [)" + good + "]}]}",
      head + "1]}",
  };
  for (const auto& text : bad) {
    INFO(text);
    try {
      parse_sensitivity(text, "f.json");
      FAIL("accepted");
    } catch (const InputError& e) {
      CHECK(std::string(e.what()).find("f.json") != std::string::npos);
    }
  }
}
