#include "formats/json/strict_json.h"

#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "formats/io/error.h"
#include "formats/io/mapped_file.h"

namespace owl {

namespace {

// Builds the tree from nlohmann's SAX events. Objects are appended to directly: nlohmann's
// ordered map looks every new key up linearly, which makes a 262k-entry vocabulary (or a hostile
// header of millions of keys) quadratic. Duplicates are found here, with one hash set per open
// object, and nesting is refused before it can exhaust the stack of anything that walks the tree.
class StrictBuilder {
 public:
  explicit StrictBuilder(const std::string& file) : file_(file) {}

  Json take() { return std::move(root_); }

  bool null() { return add(Json(nullptr)); }
  bool boolean(bool v) { return add(Json(v)); }
  bool number_integer(Json::number_integer_t v) { return add(Json(v)); }
  bool number_unsigned(Json::number_unsigned_t v) { return add(Json(v)); }
  bool number_float(Json::number_float_t v, const std::string&) { return add(Json(v)); }
  bool string(std::string& v) { return add(Json(std::move(v))); }
  bool binary(Json::binary_t& v) { return add(Json::binary(std::move(v))); }

  bool start_object(std::size_t) { return open(Json::object()); }
  bool start_array(std::size_t) { return open(Json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(std::string& k) {
    if (!open_.back().keys.insert(k).second)
      throw InputError(file_, "JSON has the key '" + k + "' twice");
    key_ = std::move(k);
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    // nlohmann prefixes "[json.exception.parse_error.101] parse error at ...": keep the reason.
    const std::string what = e.what();
    const auto pos = what.find("] ");
    throw InputError(file_,
                     "invalid JSON: " + (pos == std::string::npos ? what : what.substr(pos + 2)));
  }

 private:
  struct Open {
    Json* value;
    std::unordered_set<std::string> keys;  // an object's keys so far
  };

  // Places `v` in the container being built (or as the root) and returns where it now lives.
  Json* place(Json&& v) {
    if (open_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    Json& parent = *open_.back().value;
    if (parent.is_array()) {
      auto& items = parent.get_ref<Json::array_t&>();
      items.push_back(std::move(v));
      return &items.back();
    }
    // The ordered map is a vector of pairs: appending to it skips the linear key search.
    auto& pairs = static_cast<std::vector<std::pair<const std::string, Json>>&>(
        parent.get_ref<Json::object_t&>());
    pairs.emplace_back(std::move(key_), std::move(v));
    return &pairs.back().second;
  }

  bool add(Json&& v) {
    place(std::move(v));
    return true;
  }

  bool open(Json&& container) {
    if (open_.size() >= kMaxJsonDepth)
      throw InputError(file_, "JSON nests objects and arrays more than " +
                                  std::to_string(kMaxJsonDepth) + " deep");
    open_.push_back({place(std::move(container)), {}});
    return true;
  }

  bool close() {
    open_.pop_back();
    return true;
  }

  const std::string& file_;
  Json root_;
  std::string key_;
  // Pointers stay valid: a container's children are only appended to while it is the innermost
  // open one, and an outer container grows again only after its inner ones are closed.
  std::vector<Open> open_;
};

}  // namespace

Json parse_json_strict(std::string_view text, const std::string& file) {
  StrictBuilder builder(file);
  Json::sax_parse(text.begin(), text.end(), &builder);
  return builder.take();
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
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::null:
      return "null";
    case Json::value_t::number_float:
      return "a fractional number";
    case Json::value_t::number_integer:
      return "a negative integer";
    case Json::value_t::number_unsigned:
      return "an integer";
    default:
      return "an unexpected value";
  }
}

}  // namespace owl
