#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "converters/tokenizer/tokenizer.h"
#include "formats/io/error.h"
#include "formats/json/strict_json.h"
#include "validate/pretokenize.h"
#include "validate/text_tokenizer.h"
#include "validate/unicode_text.h"
#include "validate/user_defined_tokens.h"

using namespace owl;
using namespace owl::validate;

namespace {

const std::string kFixtures = std::string(OWL_TEST_DATA) + "/tokenizers";

std::string from_hex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

// The words `rules` cut `text` into, as UTF-8 strings.
std::vector<std::string> words(PreTokenizer rules, const std::string& text) {
  const std::vector<uint32_t> cpts = unicode::decode_utf8(text);
  std::vector<std::string> out;
  size_t begin = 0;
  for (const size_t n : split_words(rules, cpts)) {
    std::string w;
    for (size_t i = begin; i < begin + n; ++i) unicode::append_utf8(w, cpts[i]);
    out.push_back(w);
    begin += n;
  }
  return out;
}

Value strings(const std::vector<std::string>& items) {
  Array a(ValueType::STRING);
  for (const auto& s : items) a.push_back(Value::string(s));
  return Value::array(std::move(a));
}

// A hand-made byte-level BPE vocabulary: "Ġ" is GPT-2's stand-in for the space byte.
Graph tiny_bpe(const std::string& pre) {
  Graph g;
  g.metadata.set("tokenizer.ggml.model", Value::string("gpt2"));
  g.metadata.set("tokenizer.ggml.pre", Value::string(pre));
  //                    0    1    2    3     4     5      6         7      8     9
  g.metadata.set("tokenizer.ggml.tokens", strings({"a", "b", "c", "ab", "bc", "abc", "\xc4\xa0",
                                                   "\xc4\xa0"
                                                   "a",
                                                   "aa", "<x>", "<|im_end|>", "<ctl>"}));
  Array types(ValueType::I32);
  for (int t : {1, 1, 1, 1, 1, 1, 1, 1, 1, 4, 4, 3}) types.push_back(Value::i32(t));
  g.metadata.set("tokenizer.ggml.token_type", Value::array(types));
  g.metadata.set("tokenizer.ggml.merges", strings({"b c", "a b", "\xc4\xa0 a", "a a"}));
  return g;
}

}  // namespace

TEST_CASE("BPE text tokens match llama.cpp's on the real-tokenizer fixtures",
          "[validate][tokenizer]") {
  for (const auto& [fixture, architecture] :
       {std::pair{"llama3_bpe", "llama"}, std::pair{"qwen2_bpe", "qwen2"}}) {
    const std::string folder = kFixtures + "/" + fixture;
    Graph g;
    g.architecture = architecture;
    std::vector<std::string> warnings;
    REQUIRE(attach_from_folder(g, folder, 0, [&](const std::string& w) { warnings.push_back(w); }));
    const Json want = read_json_file(folder + "/llama_cpp_ids.json", 1u << 20);
    REQUIRE(want["cases"].size() > 20);
    for (const Json& c : want["cases"]) {
      const std::string text = from_hex(c["hex"].get<std::string>());
      INFO(fixture << ": " << c.value("text", "(ill-formed UTF-8) " + c["hex"].get<std::string>()));
      CHECK(tokenize_text(g, text) == c["ids"].get<std::vector<int32_t>>());
    }
  }
}

TEST_CASE("GPT-2 rules: letters, digits and others each with one leading space",
          "[validate][tokenizer]") {
  CHECK(words(PreTokenizer::kGpt2, "Hello world's  end\n") ==
        std::vector<std::string>{"Hello", " world", "'s", " ", " end", "\n"});
  CHECK(words(PreTokenizer::kGpt2, "I'M 2048!!") ==
        std::vector<std::string>{"I", "'", "M", " 2048", "!!"});
  CHECK(words(PreTokenizer::kGpt2, "").empty());
}

