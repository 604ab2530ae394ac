#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "converters/tokenizer/tokenizer.h"
#include "formats/gguf/reader.h"
#include "formats/io/error.h"
#include "formats/json/strict_json.h"
#include "tests/test_util.h"

using namespace owl;
namespace fs = std::filesystem;

namespace {

const std::string kFixtures = std::string(OWL_TEST_DATA) + "/tokenizers";

// Collects warnings instead of printing them.
struct Warnings {
  std::vector<std::string> seen;
  TokenizerWarn fn() {
    return [this](const std::string& m) { seen.push_back(m); };
  }
  bool any_containing(const std::string& part) const {
    for (const auto& w : seen)
      if (w.find(part) != std::string::npos) return true;
    return false;
  }
};

Json read_fixture_json(const std::string& path) {
  return read_json_file(path, 16u << 20);
}

uint64_t config_vocab_size(const std::string& folder) {
  return read_fixture_json(folder + "/config.json")["vocab_size"].get<uint64_t>();
}

Graph graph_for(const std::string& architecture) {
  Graph g;
  g.architecture = architecture;
  return g;
}

std::vector<std::string> tokenizer_keys(const Graph& g) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : g.metadata)
    if (k.starts_with("tokenizer.")) keys.push_back(k);
  return keys;
}

const Array& array_of(const Graph& g, const std::string& key) {
  const Value* v = g.metadata.find(key);
  REQUIRE(v != nullptr);
  REQUIRE(v->type() == ValueType::ARRAY);
  return v->as_array();
}

std::string string_of(const Graph& g, const std::string& key) {
  auto s = g.metadata.get_string(key);
  REQUIRE(s.has_value());
  return *s;
}

// The type name make_fixtures.py writes for a key read back with gguf-py.
std::string reference_type(const Value& v) {
  switch (v.type()) {
    case ValueType::STRING:
      return "string";
    case ValueType::BOOL:
      return "bool";
    case ValueType::U32:
      return "uint32";
    case ValueType::I32:
      return "int32";
    case ValueType::F32:
      return "float32";
    case ValueType::ARRAY: {
      const Array& a = v.as_array();
      const std::string elem = a.elem() == ValueType::STRING ? "string"
                               : a.elem() == ValueType::F32  ? "float32"
                               : a.elem() == ValueType::I32  ? "int32"
                                                             : "other";
      return "array[" + elem + "]";
    }
    default:
      return "other";
  }
}

bool same_scalar(const Value& v, const Json& expected) {
  switch (v.type()) {
    case ValueType::STRING:
      return expected.is_string() && v.as_string() == expected.get<std::string>();
    case ValueType::BOOL:
      return expected.is_boolean() && v.as_bool() == expected.get<bool>();
    case ValueType::U32:
      return expected.is_number_unsigned() && v.as_u64() == expected.get<uint64_t>();
    case ValueType::I32:
      return expected.is_number_integer() && v.as_i64() == expected.get<int64_t>();
    // gguf-py reads a float32 back as a double, which holds it exactly.
    case ValueType::F32:
      return expected.is_number() && v.as_f64() == expected.get<double>();
    default:
      return false;
  }
}

// Every tokenizer.* key convert_hf_to_gguf.py wrote for the fixture folder, in its order, with
// its type and value, and no other tokenizer.* key.
void check_against_reference(const Graph& g, const std::string& folder) {
  const Json reference = read_fixture_json(folder + "/reference_keys.json");
  std::vector<std::string> expected_keys;
  for (const Json& entry : reference) expected_keys.push_back(entry["key"].get<std::string>());
  CHECK(tokenizer_keys(g) == expected_keys);
  for (const Json& entry : reference) {
    const std::string key = entry["key"].get<std::string>();
    INFO("key " << key);
    const Value* v = g.metadata.find(key);
    REQUIRE(v != nullptr);
    CHECK(reference_type(*v) == entry["type"].get<std::string>());
    const Json& expected = entry["value"];
    if (v->type() != ValueType::ARRAY) {
      CHECK(same_scalar(*v, expected));
      continue;
    }
    const Array& a = v->as_array();
    REQUIRE(a.size() == expected.size());
    size_t mismatches = 0;
    for (size_t i = 0; i < a.size(); ++i)
      if (!same_scalar(a[i], expected[i])) {
        if (++mismatches <= 5)
          FAIL_CHECK("item " << i << " is " << a[i].to_display() << ", expected "
                             << expected[i].dump());
      }
    CHECK(mismatches == 0);
  }
}

std::string fixture_copy(const test::TempDir& dir, const std::string& fixture) {
  const fs::path to = dir.path() / fixture;
  fs::copy(fs::path(kFixtures) / fixture, to, fs::copy_options::recursive);
  fs::remove(to / "expected.json");
  fs::remove(to / "reference_keys.json");
  return to.string();
}

void write_json(const std::string& path, const Json& j) {
  test::write_bytes(path, j.dump(1));
}

