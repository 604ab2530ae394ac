#include "formats/hf/folder.h"

#include <algorithm>
#include <filesystem>

#include "formats/io/error.h"
#include "formats/pytorch/checkpoint.h"
#include "formats/safetensors/limits.h"
#include "formats/safetensors/reader.h"

namespace owl::hf {
namespace fs = std::filesystem;
namespace {

inline constexpr uint64_t kMaxConfigBytes = 16u << 20;

std::optional<Value> scalar_value(const Json& j) {
  switch (j.type()) {
    case Json::value_t::boolean:
      return Value::boolean(j.get<bool>());
    case Json::value_t::string:
      return Value::string(j.get<std::string>());
    case Json::value_t::number_integer:
      return Value::i64(j.get<int64_t>());
    case Json::value_t::number_unsigned: {
      const uint64_t u = j.get<uint64_t>();
      if (u <= static_cast<uint64_t>(INT64_MAX)) return Value::i64(static_cast<int64_t>(u));
      return Value::u64(u);
    }
    case Json::value_t::number_float:
      return Value::f64(j.get<double>());
    default:
      return std::nullopt;
  }
}

// An array of scalars of one kind becomes a typed array; anything else is kept as JSON text.
Value array_value(const Json& j) {
  std::vector<Value> items;
  ValueType elem = ValueType::I64;
  for (const auto& item : j) {
    auto v = scalar_value(item);
    if (!v) return Value::string(j.dump());
    // Mixed integers and floats become floats; other mixtures stay JSON text.
    if (!items.empty() && v->type() != elem) {
      const bool numeric =
          (v->is_float() || v->is_integer()) &&
          (elem == ValueType::F64 || elem == ValueType::I64 || elem == ValueType::U64);
      if (!numeric) return Value::string(j.dump());
      for (auto& x : items) x = Value::f64(*x.to_double());
      elem = ValueType::F64;
      v = Value::f64(*v->to_double());
    }
    if (items.empty()) elem = v->type();
    items.push_back(*v);
  }
  return Value::array(Array(elem, items));
}

Graph read_pytorch_weights(const std::string& folder, const fs::path& dir,
                           const std::vector<fs::path>& indexes) {
  if (indexes.size() == 1) return pytorch::read_index(indexes[0].string());
  if (indexes.size() > 1)
    throw InputError(folder, "folder has " + std::to_string(indexes.size()) +
                                 " pytorch_model.bin index files; pass the one to read");
  if (fs::exists(dir / "pytorch_model.bin"))
    return pytorch::read_file((dir / "pytorch_model.bin").string());
  throw InputError(
      folder,
      "folder holds no model weights (no .safetensors file or index, no pytorch_model.bin "
      "or its index)");
}

}  // namespace

void flatten_json(const Json& j, const std::string& prefix, Metadata& out) {
  for (const auto& [key, value] : j.items()) {
    const std::string full = prefix + key;
    if (value.is_object()) {
      flatten_json(value, full + ".", out);
    } else if (value.is_array()) {
      out.set(full, array_value(value));
    } else if (auto v = scalar_value(value)) {
      out.set(full, *v);
    }
  }
}

void read_config(Graph& g, const std::string& config_path) {
  const Json config = read_json_file(config_path, kMaxConfigBytes);
  if (!config.is_object())
    throw InputError(config_path, "config is " + json_kind(config) + ", not a JSON object");
  flatten_json(config, kConfigPrefix, g.metadata);
  if (config.contains("model_type") && config["model_type"].is_string())
    g.architecture = config["model_type"].get<std::string>();
  g.inputs.push_back({config_path, fs::file_size(config_path)});
}

Graph read_folder(const std::string& folder) {
  const fs::path dir(folder);
  std::vector<fs::path> indexes, singles, bin_indexes;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const std::string name = e.path().filename().string();
    if (name.ends_with(".safetensors.index.json"))
      indexes.push_back(e.path());
    else if (name.ends_with(".safetensors"))
      singles.push_back(e.path());
    else if (name.ends_with(".bin.index.json"))
      bin_indexes.push_back(e.path());
  }
  std::sort(bin_indexes.begin(), bin_indexes.end());
  std::sort(indexes.begin(), indexes.end());
  std::sort(singles.begin(), singles.end());

  Graph g;
  if (indexes.size() == 1) {
    g = safetensors::read_index(indexes[0].string());
  } else if (indexes.size() > 1) {
    throw InputError(folder, "folder has " + std::to_string(indexes.size()) +
                                 " safetensors index files; pass the one to read");
  } else if (fs::exists(dir / "model.safetensors")) {
    g = safetensors::read_file((dir / "model.safetensors").string());
  } else if (singles.size() == 1) {
    g = safetensors::read_file(singles[0].string());
  } else if (singles.empty()) {
    // Like Hugging Face, PyTorch weights are used only when there are no safetensors.
    g = read_pytorch_weights(folder, dir, bin_indexes);
  } else {
    throw InputError(folder, "folder has " + std::to_string(singles.size()) +
                                 " .safetensors files and no index; pass the file to read");
  }
  if (fs::exists(dir / "config.json")) read_config(g, (dir / "config.json").string());
  return g;
}

}  // namespace owl::hf
