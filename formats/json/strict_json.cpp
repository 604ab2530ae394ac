#include "formats/json/strict_json.h"

#include <set>
#include <vector>

#include "formats/io/error.h"
#include "formats/io/mapped_file.h"

namespace owl {

Json parse_json_strict(std::string_view text, const std::string& file) {
  // One set of keys per open object: a key seen twice in the same object is an error.
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  auto check = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        open_objects.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!open_objects.empty() && !open_objects.back().insert(parsed.get<std::string>()).second &&
            duplicate.empty())
          duplicate = parsed.get<std::string>();
        break;
      default:
        break;
    }
    return true;
  };
  Json j;
  try {
    j = Json::parse(text.begin(), text.end(), check, /*allow_exceptions=*/true);
  } catch (const Json::parse_error& e) {
    std::string what = e.what();
    // nlohmann prefixes "[json.exception.parse_error.101] parse error at ...": keep the reason.
    auto pos = what.find("] ");
    throw InputError(file, "invalid JSON: " + (pos == std::string::npos ? what : what.substr(pos + 2)));
  }
  if (!duplicate.empty()) throw InputError(file, "JSON has the key '" + duplicate + "' twice");
  return j;
}

Json read_json_file(const std::string& path, uint64_t max_bytes) {
  auto file = MappedFile::open(path);
  if (file->size() > max_bytes) {
    throw InputError(path, "JSON file of " + std::to_string(file->size()) +
                               " bytes is larger than the limit of " + std::to_string(max_bytes));
  }
  auto b = file->bytes();
  return parse_json_strict({reinterpret_cast<const char*>(b.data()), b.size()}, path);
}

std::string json_kind(const Json& j) {
  switch (j.type()) {
    case Json::value_t::object: return "an object";
    case Json::value_t::array: return "an array";
    case Json::value_t::string: return "a string";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::null: return "null";
    case Json::value_t::number_float: return "a fractional number";
    case Json::value_t::number_integer: return "a negative integer";
    case Json::value_t::number_unsigned: return "an integer";
    default: return "an unexpected value";
  }
}

}  // namespace owl