// A llama2.c tokenizer file: max_token_length, then score, length and bytes per token.
std::string llama2c_tokenizer(const std::vector<std::pair<float, std::string>>& tokens,
                              int32_t max_len) {
  std::string out(reinterpret_cast<const char*>(&max_len), 4);
  for (const auto& [score, text] : tokens) {
    const int32_t len = static_cast<int32_t>(text.size());
    out.append(reinterpret_cast<const char*>(&score), 4);
    out.append(reinterpret_cast<const char*>(&len), 4);
    out += text;
  }
  return out;
}

// A byte-level BPE tokenizer.json with the given pre-tokenizer.
Json bpe_json(const Json& pre_tokenizer) {
  Json vocab = Json::object();
  int id = 0;
  for (const char* t : {"a", "b", "ab", "\xC4\xA0",
                        "\xC4\xA0"
                        "a"})
    vocab[t] = id++;
  return Json{
      {"version", "1.0"},
      {"added_tokens", Json::array()},
      {"normalizer", nullptr},
      {"pre_tokenizer", pre_tokenizer},
      {"post_processor", nullptr},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model",
       {{"type", "BPE"}, {"vocab", vocab}, {"merges", Json::array({"a b", "\xC4\xA0 a"})}}}};
}

Json split_then_bytes(const std::string& regex) {
  return {{"type", "Sequence"},
          {"pretokenizers",
           {{{"type", "Split"},
             {"pattern", {{"Regex", regex}}},
             {"behavior", "Isolated"},
             {"invert", false}},
            {{"type", "ByteLevel"},
             {"add_prefix_space", false},
             {"trim_offsets", true},
             {"use_regex", false}}}}};
}

std::string pre_of(const Json& tokenizer_json, Warnings& w) {
  test::TempDir dir;
  write_json(dir.file("tokenizer.json"), tokenizer_json);
  Graph g;
  attach_file(g, dir.file("tokenizer.json"), 0, w.fn());
  return string_of(g, "tokenizer.ggml.pre");
}

// The tokenizer.* keys owl writes for tests/data/hf/NAME are the reference GGUF's (made by
// convert_hf_to_gguf.py from the same folder): the same keys in the same order, with equal values.
void check_hf_fixture(const std::string& name, const std::string& architecture) {
  INFO(name);
  const std::string hf = std::string(OWL_TEST_DATA) + "/hf";
  const Graph reference = gguf::read(hf + "/reference/" + name + ".f16.gguf");
  const Value* tokens = reference.metadata.find("tokenizer.ggml.tokens");
  REQUIRE(tokens != nullptr);
  Graph g = graph_for(architecture);
  Warnings w;
  REQUIRE(attach_from_folder(g, hf + "/" + name, tokens->as_array().size(), w.fn()));
  std::vector<std::string> expected_keys;
  for (const auto& [k, v] : reference.metadata)
    if (k.starts_with("tokenizer.")) expected_keys.push_back(k);
  CHECK(tokenizer_keys(g) == expected_keys);
  for (const auto& key : expected_keys) {
    INFO(key);
    CHECK(*g.metadata.find(key) == *reference.metadata.find(key));
  }
}

}  // namespace

TEST_CASE("a SentencePiece folder gives the keys convert_hf_to_gguf.py writes", "[tokenizer]") {
  const std::string folder = kFixtures + "/spm";
  Graph g = graph_for("llama");
  Warnings w;
  REQUIRE(attach_from_folder(g, folder, config_vocab_size(folder), w.fn()));
  check_against_reference(g, folder);
}

TEST_CASE("SentencePiece pieces, scores and types are what sentencepiece reports", "[tokenizer]") {
  const std::string folder = kFixtures + "/spm";
  const Json expected = read_fixture_json(folder + "/expected.json");
  Graph g;
  attach_file(g, folder + "/tokenizer.model", 0);
  const Array& tokens = array_of(g, "tokenizer.ggml.tokens");
  const Array& scores = array_of(g, "tokenizer.ggml.scores");
  const Array& types = array_of(g, "tokenizer.ggml.token_type");
  REQUIRE(tokens.size() == expected["piece_count"].get<size_t>());
  REQUIRE(scores.elem() == ValueType::F32);
  REQUIRE(types.elem() == ValueType::I32);
  // sentencepiece's kinds as llama.cpp numbers them; user-defined pieces are written NORMAL.
  const std::map<std::string, int64_t> type_of = {
      {"normal", 1}, {"unknown", 2}, {"control", 3}, {"unused", 5}, {"byte", 6}};
  for (size_t i = 0; i < tokens.size(); ++i) {
    const Json& piece = expected["pieces"][i];
    INFO("piece " << i);
    CHECK(tokens.string_at(i) == piece[0].get<std::string>());
    CHECK(scores[i].as_f64() == piece[1].get<double>());
    CHECK(types[i].as_i64() == type_of.at(piece[2].get<std::string>()));
  }
  CHECK(string_of(g, "tokenizer.ggml.model") == "llama");
  CHECK(string_of(g, "tokenizer.ggml.pre") == "default");
  CHECK(g.metadata.find("tokenizer.ggml.bos_token_id") == nullptr);  // only the folder says
}

