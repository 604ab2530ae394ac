#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "converters/tokenizer/hf_export.h"
#include "converters/tokenizer/keys.h"
#include "converters/tokenizer/sentencepiece.h"

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

TEST_CASE("a SentencePiece GGUF vocabulary becomes a tokenizer.model", "[tokenizer]") {
  // As convert_hf_to_gguf.py writes Llama's: <unk>, <s>, </s> listed by added_tokens_decoder
  // (control, -1000), byte tokens, merged pieces scored by rank, a padding slot.
  Metadata m;
  m.set("tokenizer.ggml.model", Value::string("llama"));
  m.set("tokenizer.ggml.tokens", tok::string_array({"<unk>", "<s>", "</s>", "<0x41>",
                                                    "\xe2\x96\x81"
                                                    "a",
                                                    "[PAD5]"}));
  std::vector<Value> scores, types;
  for (float s : {-1000.0f, -1000.0f, 0.0f, 0.0f, -3.0f, -10000.0f})
    scores.push_back(Value::f32(s));
  for (int32_t t : {3, 3, 3, 6, 1, 5}) types.push_back(Value::i32(t));
  m.set("tokenizer.ggml.scores", Value::array(Array(ValueType::F32, scores)));
  m.set("tokenizer.ggml.token_type", Value::array(Array(ValueType::I32, types)));
  m.set("tokenizer.ggml.bos_token_id", Value::u32(1));
  m.set("tokenizer.ggml.eos_token_id", Value::u32(2));
  m.set("tokenizer.ggml.add_space_prefix", Value::boolean(false));
  const auto out = tok::export_hf_tokenizer(m);
  REQUIRE(out.files);
  CHECK(out.files->tokenizer.is_null());
  const std::string& bytes = out.files->sentencepiece_model;
  const tok::Vocab back = tok::parse_sentencepiece(
      std::as_bytes(std::span<const char>(bytes.data(), bytes.size())), "tokenizer.model");
  REQUIRE(back.size() == 6);
  CHECK(back.tokens[4] ==
        "\xe2\x96\x81"
        "a");
  CHECK(back.scores[4] == -3.0f);
  // SentencePiece needs an unknown piece: <unk>, although the GGUF calls it control.
  CHECK(back.types[0] == tok::TokenType::Unknown);
  CHECK(back.types[2] == tok::TokenType::Control);
  CHECK(back.types[3] == tok::TokenType::Byte);
  CHECK(back.types[5] == tok::TokenType::Unused);
  const Json& c = out.files->tokenizer_config;
  CHECK(c["tokenizer_class"] == "LlamaTokenizer");
  CHECK(c["add_prefix_space"] == false);
  CHECK(c["unk_token"] == "<unk>");
  CHECK(c["eos_token"] == "</s>");
  // Only the tokens scored as added tokens are listed again; </s> keeps its own score.
  CHECK(c["added_tokens_decoder"].size() == 2);
  CHECK(c["added_tokens_decoder"]["1"]["special"] == true);
  CHECK(out.files->special_tokens_map["bos_token"] == "<s>");
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
