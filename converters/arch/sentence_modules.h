// The sentence-transformers modules beside a Hugging Face model (modules.json): the pooling they
// declare, as the `<arch>.pooling_type` key llama.cpp's embedding models carry, and the dense
// projections after it, which llama.cpp's converter adds on request
// (--sentence-transformers-dense-modules) as dense_2 / dense_3.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "converters/arch/hparams.h"
#include "converters/arch/key_writer.h"
#include "converters/graph.h"

namespace owl::arch {

// llama.cpp's enum llama_pooling_type (gguf-py's PoolingType).
enum class SentencePooling : uint32_t { none = 0, mean = 1, cls = 2, last = 3 };

// Writes pooling_type when the folder beside `hp`'s config.json has a sentence-transformers
// Pooling module, and classifier.pooling_type when config.json names classifier_pooling, as
// TextModel._try_set_pooling_type does. A pooling mode llama.cpp has no type for is an
// InputError naming the module's config.json.
void write_sentence_pooling_keys(const HParams& hp, KeyWriter& kw);

// One Dense module with weights: its GGUF name ("dense_2" for the module in 2_Dense, "dense_3"
// for any other, as the reference names them), its sizes when its config.json gives both, and
// its weight tensors renamed "<name>.weight".
struct SentenceDenseModule {
  std::string name;
  int64_t in_features = -1, out_features = -1;
  std::vector<Tensor> weights;
  InputFile file;  // its model.safetensors
};

// The Dense modules of the folder beside `hp`'s config.json, in modules.json's order; those
// without a model.safetensors are left out, as the reference leaves them.
std::vector<SentenceDenseModule> read_sentence_dense_modules(const HParams& hp);

}  // namespace owl::arch