TEST_CASE("a Qwen2 byte-level BPE folder gives the keys convert_hf_to_gguf.py writes",
          "[tokenizer]") {
  const std::string folder = kFixtures + "/qwen2_bpe";
  Graph g = graph_for("qwen2");
  Warnings w;
  REQUIRE(attach_from_folder(g, folder, config_vocab_size(folder), w.fn()));
  check_against_reference(g, folder);
  CHECK(w.seen.empty());
}

TEST_CASE("a Llama-3 BPE folder: string merges, TemplateProcessing, named chat templates",
          "[tokenizer]") {
  const std::string folder = kFixtures + "/llama3_bpe";
  Graph g = graph_for("llama");
  Warnings w;
  REQUIRE(attach_from_folder(g, folder, config_vocab_size(folder), w.fn()));
  check_against_reference(g, folder);
}

TEST_CASE("BPE tokens by id are what the tokenizers package reports", "[tokenizer]") {
  for (const std::string name : {"qwen2_bpe", "llama3_bpe"}) {
    INFO(name);
    const std::string folder = kFixtures + "/" + name;
    const Json expected = read_fixture_json(folder + "/expected.json");
    Graph g;
    attach_file(g, folder + "/tokenizer.json", 0);
    const Array& tokens = array_of(g, "tokenizer.ggml.tokens");
    const Array& types = array_of(g, "tokenizer.ggml.token_type");
    REQUIRE(tokens.size() == expected["token_count"].get<size_t>());
    for (size_t i = 0; i < tokens.size(); ++i) {
      REQUIRE(expected["ids"][i].get<size_t>() == i);
      CHECK(tokens.string_at(i) == expected["tokens"][i].get<std::string>());
    }
    for (const Json& added : expected["added"]) {
      const size_t id = added["id"].get<size_t>();
      CHECK(types[id].as_i64() == (added["special"].get<bool>() ? 3 : 4));
    }
    CHECK(string_of(g, "tokenizer.ggml.model") == "gpt2");
  }
}

TEST_CASE("the tokenizers of the hf fixtures match the reference GGUFs", "[tokenizer]") {
  check_hf_fixture("tiny-llama", "llama");
  check_hf_fixture("tiny-qwen2", "qwen2");
}

TEST_CASE("Gemma: eot 107 and add_space_prefix false after the special tokens", "[tokenizer]") {
  check_hf_fixture("tiny-gemma", "gemma");
}

TEST_CASE("Gemma 2: add_space_prefix false after the special tokens", "[tokenizer]") {
  check_hf_fixture("tiny-gemma2", "gemma2");
}

TEST_CASE("Gemma 3: add_space_prefix false after the special tokens", "[tokenizer]") {
  check_hf_fixture("tiny-gemma3", "gemma3_text");
}

TEST_CASE("Phi-3: added tokens are control only when marked special", "[tokenizer]") {
  check_hf_fixture("tiny-phi3", "phi3");
}

TEST_CASE("a llama2.c tokenizer gives the keys llama.cpp's llama2.c converter writes",
          "[tokenizer]") {
  Graph g;
  g.metadata.set("general.architecture", Value::string("llama"));
  g.metadata.set("tokenizer.ggml.merges", Value::string("stale"));
  attach_file(g, std::string(OWL_TEST_DATA) + "/stories260K/tok512.bin", 512);
  CHECK(string_of(g, "tokenizer.ggml.model") == "llama");
  CHECK(g.metadata.find("tokenizer.ggml.pre") == nullptr);
  CHECK(g.metadata.find("tokenizer.ggml.merges") == nullptr);  // stale keys are replaced
  CHECK(g.metadata.entries()[0].first == "general.architecture");
  const Array& tokens = array_of(g, "tokenizer.ggml.tokens");
  const Array& scores = array_of(g, "tokenizer.ggml.scores");
  const Array& types = array_of(g, "tokenizer.ggml.token_type");
  REQUIRE(tokens.size() == 512);
  CHECK(tokens.string_at(0) == "<unk>");
  CHECK(tokens.string_at(1) == "<s>");
  CHECK(tokens.string_at(2) == "</s>");
  CHECK(types[0].as_i64() == 2);
  CHECK(types[1].as_i64() == 3);
  CHECK(types[2].as_i64() == 3);
  CHECK(tokens.string_at(3) == "<0x00>");
  CHECK(types[3].as_i64() == 6);
  CHECK(tokens.string_at(258) == "<0xFF>");
  CHECK(types[258].as_i64() == 6);
  CHECK(tokens.string_at(259) == "\xE2\x96\x81t");  // " t" in the file
  CHECK(types[259].as_i64() == 1);
  CHECK(tokens.string_at(260) == "he");
  CHECK(scores[260].as_f64() == -1.0);
  CHECK(tokens.string_at(511) == "\xE2\x80\x8A");  // U+200A, kept as it is
  CHECK(scores[511].as_f64() == -252.0);
  CHECK(g.metadata.get_int("tokenizer.ggml.unknown_token_id") == 0);
  CHECK(g.metadata.get_int("tokenizer.ggml.bos_token_id") == 1);
  CHECK(g.metadata.get_int("tokenizer.ggml.eos_token_id") == 2);
  CHECK(g.metadata.find("tokenizer.ggml.bos_token_id")->type() == ValueType::U32);
}

