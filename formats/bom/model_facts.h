// What a bill of materials says about a model, gathered from the metadata owl's readers give
// (GGUF keys, safetensors __metadata__, a Hugging Face folder's config). Which key feeds which
// fact is decided in one table in model_facts.cpp, so new keys (owl's provenance record) are one
// line each.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "converters/graph.h"

namespace owl::bom {

using NameValue = std::pair<std::string, std::string>;

// A model this one derives from: a base model (general.base_model.N.*) or the release it was
// converted from (general.source.*).
struct Ancestor {
  std::string relation;  // "base model", "source"
  std::string name, version, organization, url, repo_url, commit, sha256;
  std::string purl;  // pkg:huggingface/ORG/NAME[@COMMIT] when the repository is on the Hub
};

struct HashedFile {
  std::string name;  // as given, or relative to the model folder
  uint64_t size = 0;
  std::string sha256;
};

struct ModelFacts {
  std::string format;  // "gguf", "safetensors", ...
  std::string name, version, description, organization, license, size_label;
  std::string architecture;        // general.architecture: "llama"
  std::string model_architecture;  // Hugging Face's class: "LlamaForCausalLM", when known
  std::string task;                // "text-generation" for the decoder LLMs owl reads
  uint64_t parameters = 0;
  std::string file_type;                // "Q4_K_M" (general.file_type named), when known
  std::vector<NameValue> tensor_types;  // "Q4_K" -> "193 tensors", in type order
  std::vector<NameValue> quantization;  // general.quantization_version, quantize.imatrix.*
  std::vector<Ancestor> ancestors;
  std::string command;            // what made the file, when it says
  std::vector<NameValue> recipe;  // owl's own keys, as written
  std::vector<HashedFile> files;
};

// `file_type_name` names llama.cpp's general.file_type numbers (the quantization mixes know
// them); it may return "" for a number it does not know.
ModelFacts model_facts(const Graph& g, std::string (*file_type_name)(uint32_t));

// "https://huggingface.co/ORG/NAME" (or "hf.co", with or without "/tree/COMMIT") to
// "pkg:huggingface/ORG/NAME@COMMIT"; "" when the URL is not a Hub repository.
std::string huggingface_purl(const std::string& url, const std::string& commit);

}  // namespace owl::bom