TEST_CASE("Llama 3 rules: any-case contractions, digits in threes, newlines after punctuation",
          "[validate][tokenizer]") {
  CHECK(words(PreTokenizer::kLlama3, "I'M 12345 ab!!\n\nx") ==
        std::vector<std::string>{"I", "'M", " ", "123", "45", " ab", "!!\n\n", "x"});
  CHECK(words(PreTokenizer::kLlama3, "a \n \n  b") ==
        std::vector<std::string>{"a", " \n \n", " ", " b"});
  CHECK(words(PreTokenizer::kQwen2, "I'M 12345 ab!!\n\nx") ==
        std::vector<std::string>{"I", "'M", " ", "1", "2", "3", "4", "5", " ab", "!!\n\n", "x"});
}

TEST_CASE("multi-pass rules: a later regex does not see past an earlier cut",
          "[validate][tokenizer]") {
  CHECK(words(PreTokenizer::kDigitsThenGpt2, "ab 123  x") ==
        std::vector<std::string>{"ab", " ", "1", "2", "3", " ", " x"});
  CHECK(words(PreTokenizer::kDefault, "don't 12345 a,b") ==
        std::vector<std::string>{"don", "'", "t", " ", "123", "45", " a", ",", "b"});
  // The punctuation cut ends "a  " there, so both spaces stay together (GPT-2 alone: " ", " ,").
  CHECK(words(PreTokenizer::kDefault, "a  ,b") == std::vector<std::string>{"a", "  ", ",", "b"});
  CHECK(words(PreTokenizer::kGpt2, "a  ,b") == std::vector<std::string>{"a", " ", " ,", "b"});
  CHECK(words(PreTokenizer::kDefault, "x 12") == std::vector<std::string>{"x", " ", "12"});
  CHECK(words(PreTokenizer::kFalcon, "x 12") == std::vector<std::string>{"x", " 12"});
}

TEST_CASE("pre-tokenizer names follow llama.cpp, unknown ones are refused by name",
          "[validate][tokenizer]") {
  CHECK(pre_tokenizer_for("llama-bpe").rules == PreTokenizer::kLlama3);
  CHECK(pre_tokenizer_for("llama-bpe").ignore_merges);
  CHECK_FALSE(pre_tokenizer_for("dbrx").ignore_merges);
  CHECK(pre_tokenizer_for("qwen2").rules == PreTokenizer::kQwen2);
  CHECK(pre_tokenizer_for("gpt-2").rules == PreTokenizer::kGpt2);
  CHECK(pre_tokenizer_for("smollm").rules == PreTokenizer::kDigitsThenGpt2);
  CHECK(pre_tokenizer_for("").rules == PreTokenizer::kDefault);
  CHECK_THROWS_WITH(pre_tokenizer_for("deepseek-llm"), Catch::Contains("'deepseek-llm'"));
  CHECK_THROWS_AS(tokenize_text(tiny_bpe("no-such-pre"), "a"), UsageError);
}

TEST_CASE("ill-formed UTF-8 decodes as llama.cpp decodes it", "[validate][tokenizer]") {
  using V = std::vector<uint32_t>;
  CHECK(unicode::decode_utf8("a\x80"
                             "b") == V{'a', 0xFFFD, 'b'});
  CHECK(unicode::decode_utf8("\xe4\xb8") == V{0xFFFD, 0xFFFD});  // cut short
  CHECK(unicode::decode_utf8("\xff\xfe") == V{0xFFFD, 0xFFFD});
  CHECK(unicode::decode_utf8("\xc0\x80") == V{0});           // overlong, kept
  CHECK(unicode::decode_utf8("\xed\xa0\x80") == V{0xD800});  // surrogate, kept
  CHECK(unicode::decode_utf8("\xf4\x90\x80\x80") ==
        V{0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD});  // > U+10FFFF
  CHECK(unicode::decode_utf8("\xf4\x8f\xbf\xbf") == V{0x10FFFF});
}

TEST_CASE("code point classes are Unicode 15.1's, as llama.cpp's tables", "[validate][tokenizer]") {
  using namespace unicode;
  CHECK(traits('a') == kIsLetter);
  CHECK(traits('7') == kIsNumber);
  CHECK(traits('!') == kIsPunctuation);
  CHECK(traits('$') == 0);  // a symbol
  CHECK(traits(' ') == kIsSpace);
  CHECK(traits(0x3000) == kIsSpace);
  CHECK(traits(0x0661) == kIsNumber);   // ARABIC-INDIC DIGIT ONE
  CHECK(traits(0x200B) == 0);           // ZERO WIDTH SPACE is a format character, not \s
  CHECK(traits(0x31350) == kIsLetter);  // CJK Extension H, new in Unicode 15.0
  CHECK(category(0x2FFFF) == Category::kUndefined);
  CHECK(category(0x0301) == Category::kMark);
}