TEST_CASE("llama2.c tokens: empty pieces are control, only exact <0xNN> is a byte", "[tokenizer]") {
  test::TempDir dir;
  test::write_bytes(dir.file("tok.bin"), llama2c_tokenizer({{0, "<unk>"},
                                                            {0, "\n<s>\n"},
                                                            {0, "\n</s>\n"},
                                                            {0, ""},
                                                            {0, "<0x4"},
                                                            {0, "<0x4A>"},
                                                            {-3.5f, "a b"}},
                                                           6));
  Graph g;
  attach_file(g, dir.file("tok.bin"), 9);
  const Array& tokens = array_of(g, "tokenizer.ggml.tokens");
  const Array& types = array_of(g, "tokenizer.ggml.token_type");
  const Array& scores = array_of(g, "tokenizer.ggml.scores");
  REQUIRE(tokens.size() == 9);
  CHECK(types[3].as_i64() == 3);
  CHECK(types[4].as_i64() == 1);
  CHECK(types[5].as_i64() == 6);
  CHECK(tokens.string_at(6) ==
        "a\xE2\x96\x81"
        "b");
  CHECK(scores[6].as_f64() == -3.5);
  CHECK(tokens.string_at(7) == "[PAD7]");
  CHECK(types[8].as_i64() == 5);
}

TEST_CASE("token lists are padded to the embedding rows and never longer", "[tokenizer]") {
  const std::string folder = kFixtures + "/qwen2_bpe";
  Graph g;
  attach_from_folder(g, folder, 330);
  const Array& tokens = array_of(g, "tokenizer.ggml.tokens");
  REQUIRE(tokens.size() == 330);
  CHECK(tokens.string_at(329) == "[PAD329]");
  CHECK(array_of(g, "tokenizer.ggml.token_type")[329].as_i64() == 5);

  Graph before;
  before.metadata.set("tokenizer.ggml.model", Value::string("kept"));
  try {
    attach_from_folder(before, folder, 100);
    FAIL("no error");
  } catch (const InputError& e) {
    const std::string what = e.what();
    CHECK(what.find("tokenizer.json") != std::string::npos);
    CHECK(what.find("320") != std::string::npos);  // the highest id
    CHECK(what.find("100") != std::string::npos);
  }
  CHECK(before.metadata.get_string("tokenizer.ggml.model") == "kept");

  CHECK_THROWS_WITH(attach_file(g, kFixtures + "/spm/tokenizer.model", 10),
                    Catch::Contains("360 pieces") && Catch::Contains("10 rows"));
  CHECK_THROWS_WITH(attach_file(g, std::string(OWL_TEST_DATA) + "/stories260K/tok512.bin", 256),
                    Catch::Contains("512 tokens") && Catch::Contains("256 rows"));
}

TEST_CASE("a folder without a tokenizer attaches nothing", "[tokenizer]") {
  test::TempDir dir;
  write_json(dir.file("tokenizer_config.json"), {{"bos_token", "<s>"}});
  Graph g;
  CHECK_FALSE(attach_from_folder(g, dir.path().string(), 10));
  CHECK(g.metadata.empty());
}

TEST_CASE("pre-tokenizers are recognised by their splits", "[tokenizer]") {
  const std::string llama3 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  const std::string qwen2 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  Warnings w;
  CHECK(pre_of(bpe_json({{"type", "ByteLevel"},
                         {"add_prefix_space", false},
                         {"trim_offsets", true},
                         {"use_regex", true}}),
               w) == "gpt-2");
  CHECK(pre_of(bpe_json(split_then_bytes(llama3)), w) == "llama-bpe");
  CHECK(pre_of(bpe_json(split_then_bytes(qwen2)), w) == "qwen2");
  Json nfc = bpe_json(split_then_bytes(qwen2));
  nfc["normalizer"] = {{"type", "NFC"}};
  CHECK(pre_of(nfc, w) == "qwen2");
  CHECK(w.seen.empty());

  CHECK(pre_of(bpe_json(split_then_bytes(R"(\p{N}{1,5}|\s+)")), w) == "default");
  REQUIRE(w.seen.size() == 1);
  CHECK(w.any_containing("not one owl recognises"));
  CHECK(w.any_containing(R"(\p{N}{1,5})"));
  CHECK(pre_of(bpe_json({{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}}),
               w) == "default");
  Json lower = bpe_json(split_then_bytes(llama3));
  lower["normalizer"] = {{"type", "Lowercase"}};
  CHECK(pre_of(lower, w) == "default");
  CHECK(w.seen.size() == 3);
}

