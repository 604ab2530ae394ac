#include "converters/tokenizer/json_util.h"

#include <limits>

#include "formats/io/error.h"

namespace owl::tok {

bool truthy(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
      return false;
    case Json::value_t::boolean:
      return j.get<bool>();
    case Json::value_t::number_integer:
      return j.get<int64_t>() != 0;
    case Json::value_t::number_unsigned:
      return j.get<uint64_t>() != 0;
    case Json::value_t::number_float:
      return j.get<double>() != 0.0;
    case Json::value_t::string:
      return !j.get_ref<const std::string&>().empty();
    case Json::value_t::array:
    case Json::value_t::object:
      return !j.empty();
    default:
      return true;
  }
}

const Json* member(const Json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

const Json& member_or_null(const Json& obj, std::string_view key) {
  static const Json kNull;
  const Json* m = member(obj, key);
  return m ? *m : kNull;
}

std::optional<std::string> string_member(const Json& obj, std::string_view key) {
  const Json* m = member(obj, key);
  if (!m || !m->is_string()) return std::nullopt;
  return m->get<std::string>();
}

std::optional<int64_t> integer_value(const Json& j) {
  if (j.is_number_unsigned()) {
    const uint64_t u = j.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (j.is_number_integer()) return j.get<int64_t>();
  return std::nullopt;
}

Json read_json_object(const std::string& path, uint64_t max_bytes) {
  Json j = read_json_file(path, max_bytes);
  if (!j.is_object()) throw InputError(path, "holds " + json_kind(j) + ", not a JSON object");
  return j;
}

}  // namespace owl::tok
