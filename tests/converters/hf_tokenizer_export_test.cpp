#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "converters/tokenizer/hf_export.h"
#include "converters/tokenizer/keys.h"

using namespace owl;

namespace {

Metadata bpe_vocab(const std::vector<std::string>& tokens, const std::vector<int32_t>& types) {
  Metadata m;
  m.set("tokenizer.ggml.model", Value::string("gpt2"));
  m.set("tokenizer.ggml.pre", Value::string("qwen2"));
  m.set("tokenizer.ggml.tokens", tok::string_array(tokens));
  std::vector<Value> t;
  for (int32_t x : types) t.push_back(Value::i32(x));
  m.set("tokenizer.ggml.token_type", Value::array(Array(ValueType::I32, t)));
  m.set("tokenizer.ggml.merges", tok::string_array({"a b", "ab c"}));
  m.set("tokenizer.ggml.eos_token_id", Value::u32(5));
  m.set("tokenizer.chat_template", Value::string("{{ messages }}"));
  return m;
}

}  // namespace

TEST_CASE("a byte-level BPE GGUF vocabulary becomes a tokenizer.json", "[tokenizer]") {
  const auto out = tok::export_hf_tokenizer(
      bpe_vocab({"a", "b", "c", "ab", "abc", "<|end|>"}, {1, 1, 1, 1, 1, 3}));
  REQUIRE(out.files);
  const Json& t = out.files->tokenizer;
  CHECK(t["model"]["vocab"]["abc"] == 4);
  CHECK(t["model"]["merges"] == Json::array({"a b", "ab c"}));
  CHECK(t["pre_tokenizer"]["pretokenizers"][0]["type"] == "Split");
  REQUIRE(t["added_tokens"].size() == 1);
  CHECK(t["added_tokens"][0]["content"] == "<|end|>");
  CHECK(t["added_tokens"][0]["special"] == true);
  CHECK(out.files->tokenizer_config["eos_token"] == "<|end|>");
  CHECK(out.files->tokenizer_config["chat_template"] == "{{ messages }}");
}

TEST_CASE("tokenizers owl cannot express are named, not guessed", "[tokenizer]") {
  Metadata m = bpe_vocab({"a", "a"}, {1, 1});
  CHECK(tok::export_hf_tokenizer(m).why_not.find("repeats 'a'") != std::string::npos);
  m = bpe_vocab({"a", "b"}, {1, 1});
  m.set("tokenizer.ggml.pre", Value::string("exotic"));
  CHECK(tok::export_hf_tokenizer(m).why_not.find("'exotic'") != std::string::npos);
  m.set("tokenizer.ggml.model", Value::string("llama"));
  CHECK(tok::export_hf_tokenizer(m).why_not.find("SentencePiece") != std::string::npos);
  m.set("tokenizer.ggml.model", Value::string("bert"));
  CHECK(!tok::export_hf_tokenizer(m).files);
  CHECK(!tok::export_hf_tokenizer(Metadata{}).files);
}
