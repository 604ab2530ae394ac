#include "formats/hf/config_writer.h"

#include "formats/hf/folder.h"
#include "formats/io/atomic_file.h"

namespace owl::hf {
namespace {

Json to_json(const Value& v) {
  switch (v.type()) {
    case ValueType::BOOL:
      return v.as_bool();
    case ValueType::STRING:
      return v.as_string();
    case ValueType::F32:
    case ValueType::F64:
      return v.as_f64();
    case ValueType::ARRAY: {
      Json a = Json::array();
      for (const Value& item : v.as_array()) a.push_back(to_json(item));
      return a;
    }
    default:
      if (v.is_signed()) return v.as_i64();
      return v.as_u64();
  }
}

}  // namespace

Json config_json(const Graph& g) {
  Json config = Json::object();
  for (const auto& [key, value] : g.metadata) {
    const std::string_view prefix = key.starts_with(kConfigPrefix)       ? kConfigPrefix
                                    : key.starts_with(kConfigNullPrefix) ? kConfigNullPrefix
                                                                         : "";
    if (prefix.empty()) continue;
    // "rope_scaling.factor" -> config["rope_scaling"]["factor"]
    Json* node = &config;
    std::string rest = key.substr(prefix.size());
    for (size_t dot; (dot = rest.find('.')) != std::string::npos; rest = rest.substr(dot + 1)) {
      Json& child = (*node)[rest.substr(0, dot)];
      if (!child.is_object()) child = Json::object();
      node = &child;
    }
    (*node)[rest] = prefix == kConfigNullPrefix ? Json(nullptr) : to_json(value);
  }
  return config;
}

std::string_view torch_dtype_name(ElemType t) {
  switch (t) {
    case ElemType::F16:
      return "float16";
    case ElemType::BF16:
      return "bfloat16";
    default:
      return "float32";
  }
}

void set_config_dtype(Graph& g, ElemType t) {
  for (const char* name : {"torch_dtype", "dtype"}) {
    const std::string key = std::string(kConfigPrefix) + name;
    if (g.metadata.find(key)) g.metadata.set(key, Value::string(std::string(torch_dtype_name(t))));
  }
}

void write_config(const Graph& g, const std::string& path) {
  write_json(config_json(g), path);
}

void write_json(const Json& j, const std::string& path) {
  AtomicFile f(path);
  f.write(j.dump(2, ' ', /*ensure_ascii=*/false) + "\n");
  f.commit();
}

}  // namespace owl::hf
