// llama2.c checkpoints: tensors already carry GGUF names and llama.cpp's RoPE row order
// (llama2.c rotates adjacent pairs too); the header becomes the llama.* keys llama.cpp needs.
#include <filesystem>

#include "converters/arch/arch_internal.h"
#include "converters/arch/key_writer.h"
#include "formats/io/error.h"
#include "formats/llama2c/reader.h"

namespace owl::arch {

void llama2c_to_gguf(Graph& g) {
  const std::string file =
      g.inputs.empty() ? std::string("llama2.c checkpoint") : g.inputs.front().path;
  auto field = [&](const char* name) {
    auto v = g.metadata.get_int(std::string(llama2c::kHeaderPrefix) + name);
    if (!v || *v <= 0)
      throw InputError(
          file, std::string("llama2.c header field ") + name + " is missing or not positive");
    return *v;
  };
  const int64_t dim = field("dim"), heads = field("n_heads");
  if (dim % heads) throw InputError(file, "llama2.c header: dim is not a multiple of n_heads");

  Metadata out;
  out.set("general.architecture", Value::string("llama"));
  out.set("general.name", Value::string(std::filesystem::path(file).stem().string()));
  KeyWriter kw(out, "llama", file);
  // The keys and values of llama.cpp's own llama2.c converter, plus the RoPE base it assumes.
  kw.u32("context_length", field("seq_len"));
  kw.u32("embedding_length", dim);
  kw.u32("feed_forward_length", field("hidden_dim"));
  kw.u32("attention.head_count", heads);
  kw.u32("attention.head_count_kv", field("n_kv_heads"));
  kw.u32("block_count", field("n_layers"));
  kw.u32("rope.dimension_count", dim / heads);
  kw.f32("attention.layer_norm_rms_epsilon", 1e-5);
  kw.f32("rope.freq_base", 10000.0);
  kw.closing_general_keys();
  for (const auto& [key, value] : g.metadata)
    if (!key.starts_with(llama2c::kHeaderPrefix) && !out.find(key)) out.set(key, value);
  g.metadata = std::move(out);
  g.architecture = "llama";
}

}  // namespace owl::arch