TEST_CASE("merges in the [a, b] form with spaces are written as byte-level text", "[tokenizer]") {
  test::TempDir dir;
  Json t = bpe_json({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}});
  t["model"]["merges"] = Json::array({Json::array({"a", "b"}), Json::array({" a", "b c"})});
  write_json(dir.file("tokenizer.json"), t);
  Graph g;
  attach_file(g, dir.file("tokenizer.json"), 0);
  const Array& merges = array_of(g, "tokenizer.ggml.merges");
  REQUIRE(merges.size() == 2);
  CHECK(merges.string_at(0) == "a b");
  CHECK(merges.string_at(1) ==
        "\xC4\xA0"
        "a b\xC4\xA0"
        "c");

  t["model"]["merges"] = Json::array({"a b", Json::array({"a", "b"})});
  write_json(dir.file("tokenizer.json"), t);
  CHECK_THROWS_WITH(attach_file(g, dir.file("tokenizer.json"), 0), Catch::Contains("merge 1"));
  t["model"]["merges"] = Json::array({Json::array({"a", "b", "c"})});
  write_json(dir.file("tokenizer.json"), t);
  CHECK_THROWS_WITH(attach_file(g, dir.file("tokenizer.json"), 0), Catch::Contains("merge 0"));
}

TEST_CASE("added tokens: special ones are control, others user-defined with spaces",
          "[tokenizer]") {
  test::TempDir dir;
  Json t = bpe_json({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}});
  t["added_tokens"] = Json::array({{{"id", 5}, {"content", "<special>"}, {"special", true}},
                                   {{"id", 6}, {"content", "<|looks|>"}, {"special", false}},
                                   {{"id", 7}, {"content", "\xE2\x96\x81word"}, {"special", false}},
                                   {{"id", 9}, {"content", "ab"}, {"special", false}}});
  write_json(dir.file("tokenizer.json"), t);
  Graph g;
  attach_file(g, dir.file("tokenizer.json"), 0);
  const Array& tokens = array_of(g, "tokenizer.ggml.tokens");
  const Array& types = array_of(g, "tokenizer.ggml.token_type");
  REQUIRE(tokens.size() == 10);
  CHECK(types[5].as_i64() == 3);
  CHECK(types[6].as_i64() == 3);
  CHECK(tokens.string_at(7) == " word");
  CHECK(types[7].as_i64() == 4);
  // "ab" moved from id 2 to the added id 9, as transformers lists it: id 2 is left empty.
  CHECK(tokens.string_at(2) == "[PAD2]");
  CHECK(types[2].as_i64() == 5);
  CHECK(tokens.string_at(8) == "[PAD8]");
  CHECK(tokens.string_at(9) == "ab");
}

TEST_CASE("post-processor templates decide add_bos, add_eos and add_sep", "[tokenizer]") {
  test::TempDir dir;
  Json t = bpe_json({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}});
  t["added_tokens"] = Json::array({{{"id", 5}, {"content", "<s>"}, {"special", true}},
                                   {{"id", 6}, {"content", "</s>"}, {"special", true}},
                                   {{"id", 7}, {"content", "<|eot|>"}, {"special", true}}});
  auto special = [](const char* id) {
    return Json{{"SpecialToken", {{"id", id}, {"type_id", 0}}}};
  };
  auto seq = [](const char* id) { return Json{{"Sequence", {{"id", id}, {"type_id", 0}}}}; };
  t["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", {special("<s>"), seq("A"), special("</s>")}},
      {"pair", {special("<s>"), seq("A"), special("</s>"), seq("B"), special("</s>")}}};
  write_json(dir.file("tokenizer.json"), t);
  // The config's EOS is <|eot|>; the template ends with </s>, which becomes the EOS while
  // <|eot|> is kept as the end-of-turn token.
  write_json(dir.file("tokenizer_config.json"),
             {{"bos_token", "<s>"}, {"eos_token", "<|eot|>"}, {"add_eos_token", false}});
  Graph g;
  Warnings w;
  REQUIRE(attach_from_folder(g, dir.path().string(), 0, w.fn()));
  CHECK(g.metadata.get_int("tokenizer.ggml.bos_token_id") == 5);
  CHECK(g.metadata.get_int("tokenizer.ggml.eos_token_id") == 6);
  CHECK(g.metadata.get_int("tokenizer.ggml.eot_token_id") == 7);
  CHECK(g.metadata.find("tokenizer.ggml.add_bos_token")->as_bool());
  CHECK(g.metadata.find("tokenizer.ggml.add_eos_token")->as_bool());  // the template wins
  CHECK_FALSE(g.metadata.find("tokenizer.ggml.add_sep_token")->as_bool());
  CHECK(w.any_containing("add_eos_token"));

  t["post_processor"] = {{"type", "RobertaProcessing"}, {"sep", {"</s>", 6}}, {"cls", {"<s>", 5}}};
  write_json(dir.file("tokenizer.json"), t);
  write_json(dir.file("tokenizer_config.json"), {{"bos_token", "<s>"}, {"eos_token", "</s>"}});
  Graph r;
  REQUIRE(attach_from_folder(r, dir.path().string(), 0, w.fn()));
  CHECK(r.metadata.get_int("tokenizer.ggml.seperator_token_id") == 6);
  CHECK(r.metadata.find("tokenizer.ggml.add_sep_token")->as_bool());
  CHECK(r.metadata.find("tokenizer.ggml.add_bos_token")->as_bool());
}

