#include "formats/bom/cyclonedx.h"

#include "formats/io/digest.h"
#include "formats/json/strict_json.h"

namespace owl::bom {

namespace {

constexpr const char* kModelRef = "model";

Json property(const std::string& name, const std::string& value) {
  return {{"name", name}, {"value", value}};
}

Json sha256_hashes(const std::string& hex) {
  return Json::array({{{"alg", "SHA-256"}, {"content", hex}}});
}

// A name-based UUID (version 5 layout) from the files' hashes: the same model, the same serial.
std::string serial_number(const ModelFacts& f) {
  Digest d;
  for (const HashedFile& file : f.files) d.update(file.sha256);
  std::vector<uint8_t> b = d.finish();
  b[6] = uint8_t((b[6] & 0x0f) | 0x50);
  b[8] = uint8_t((b[8] & 0x3f) | 0x80);
  const std::string hex = to_hex(std::span(b.data(), 16));
  return "urn:uuid:" + hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

void set_if(Json& j, const char* key, const std::string& value) {
  if (!value.empty()) j[key] = value;
}

Json model_card(const ModelFacts& f) {
  Json params = Json::object();
  set_if(params, "task", f.task);
  set_if(params, "architectureFamily", f.architecture);
  set_if(params, "modelArchitecture", f.model_architecture);
  Json props = Json::array();
  if (!f.file_type.empty()) props.push_back(property("owl:quantization:file_type", f.file_type));
  for (const auto& [type, count] : f.tensor_types)
    props.push_back(property("owl:quantization:tensors:" + type, count));
  for (const auto& [key, value] : f.quantization) props.push_back(property("gguf:" + key, value));
  Json card = {{"modelParameters", std::move(params)}};
  if (!props.empty()) card["properties"] = std::move(props);
  return card;
}

Json ancestor_component(const Ancestor& a, size_t i) {
  Json c = {{"type", "machine-learning-model"},
            {"bom-ref", "ancestor-" + std::to_string(i)},
            {"name", a.name.empty() ? "unnamed " + a.relation : a.name}};
  set_if(c, "version", a.version);
  set_if(c, "publisher", a.organization);
  if (!a.sha256.empty()) c["hashes"] = sha256_hashes(a.sha256);
  set_if(c, "purl", a.purl);
  Json refs = Json::array();
  if (!a.repo_url.empty()) refs.push_back({{"type", "vcs"}, {"url", a.repo_url}});
  if (!a.url.empty()) refs.push_back({{"type", "website"}, {"url", a.url}});
  if (!refs.empty()) c["externalReferences"] = std::move(refs);
  c["properties"] = Json::array({property("owl:relation", a.relation)});
  return c;
}

Json model_component(const ModelFacts& f) {
  Json c = {{"type", "machine-learning-model"}, {"bom-ref", kModelRef}, {"name", f.name}};
  set_if(c, "version", f.version);
  set_if(c, "description", f.description);
  set_if(c, "publisher", f.organization);
  if (f.files.size() == 1) c["hashes"] = sha256_hashes(f.files[0].sha256);
  if (!f.license.empty()) c["licenses"] = Json::array({{{"license", {{"name", f.license}}}}});
  Json props = Json::array({property("owl:format", f.format)});
  if (f.parameters) props.push_back(property("owl:parameters", std::to_string(f.parameters)));
  if (!f.size_label.empty()) props.push_back(property("owl:size_label", f.size_label));
  c["properties"] = std::move(props);
  c["modelCard"] = model_card(f);
  if (!f.ancestors.empty()) {
    Json ancestors = Json::array();
    for (size_t i = 0; i < f.ancestors.size(); ++i)
      ancestors.push_back(ancestor_component(f.ancestors[i], i));
    c["pedigree"] = {{"ancestors", std::move(ancestors)}};
  }
  // A model of several files (shards, a folder) lists each with its own hash.
  if (f.files.size() > 1) {
    Json files = Json::array();
    for (size_t i = 0; i < f.files.size(); ++i)
      files.push_back(
          {{"type", "file"},
           {"bom-ref", "file-" + std::to_string(i)},
           {"name", f.files[i].name},
           {"hashes", sha256_hashes(f.files[i].sha256)},
           {"properties", Json::array({property("owl:size", std::to_string(f.files[i].size))})}});
    c["components"] = std::move(files);
  }
  return c;
}

// The recipe as formulation: one workflow whose step ran the command that made the file, with
// owl's own record keys as its properties. Absent when the file says nothing of how it was made.
Json formulation(const ModelFacts& f) {
  if (f.command.empty() && f.recipe.empty()) return nullptr;
  Json step = {{"name", "make " + f.name}};
  if (!f.command.empty()) step["commands"] = Json::array({{{"executed", f.command}}});
  if (!f.recipe.empty()) {
    Json props = Json::array();
    for (const auto& [key, value] : f.recipe) props.push_back(property(key, value));
    step["properties"] = std::move(props);
  }
  Json workflow = {{"bom-ref", "recipe"},
                   {"uid", "recipe"},
                   {"name", "the recipe that made " + f.name},
                   {"taskTypes", Json::array({"build"})},
                   {"steps", Json::array({std::move(step)})},
                   {"outputs", Json::array({{{"resource", {{"ref", kModelRef}}}}})}};
  return Json::array({{{"bom-ref", "formulation"}, {"workflows", Json::array({workflow})}}});
}

}  // namespace

std::string cyclonedx_json(const ModelFacts& f, const std::string& tool_version) {
  Json j = Json::object();
  j["$schema"] = "http://cyclonedx.org/schema/bom-1.6.schema.json";
  j["bomFormat"] = "CycloneDX";
  j["specVersion"] = "1.6";
  j["serialNumber"] = serial_number(f);
  j["version"] = 1;
  j["metadata"] = {
      {"tools",
       {{"components",
         Json::array({{{"type", "application"}, {"name", "owl"}, {"version", tool_version}}})}}}};
  j["components"] = Json::array({model_component(f)});
  if (Json form = formulation(f); !form.is_null()) j["formulation"] = std::move(form);
  return j.dump(2) + "\n";
}

}  // namespace owl::bom