TEST_CASE("merges apply by rank, leftmost first among equals", "[validate][tokenizer]") {
  const Graph g = tiny_bpe("gpt-2");
  CHECK(tokenize_text(g, "abc") == std::vector<int32_t>{0, 4});  // b+c (rank 0) before a+b
  CHECK(tokenize_text(g, "aaa") == std::vector<int32_t>{8, 0});
  CHECK(tokenize_text(g, " a") == std::vector<int32_t>{7});
  // "d" is no token, and neither is its byte: llama.cpp drops it.
  CHECK(tokenize_text(g, "abd") == std::vector<int32_t>{3});
  CHECK(tokenize_text(g, "").empty());
}

TEST_CASE("Llama 3 takes a word that is a token as it is", "[validate][tokenizer]") {
  CHECK(tokenize_text(tiny_bpe("llama-bpe"), "abc") == std::vector<int32_t>{5});
  CHECK(tokenize_text(tiny_bpe("dbrx"), "abc") == std::vector<int32_t>{0, 4});
}

TEST_CASE("user-defined tokens are found in text, control ones are plain text",
          "[validate][tokenizer]") {
  const Graph g = tiny_bpe("gpt-2");
  CHECK(tokenize_text(g, "a<x>b<x>") == std::vector<int32_t>{0, 9, 1, 9});
  // <|im_end|> is user-defined here, but llama.cpp makes it a control token by its text.
  CHECK(tokenize_text(g, "a<|im_end|>") == std::vector<int32_t>{0});
  CHECK(tokenize_text(g, "<ctl>b") == std::vector<int32_t>{2, 1});  // only the c and the b

  const std::vector<TextToken> tokens = {{"<xy>", 1}, {"<x", 2}, {"y>", 3}};
  const std::vector<Fragment> cut = split_on_tokens("a<xy>b<x", tokens);
  REQUIRE(cut.size() == 4);
  CHECK((cut[0].size == 1 && cut[0].token == -1));
  CHECK((cut[1].begin == 1 && cut[1].token == 1));
  CHECK((cut[2].begin == 5 && cut[2].size == 1 && cut[2].token == -1));
  CHECK((cut[3].begin == 6 && cut[3].token == 2));
}

TEST_CASE("a BPE model without merges cannot tokenize text", "[validate][tokenizer]") {
  Graph g = tiny_bpe("gpt-2");
  g.metadata.erase("tokenizer.ggml.merges");
  CHECK_THROWS_WITH(tokenize_text(g, "a"), Catch::Contains("tokenizer.ggml.merges"));
}

TEST_CASE("SentencePiece: user-defined tokens first, and the space prefix again after each",
          "[validate][tokenizer]") {
  Graph g;
  g.metadata.set("tokenizer.ggml.model", Value::string("llama"));
  //                                              0        1    2    3           4      5
  g.metadata.set("tokenizer.ggml.tokens",
                 strings({"<unk>", "a", "b", "\xe2\x96\x81", "  ", "<t>"}));
  Array scores(ValueType::F32), types(ValueType::I32);
  for (int i = 0; i < 6; ++i) scores.push_back(Value::f32(0));
  for (int t : {2, 1, 1, 1, 4, 4}) types.push_back(Value::i32(t));
  g.metadata.set("tokenizer.ggml.scores", Value::array(scores));
  g.metadata.set("tokenizer.ggml.token_type", Value::array(types));
  // The run of two spaces is found as it is; "a" and "b" after a token get "▁" first.
  CHECK(tokenize_text(g, "a  b<t>a") == std::vector<int32_t>{3, 1, 4, 3, 2, 5, 3, 1});
  g.metadata.set("tokenizer.ggml.add_space_prefix", Value::boolean(false));
  CHECK(tokenize_text(g, "a  b<t>a") == std::vector<int32_t>{1, 4, 2, 5, 1});
}