TEST_CASE("chat templates: jinja files, named lists, names made key-safe", "[tokenizer]") {
  test::TempDir dir;
  const std::string folder = fixture_copy(dir, "qwen2_bpe");
  Json config = read_fixture_json(folder + "/tokenizer_config.json");
  config.erase("chat_template");
  write_json(folder + "/tokenizer_config.json", config);
  test::write_bytes(folder + "/chat_template.jinja", "{{ messages }}\r\nend");
  fs::create_directory(folder + "/additional_chat_templates");
  test::write_bytes(folder + "/additional_chat_templates/rag.jinja", "rag");
  test::write_bytes(folder + "/additional_chat_templates/tool-use.jinja", "tools");
  Graph g;
  REQUIRE(attach_from_folder(g, folder, 0));
  CHECK(string_of(g, "tokenizer.chat_template") == "{{ messages }}\nend");
  CHECK(string_of(g, "tokenizer.chat_template.rag") == "rag");
  CHECK(string_of(g, "tokenizer.chat_template.tool_use") == "tools");
  const Array& names = array_of(g, "tokenizer.chat_templates");
  REQUIRE(names.size() == 2);
  CHECK(names.string_at(0) == "rag");

  config["chat_template"] = Json::array({{{"name", "caf\xC3\xA9 mode"}, {"template", "x"}},
                                         {{"name", "default"}, {"template", nullptr}}});
  write_json(folder + "/tokenizer_config.json", config);
  Graph named;
  REQUIRE(attach_from_folder(named, folder, 0));
  CHECK(string_of(named, "tokenizer.chat_template.caf__mode") == "x");
  CHECK(named.metadata.find("tokenizer.chat_template") == nullptr);

  config["chat_template"] = Json::array({{{"name", "a"}, {"template", 3}}});
  write_json(folder + "/tokenizer_config.json", config);
  CHECK_THROWS_WITH(attach_from_folder(named, folder, 0),
                    Catch::Contains("tokenizer_config.json") && Catch::Contains("not a string"));
}

TEST_CASE("SentencePiece added tokens and llama-only keys", "[tokenizer]") {
  test::TempDir dir;
  const std::string folder = fixture_copy(dir, "spm");
  Graph qwen = graph_for("qwen2");
  REQUIRE(attach_from_folder(qwen, folder, 364));
  CHECK(qwen.metadata.find("tokenizer.ggml.add_space_prefix") == nullptr);  // LlamaModel's key only

  write_json(folder + "/added_tokens.json", {{"<x>", 363}, {"<far>", 999}});
  Graph g = graph_for("llama");
  Warnings w;
  REQUIRE(attach_from_folder(g, folder, 364, w.fn()));
  CHECK(array_of(g, "tokenizer.ggml.tokens").string_at(363) == "<x>");
  CHECK(array_of(g, "tokenizer.ggml.token_type")[363].as_i64() == 4);
  CHECK(array_of(g, "tokenizer.ggml.scores")[363].as_f64() == -1000.0);
  CHECK(w.any_containing("999"));

  write_json(folder + "/added_tokens.json", {{"<x>", "363"}});
  CHECK_THROWS_WITH(attach_from_folder(g, folder, 364),
                    Catch::Contains("added_tokens.json") && Catch::Contains("<x>"));
  write_json(folder + "/added_tokens.json", {{"<x>", -1}});
  CHECK_THROWS_WITH(attach_from_folder(g, folder, 364), Catch::Contains("added_tokens.json"));
  fs::remove(folder + "/added_tokens.json");

  Json config = read_fixture_json(folder + "/tokenizer_config.json");
  config["added_tokens_decoder"]["x1"] = {{"content", "<y>"}};
  write_json(folder + "/tokenizer_config.json", config);
  CHECK_THROWS_WITH(attach_from_folder(g, folder, 364), Catch::Contains("'x1' is not a token id"));
}

