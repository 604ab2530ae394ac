// README.md front matter read with yaml-cpp: the YAML real model cards use, the limits that keep
// a hostile card cheap, and a card that never stops a conversion.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>

#include "converters/arch/general_keys.h"
#include "converters/arch/model_card.h"
#include "converters/arch/yaml_tree.h"
#include "formats/io/error.h"
#include "formats/json/strict_json.h"
#include "tests/test_util.h"

namespace owl {
namespace {

using arch::CardValue;

arch::FrontMatter parse(const std::string& yaml) {
  return arch::parse_front_matter("---\n" + yaml + "---\n# Model\n", "m/README.md");
}

std::string scalar(const arch::FrontMatter& fm, const char* key) {
  const CardValue* v = fm.find(key);
  REQUIRE(v);
  REQUIRE(v->kind == CardValue::Kind::scalar);
  return v->scalar;
}

std::vector<std::string> items(const arch::FrontMatter& fm, const char* key) {
  const CardValue* v = fm.find(key);
  REQUIRE(v);
  REQUIRE(v->kind == CardValue::Kind::list);
  std::vector<std::string> out;
  for (const auto& item : v->items) out.push_back(item.scalar.value_or("<none>"));
  return out;
}

// The message a card that owl refuses gives, naming the file.
std::string refusal(const std::string& readme) {
  try {
    arch::parse_front_matter(readme, "m/README.md");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST_CASE("Model card: continuation lines, multi-line quotes and block scalars", "[model_card]") {
  // Shaped like the front matter of Google's Gemma and Meta's Llama cards.
  const auto fm = parse(
      "license: gemma\n"
      "description: a long line that\n"
      "  continues here\n"
      "extra_gated_heading: \"Access Gemma on\n"
      "  Hugging Face\"\n"
      "extra_gated_prompt: >-\n"
      "  To access Gemma, you must\n"
      "  agree.\n"
      "license_link: |\n"
      "  https://ai.google.dev/gemma/terms\n"
      "quoted: \"tab\\tand \\u00e9\"\n"
      "single: 'it''s'\n");
  CHECK(scalar(fm, "description") == "a long line that continues here");
  CHECK(scalar(fm, "extra_gated_heading") == "Access Gemma on Hugging Face");
  CHECK(scalar(fm, "extra_gated_prompt") == "To access Gemma, you must agree.");
  CHECK(scalar(fm, "license_link") == "https://ai.google.dev/gemma/terms\n");
  CHECK(scalar(fm, "quoted") == "tab\tand \xc3\xa9");
  CHECK(scalar(fm, "single") == "it's");
}

TEST_CASE("Model card: lists in block and flow style, lists of mappings", "[model_card]") {
  const auto fm = parse(
      "language:\n"
      "- en\n"
      "- de\n"
      "- no\n"  // Norway's code stays text, as gguf-py quotes it before YAML 1.1 sees it
      "tags: [facebook, meta, \"llama-3\",\n"
      "  pytorch]\n"
      "base_model:\n"
      "  - name: Llama 3.1\n"
      "    organization: Meta\n"
      "    extra: {nested: true}\n"
      "  - meta-llama/Llama-3.1-8B\n"
      "  - [not, an, entry]\n"
      "  -\n"
      "widget:\n"
      "  - text: hi\n"
      "model-index:\n"
      "  - name: x\n"
      "    results:\n"
      "      - task: {type: y}\n");
  CHECK(items(fm, "language") == std::vector<std::string>{"en", "de", "no"});
  CHECK(items(fm, "tags") == std::vector<std::string>{"facebook", "meta", "llama-3", "pytorch"});
  const CardValue* base = fm.find("base_model");
  REQUIRE(base->items.size() == 4);
  CHECK(base->items[0].mapping == std::vector<std::pair<std::string, std::string>>{
                                      {"name", "Llama 3.1"}, {"organization", "Meta"}});
  CHECK(*base->items[1].scalar == "meta-llama/Llama-3.1-8B");
  CHECK_FALSE(base->items[2].scalar);
  CHECK_FALSE(base->items[3].scalar);
  CHECK(fm.find("model-index")->kind == CardValue::Kind::list);
}

TEST_CASE("Model card: what PyYAML's safe_load does with nulls, duplicates, tabs, merges",
          "[model_card]") {
  const auto fm = parse(
      "a: ~\n"
      "b: null\n"
      "c:\n"
      "d: \"null\"\n"
      "license: mit\n"
      "license: apache-2.0\n"
      "tags:\n"
      "\t- tabbed\n"
      "defaults: &d\n"
      "  author: Someone\n"
      "  version: v1\n"
      "<<: *d\n"
      "version: v2\n"
      "copy: *d\n"
      "alias_scalar: &s text\n"
      "again: *s\n");
  for (const char* k : {"a", "b", "c"}) CHECK(fm.find(k)->kind == CardValue::Kind::null);
  CHECK(scalar(fm, "d") == "null");
  CHECK(scalar(fm, "license") == "apache-2.0");  // the last of a repeated key
  CHECK(items(fm, "tags") == std::vector<std::string>{"tabbed"});
  CHECK(scalar(fm, "author") == "Someone");  // merged in
  CHECK(scalar(fm, "version") == "v2");      // the mapping's own key wins over the merged one
  CHECK(fm.find("copy")->kind == CardValue::Kind::other);
  CHECK(scalar(fm, "again") == "text");
}

TEST_CASE("Model card: front matter bounds and placement", "[model_card]") {
  CHECK(arch::parse_front_matter("# no front matter\n---\n", "README.md").size() == 0);
  CHECK(arch::parse_front_matter("", "README.md").size() == 0);
  CHECK(arch::parse_front_matter("---\n---\n", "README.md").size() == 0);
  CHECK(arch::parse_front_matter("---\n# only a comment\n---\n", "README.md").size() == 0);
  // Never closed: the rest is YAML, as gguf-py reads it.
  CHECK(scalar(arch::parse_front_matter("---\nlicense: mit\n", "R"), "license") == "mit");
  // Line breaks as Python's splitlines() sees them.
  CHECK(scalar(arch::parse_front_matter("---\r\nlicense: mit\r\n---\r\n", "R"), "license") ==
        "mit");
  CHECK(scalar(arch::parse_front_matter("---\rlicense: mit\r---\r", "R"), "license") == "mit");
  CHECK(scalar(arch::parse_front_matter("---\nlicense: mit\xe2\x80\xa8name: n\n", "R"), "name") ==
        "n");
}

TEST_CASE("Model card: what is refused names the file and, where known, the line", "[model_card]") {
  // yaml-cpp alone would end the string at the end of the front matter.
  CHECK_THAT(refusal("---\nlicense: mit\nname: \"open\n---\n"),
             Catch::StartsWith("m/README.md: front matter ends inside a quoted string"));
  CHECK_THAT(refusal("---\nname: 'open\n  more\n"), Catch::Contains("ends inside"));
  CHECK_THAT(refusal("---\na: [x,\n  y: {z\n---\n"), Catch::Contains("ends inside"));
  CHECK_THAT(refusal("---\nlicense: mit\ntags: [a, b\n---\n"), Catch::Contains("m/README.md"));
  CHECK_THAT(refusal("---\njust text\n---\n"), Catch::Contains("not a mapping"));
  CHECK_THAT(refusal("---\n- a\n---\n"), Catch::Contains("not a mapping"));
  CHECK_THAT(refusal("---\nname: 'a' trailing\n---\n"), Catch::Contains("line 2"));
  CHECK_THAT(refusal("---\na: 1\n--- \nb: 2\n---\n"), Catch::Contains("document"));
  CHECK_THAT(refusal("---\nname: bell\x07\n---\n"), Catch::Contains("U+0007"));
  CHECK_THAT(refusal("---\nname: \xff\n---\n"), Catch::Contains("not UTF-8"));
  CHECK_THAT(refusal("---\n? [a]\n: b\n---\n"), Catch::Contains("as a key"));
  CHECK_THAT(refusal("---\nb: *nowhere\n---\n"), Catch::Contains("m/README.md"));
  CHECK_THAT(refusal("---\n<<: text\n---\n"), Catch::Contains("merges"));
  CHECK_THAT(refusal("---\n" + std::string(arch::kMaxFrontMatterBytes + 10, 'x') + ": y\n---\n"),
             Catch::Contains("longer than"));
  std::string many = "---\ntags:\n";
  for (size_t i = 0; i <= arch::kMaxListItems; ++i) many += "- t\n";
  CHECK_THAT(refusal(many + "---\n"), Catch::Contains("list longer than"));
}

TEST_CASE("Model card: hostile nesting and aliases stay cheap", "[model_card]") {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  // Flow and block nesting past the depth limit, refused while yaml-cpp parses.
  const std::string deep_flow(100'000, '[');
  CHECK_THAT(refusal("---\na: " + deep_flow + "\n---\n"), Catch::Contains("deeper than 64"));
  std::string deep_block = "---\n";
  for (size_t i = 0; i < 200; ++i) deep_block += std::string(i, ' ') + "k:\n";
  CHECK_THAT(refusal(deep_block + "---\n"), Catch::Contains("deeper than 64"));
  // Billion laughs: each level names the one before ten times.
  std::string laughs = "---\nl0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int i = 1; i < 12; ++i) {
    const std::string n = std::to_string(i), prev = "*l" + std::to_string(i - 1);
    laughs.append("l").append(n).append(": &l").append(n).append(" [");
    for (int k = 0; k < 10; ++k) laughs += (k ? ", " : "") + prev;
    laughs += "]\n";
  }
  // Values are read one level into lists: this parses, sharing nodes.
  CHECK(arch::parse_front_matter(laughs + "---\n", "R").size() == 12);
  // Merges and list items that name a large mapping over and over are refused.
  std::string wide = "---\nbig: &b {";
  for (int i = 0; i < 3000; ++i) wide += (i ? ", k" : "k") + std::to_string(i) + ": v";
  wide += "}\nbase_model: [";
  for (int i = 0; i < 4000; ++i) wide += i ? ", *b" : "*b";
  CHECK_THAT(refusal(wide + "]\n---\n"), Catch::Contains("expand past"));
  std::string merges = "---\nbig: &b {";
  for (int i = 0; i < 3000; ++i) merges += (i ? ", k" : "k") + std::to_string(i) + ": v";
  merges += "}\nm1: &m1 {<<: [";
  for (int i = 0; i < 400; ++i) merges += i ? ", *b" : "*b";
  merges += "]}\n<<: [*m1, *m1, *m1, *m1, *m1, *m1, *m1, *m1]\n";
  CHECK_THAT(refusal(merges + "---\n"), Catch::Contains("expand past"));
  // A long scalar named many times is refused by the bytes it would copy.
  std::string copies = "---\ns: &s " + std::string(200'000, 'x') + "\ntags: [";
  for (int i = 0; i < 100; ++i) copies += i ? ", *s" : "*s";
  CHECK_THAT(refusal(copies + "]\n---\n"), Catch::Contains("bytes of text"));
  // A cycle through a merge ends at the merge depth.
  CHECK_THAT(refusal("---\n&a {<<: *a}\n---\n"), Catch::Contains("merges"));
  CHECK(Clock::now() - start < std::chrono::seconds(10));
}

TEST_CASE("Model card: a card owl cannot read warns and the keys come from elsewhere",
          "[model_card]") {
  test::TempDir dir;
  const auto folder = dir.path() / "Tiny-Model-1B";
  std::filesystem::create_directories(folder);
  test::write_bytes((folder / "README.md").string(),
                    "---\nlicense: mit\nname: \"never closed\n---\n# Tiny\n");
  std::vector<std::string> warnings;
  Metadata out;
  arch::write_general_keys(out, {folder.string(), "Tiny-Model-1B"}, Metadata{}, 1'000'000'000,
                           [&](const std::string& w) { warnings.push_back(w); });
  REQUIRE(warnings.size() == 1);
  CHECK_THAT(warnings[0], Catch::Contains("README.md: front matter ends inside a quoted") &&
                              Catch::EndsWith("; the model card is ignored"));
  CHECK_FALSE(out.find("general.license"));
  REQUIRE(out.get_string("general.name"));
  CHECK(*out.get_string("general.name") == "Tiny Model 1B");

  // Without a warning callback the card is still skipped, silently.
  Metadata quiet;
  arch::write_general_keys(quiet, {folder.string(), "Tiny-Model-1B"}, Metadata{}, 1'000'000'000);
  CHECK_FALSE(quiet.find("general.license"));

  // A card that reads gives its keys; empty strings and lists are left out, as gguf-py's writer
  // leaves them out.
  test::write_bytes((folder / "README.md").string(),
                    "---\nlicense: mit\ndescription: \"\"\ntags: []\nbase_model:\n- {}\n---\n");
  Metadata good;
  arch::write_general_keys(good, {folder.string(), "Tiny-Model-1B"}, Metadata{}, 1'000'000'000,
                           [&](const std::string& w) { FAIL(w); });
  CHECK(*good.get_string("general.license") == "mit");
  CHECK_FALSE(good.find("general.description"));
  CHECK_FALSE(good.find("general.tags"));
  CHECK(good.find("general.base_model.count"));
}

// Each value of a card as PyYAML gave it (expected.json) against what owl read.
void check_like_pyyaml(const arch::FrontMatter& fm, const Json& want) {
  for (const auto& [key, value] : want.items()) {
    INFO("key " << key);
    const CardValue* got = fm.find(key);
    REQUIRE(got);
    if (value.is_null()) {
      CHECK(got->kind == CardValue::Kind::null);
    } else if (value.is_string()) {
      CHECK(got->kind == CardValue::Kind::scalar);
      CHECK(got->scalar == value.get<std::string>());
    } else if (value.is_object()) {
      CHECK(got->kind == CardValue::Kind::other);
    } else if (value.is_array()) {
      REQUIRE(got->kind == CardValue::Kind::list);
      REQUIRE(got->items.size() == value.size());
      for (size_t i = 0; i < value.size(); ++i) {
        const auto& item = got->items[i];
        if (value[i].is_string()) {
          CHECK(item.scalar == value[i].get<std::string>());
        } else if (value[i].is_object()) {
          CHECK_FALSE(item.scalar);
          for (const auto& entry : value[i].items()) {
            // Not structured bindings: clang 14 cannot capture them in the lambda below.
            const std::string k = entry.key();
            const auto& v = entry.value();
            if (!v.is_string()) continue;  // owl keeps the scalar values only
            const auto it = std::find_if(item.mapping.begin(), item.mapping.end(),
                                         [&](const auto& kv) { return kv.first == k; });
            REQUIRE(it != item.mapping.end());
            CHECK(it->second == v.get<std::string>());
          }
        }
      }
    }
  }
  CHECK(fm.size() == want.size());
}

TEST_CASE("Model card: the fixture cards read as PyYAML reads them", "[model_card]") {
  const std::filesystem::path dir = std::filesystem::path(OWL_TEST_DATA) / "model_cards";
  const Json expected = read_json_file((dir / "expected.json").string(), 1u << 20);
  REQUIRE(expected.size() >= 6);
  for (const auto& [name, want] : expected.items()) {
    INFO("card " << name);
    const std::string path = (dir / (name + ".md")).string();
    if (!want["error"].is_null()) {
      CHECK_THROWS_AS(arch::read_front_matter(path), InputError);
    } else if (want["front_matter"].empty()) {
      // gguf-py logs an error and reads nothing from a card that is not a mapping; owl refuses.
      CHECK_THROWS_WITH(arch::read_front_matter(path), Catch::Contains("not a mapping"));
    } else {
      check_like_pyyaml(arch::read_front_matter(path), want["front_matter"]);
    }
  }
}

TEST_CASE("YAML tree: aliases share nodes", "[model_card]") {
  const auto t = arch::yaml::parse("a: &x [1, 2]\nb: *x\n", "f", 2);
  REQUIRE(t.root);
  const auto& root = t.nodes[*t.root];
  REQUIRE(root.children.size() == 4);
  CHECK(root.children[1] == root.children[3]);
  const auto empty = arch::yaml::parse("# nothing\n", "f", 2);  // a document of null
  CHECK((!empty.root || empty.nodes[*empty.root].kind == arch::yaml::Node::Kind::null));
}

}  // namespace
}  // namespace owl
