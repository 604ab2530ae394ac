// JSON from untrusted files: parsed with duplicate keys refused and errors naming the file.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace owl {

using Json = nlohmann::ordered_json;

// Real model files nest a handful of levels (tokenizer.json's normalizer sequences are the
// deepest, under ten); a hostile file nests thousands to overflow the stack of any tree walk.
inline constexpr size_t kMaxJsonDepth = 64;

// Parses `text` as JSON. Throws InputError naming `file` for invalid JSON, for invalid UTF-8,
// for nesting deeper than kMaxJsonDepth, and for an object with the same key twice (which
// readers would otherwise resolve silently, each in its own way).
Json parse_json_strict(std::string_view text, const std::string& file);

// Reads and parses a whole (small) file: config.json, an index.
Json read_json_file(const std::string& path, uint64_t max_bytes);

// "object", "array", "string", ... for error messages.
std::string json_kind(const Json& j);

}  // namespace owl