TEST_CASE("CodeLlama's infill tokens and Granite's add_bos, as LlamaModel writes them",
          "[tokenizer]") {
  test::TempDir dir;
  const std::string folder = fixture_copy(dir, "spm");
  Graph g = graph_for("llama");
  REQUIRE(attach_from_folder(g, folder, 32016));
  CHECK(g.metadata.get_int("tokenizer.ggml.eot_token_id") == 32010);
  CHECK(g.metadata.find("tokenizer.ggml.prefix_token_id") == nullptr);  // gguf-py has no key for it
  Graph granite = graph_for("llama");
  REQUIRE(attach_from_folder(granite, folder, 49152));
  CHECK_FALSE(granite.metadata.find("tokenizer.ggml.add_bos_token")->as_bool());
}

TEST_CASE("Gemma's second SpecialVocab: eot from the folder or 107, then add_space_prefix",
          "[tokenizer]") {
  test::TempDir dir;
  const std::string folder = fixture_copy(dir, "spm");
  Graph g = graph_for("gemma");
  REQUIRE(attach_from_folder(g, folder, 364));
  // tokenizer_config.json's add_prefix_space is LlamaModel's; GemmaModel writes false last.
  const std::vector<std::string> expected = {
      "tokenizer.ggml.model",         "tokenizer.ggml.pre",
      "tokenizer.ggml.tokens",        "tokenizer.ggml.scores",
      "tokenizer.ggml.token_type",    "tokenizer.ggml.bos_token_id",
      "tokenizer.ggml.eos_token_id",  "tokenizer.ggml.add_bos_token",
      "tokenizer.ggml.add_eos_token", "tokenizer.chat_template",
      "tokenizer.ggml.eot_token_id",  "tokenizer.ggml.add_space_prefix"};
  CHECK(tokenizer_keys(g) == expected);
  CHECK(g.metadata.get_int("tokenizer.ggml.eot_token_id") == 107);
  CHECK_FALSE(g.metadata.find("tokenizer.ggml.add_space_prefix")->as_bool());

  Json config = read_fixture_json(folder + "/config.json");
  config["eot_token_id"] = 5;
  write_json(folder + "/config.json", config);
  Graph from_config = graph_for("gemma");
  REQUIRE(attach_from_folder(from_config, folder, 364));
  CHECK(from_config.metadata.get_int("tokenizer.ggml.eot_token_id") == 5);

  Graph gemma2 = graph_for("gemma2");
  REQUIRE(attach_from_folder(gemma2, folder, 364));
  CHECK(gemma2.metadata.find("tokenizer.ggml.eot_token_id") == nullptr);
  CHECK(tokenizer_keys(gemma2).back() == "tokenizer.ggml.add_space_prefix");
}

TEST_CASE("Phi-3's added tokens: special flag only, text as written, tokenizer.json's too",
          "[tokenizer]") {
  test::TempDir dir;
  const std::string folder = fixture_copy(dir, "spm");
  Json config = read_fixture_json(folder + "/tokenizer_config.json");
  config["added_tokens_decoder"]["363"] = {{"content", "<|user|>"}, {"special", false}};
  write_json(folder + "/tokenizer_config.json", config);
  write_json(
      folder + "/tokenizer.json",
      {{"added_tokens", Json::array({{{"id", 362}, {"content", "<tj>"}, {"special", true}}})}});

  Graph phi3 = graph_for("phi3");
  Warnings w;
  REQUIRE(attach_from_folder(phi3, folder, 364, w.fn()));
  CHECK(w.any_containing("replacing token 362 '<only_here>' with '<tj>'"));
  const Array& tokens = array_of(phi3, "tokenizer.ggml.tokens");
  const Array& types = array_of(phi3, "tokenizer.ggml.token_type");
  CHECK(types[360].as_i64() == 3);  // marked special
  CHECK(tokens.string_at(361) ==
        "\xE2\x96\x81"
        "extra");
  CHECK(types[361].as_i64() == 4);
  CHECK(types[363].as_i64() == 4);
  CHECK(tokens.string_at(362) == "<tj>");
  CHECK(types[362].as_i64() == 3);
  CHECK(array_of(phi3, "tokenizer.ggml.scores")[362].as_f64() == -1000.0);
  CHECK(phi3.metadata.find("tokenizer.ggml.add_space_prefix") == nullptr);

  // The generic rules, for the same folder.
  Graph llama = graph_for("llama");
  REQUIRE(attach_from_folder(llama, folder, 364));
  CHECK(array_of(llama, "tokenizer.ggml.tokens").string_at(361) == " extra");
  CHECK(array_of(llama, "tokenizer.ggml.token_type")[363].as_i64() == 3);
  CHECK(array_of(llama, "tokenizer.ggml.tokens").string_at(362) == "<only_here>");

  write_json(folder + "/tokenizer.json", {{"added_tokens", Json::array({{{"id", "362"}}})}});
  CHECK_THROWS_WITH(attach_from_folder(phi3, folder, 364),
                    Catch::Contains("tokenizer.json") && Catch::Contains("added_tokens entry 0"));
}

