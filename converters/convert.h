// `owl convert`: read a model, normalize it, write it in another format.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "converters/graph.h"
#include "converters/lora/merge.h"
#include "converters/progress.h"
#include "converters/provenance.h"

namespace owl {

enum class OutputFormat { Safetensors, Gguf };

struct ConvertOptions {
  // Float tensors stored as this type; nullopt keeps them (safetensors, GGUF -> GGUF) or picks
  // F16 (other inputs -> GGUF, as llama.cpp's converter does).
  std::optional<ElemType> dtype;
  std::string tokenizer;         // a tokenizer file for inputs that lack one
  uint64_t shard_bytes = 0;      // safetensors: 0 means one output file
  uint64_t split_max_bytes = 0;  // GGUF: split limits, 0 means none
  uint64_t split_max_tensors = 0;
  // EmbeddingGemma's sentence-transformers Dense modules go into the GGUF too.
  bool sentence_transformers_dense = false;
  // --lora (owl merge): adapters merged into the (Hugging Face) input, in order.
  std::vector<lora::LoraSpec> loras;
  Recipe recipe;  // the provenance record's recipe (command "convert")
  Progress* progress = nullptr;
  std::function<void(const std::string&)> warn = [](const std::string&) {};
};

struct ConvertResult {
  std::vector<std::string> files;  // written, in order
  size_t tensors = 0;
  size_t retyped = 0;  // tensors whose type changed
  uint64_t bytes = 0;  // tensor bytes written
};

// The output format named by a path's extension, or nullopt.
std::optional<OutputFormat> output_format_for(const std::string& path);

ConvertResult convert(const std::string& input, const std::string& output,
                      const ConvertOptions& opt);

// The output graph as convert() writes it in `format`, lazy, without the provenance record:
// what `owl verify --source` re-derives.
Graph converted_graph(const std::string& input, OutputFormat format, const ConvertOptions& opt);

// Checks every pipeline that writes a model makes. Throw UsageError when the output's folder does
// not exist, or when the output is one of the graph's inputs (it would be replaced while read).
void check_output_folder(const std::string& output);
void refuse_overwriting_input(const Graph& g, const std::string& output);

}  // namespace owl
