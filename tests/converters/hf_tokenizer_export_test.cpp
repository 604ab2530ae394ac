#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "converters/tokenizer/hf_export.h"
#include "converters/tokenizer/keys.h"

using namespace owl;

namespace {

Metadata spm_vocab(const std::vector<std::string>& pieces, const std::vector<float>& scores) {
  Metadata m;
  m.set("tokenizer.ggml.model", Value::string("llama"));
  m.set("tokenizer.ggml.tokens", tok::string_array(pieces));
  std::vector<Value> s, t;
  for (float x : scores) s.push_back(Value::f32(x));
  for (size_t i = 0; i < pieces.size(); ++i) t.push_back(Value::i32(i == 0 ? 2 : 1));
  m.set("tokenizer.ggml.scores", Value::array(Array(ValueType::F32, s)));
  m.set("tokenizer.ggml.token_type", Value::array(Array(ValueType::I32, t)));
  m.set("tokenizer.ggml.unknown_token_id", Value::u32(0));
  return m;
}

}  // namespace

TEST_CASE("SentencePiece merges are ranked by the joined piece's score", "[tokenizer]") {
  // "ab" outscores "bc": "abc" must join a+b first, so (a, b) ranks before (b, c); "abc" itself
  // can be made two ways, the longer left part first.
  const Metadata m =
      spm_vocab({"<unk>", "a", "b", "c", "ab", "bc", "abc"}, {0, -1, -1, -1, -2, -3, -4});
  const auto out = tok::export_hf_tokenizer(m);
  REQUIRE(out.files);
  const Json& model = out.files->tokenizer["model"];
  CHECK(model["byte_fallback"] == true);
  CHECK(model["unk_token"] == "<unk>");
  const Json want = Json::array({Json::array({"a", "b"}), Json::array({"b", "c"}),
                                 Json::array({"ab", "c"}), Json::array({"a", "bc"})});
  CHECK(model["merges"] == want);
  CHECK(out.files->tokenizer["added_tokens"].size() == 1);
}

TEST_CASE("tokenizers owl cannot express are named, not guessed", "[tokenizer]") {
  Metadata m = spm_vocab({"<unk>", "a", "a"}, {0, -1, -1});
  CHECK(tok::export_hf_tokenizer(m).why_not.find("repeats 'a'") != std::string::npos);
  m = spm_vocab({"<unk>", "a"}, {0, -1});
  m.set("tokenizer.ggml.model", Value::string("gpt2"));
  m.set("tokenizer.ggml.pre", Value::string("exotic"));
  CHECK(tok::export_hf_tokenizer(m).why_not.find("'exotic'") != std::string::npos);
  m.set("tokenizer.ggml.model", Value::string("bert"));
  CHECK(!tok::export_hf_tokenizer(m).files);
  CHECK(!tok::export_hf_tokenizer(Metadata{}).files);
}