TEST_CASE("malformed tokenizer files give one-line errors naming the file", "[tokenizer]") {
  test::TempDir dir;
  Graph g;
  const std::string model = test::read_bytes(kFixtures + "/spm/tokenizer.model");

  SECTION("a truncated SentencePiece model") {
    const std::string folder = fixture_copy(dir, "spm");
    test::write_bytes(folder + "/tokenizer.model", model.substr(0, model.size() / 2));
    CHECK_THROWS_WITH(attach_from_folder(g, folder, 0),
                      Catch::Contains("tokenizer.model") && Catch::Contains("protobuf"));
    test::write_bytes(dir.file("half.model"), model.substr(0, model.size() / 2));
    CHECK_THROWS_WITH(attach_file(g, dir.file("half.model"), 0),
                      Catch::Contains("half.model") && Catch::Contains("not a tokenizer"));
  }
  SECTION("bytes that are no tokenizer at all") {
    test::write_bytes(dir.file("junk.bin"), std::string(100, '\0'));
    CHECK_THROWS_WITH(attach_file(g, dir.file("junk.bin"), 0), Catch::Contains("junk.bin"));
    test::write_bytes(dir.file("empty.bin"), "");
    CHECK_THROWS_AS(attach_file(g, dir.file("empty.bin"), 0), InputError);
  }
  SECTION("a truncated llama2.c tokenizer") {
    const std::string tok =
        test::read_bytes(std::string(OWL_TEST_DATA) + "/stories260K/tok512.bin");
    test::write_bytes(dir.file("tok.bin"), tok.substr(0, tok.size() - 3));
    CHECK_THROWS_WITH(attach_file(g, dir.file("tok.bin"), 512), Catch::Contains("tok.bin"));
  }
  SECTION("invalid JSON") {
    const std::string folder = fixture_copy(dir, "qwen2_bpe");
    test::write_bytes(folder + "/tokenizer.json", "{\"model\": {\"type\": \"BPE\",");
    CHECK_THROWS_WITH(attach_from_folder(g, folder, 0),
                      Catch::Contains("tokenizer.json") && Catch::Contains("invalid JSON"));
    test::write_bytes(folder + "/tokenizer.json", "{\"a\": 1, \"a\": 2}");
    CHECK_THROWS_WITH(attach_from_folder(g, folder, 0), Catch::Contains("twice"));
    fs::copy_file(kFixtures + "/qwen2_bpe/tokenizer.json", folder + "/tokenizer.json",
                  fs::copy_options::overwrite_existing);
    test::write_bytes(folder + "/tokenizer_config.json", "[1, 2]");
    CHECK_THROWS_WITH(attach_from_folder(g, folder, 0), Catch::Contains("tokenizer_config.json") &&
                                                            Catch::Contains("not a JSON object"));
  }
  SECTION("tokenizer.json that is not a byte-level BPE") {
    Json t = bpe_json(nullptr);
    t["model"]["type"] = "Unigram";
    write_json(dir.file("tokenizer.json"), t);
    CHECK_THROWS_WITH(attach_file(g, dir.file("tokenizer.json"), 0),
                      Catch::Contains("'Unigram' is not supported"));
    t = bpe_json(nullptr);
    t["model"]["byte_fallback"] = true;
    write_json(dir.file("tokenizer.json"), t);
    CHECK_THROWS_WITH(attach_file(g, dir.file("tokenizer.json"), 0),
                      Catch::Contains("byte_fallback"));
    t = bpe_json(nullptr);
    t["model"]["vocab"]["c"] = -4;
    write_json(dir.file("tokenizer.json"), t);
    CHECK_THROWS_WITH(attach_file(g, dir.file("tokenizer.json"), 0),
                      Catch::Contains("'c'") && Catch::Contains("-4"));
    t = bpe_json(nullptr);
    t["model"]["vocab"]["c"] = 0;
    write_json(dir.file("tokenizer.json"), t);
    CHECK_THROWS_WITH(attach_file(g, dir.file("tokenizer.json"), 0), Catch::Contains("both"));
    t = bpe_json(nullptr);
    t["model"]["vocab"]["c"] = 1u << 30;
    write_json(dir.file("tokenizer.json"), t);
    CHECK_THROWS_WITH(attach_file(g, dir.file("tokenizer.json"), 0), Catch::Contains("limit"));
  }
  SECTION("special token ids") {
    const std::string folder = fixture_copy(dir, "qwen2_bpe");
    Json config = read_fixture_json(folder + "/config.json");
    config["bos_token_id"] = -1;
    write_json(folder + "/config.json", config);
    CHECK_THROWS_WITH(attach_from_folder(g, folder, 0),
                      Catch::Contains("config.json") && Catch::Contains("negative"));
    config["bos_token_id"] = 5000;
    write_json(folder + "/config.json", config);
    Warnings w;
    Graph ok;
    REQUIRE(attach_from_folder(ok, folder, 0, w.fn()));
    CHECK(w.any_containing("5000"));
  }
  CHECK(g.metadata.empty());
}
