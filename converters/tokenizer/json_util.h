// Reading tokenizer JSON the way Hugging Face's Python code does, without trusting its shape.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "formats/json/strict_json.h"

namespace owl::tok {

// Python's truth value of a parsed JSON value: null, false, 0, "", [] and {} are false.
bool truthy(const Json& j);

// obj[key] when obj is an object that has it; nullptr otherwise.
const Json* member(const Json& obj, std::string_view key);

// obj[key] when present, else a null value (Python's dict.get); never a copy.
const Json& member_or_null(const Json& obj, std::string_view key);

// obj[key] when it is a string; nullopt when missing or of another kind.
std::optional<std::string> string_member(const Json& obj, std::string_view key);

// A JSON integer (not a bool, not a fraction) as int64, or nullopt. Integers beyond int64 are
// reported as nullopt too: no token id comes near.
std::optional<int64_t> integer_value(const Json& j);

// Reads `path` as a JSON object; throws InputError naming the file if it is anything else.
Json read_json_object(const std::string& path, uint64_t max_bytes);

}  // namespace owl::tok
