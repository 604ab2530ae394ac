// Writes small well-formed inputs made with the unit tests' builders into the seed folders of the
// fuzz targets whose formats tests/data has no small files of: GGUF (single and the second part
// of a split pair), llama2.c checkpoints, importance matrices, and a safetensors index over the
// tiny-llama3 fixture. tools/fuzz.sh runs it once per fresh corpus.  Usage: make_seeds OUT_DIR
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "formats/imatrix/imatrix.h"
#include "formats/io/resume_journal.h"
#include "formats/safetensors/reader.h"
#include "tests/formats/gguf_builder.h"
#include "tests/fuzz/fuzz_provenance_input.h"
#include "tests/test_util.h"

namespace {

namespace fs = std::filesystem;
using owl::test::GgufBuilder;

// ggml type ids and GGUF value type ids, as the file format numbers them.
constexpr uint32_t kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ8_0 = 8, kQ4_K = 12;
constexpr uint32_t kU8 = 0, kI32 = 5, kF32v = 6, kBool = 7, kString = 8, kArray = 9, kU16 = 2;

std::string array_of(uint32_t elem, uint64_t n, const std::string& items) {
  return GgufBuilder::u32(elem) + GgufBuilder::u64(n) + items;
}

// The tokenizer and hyper-parameter keys a llama GGUF carries, with every value type.
GgufBuilder llama_keys() {
  std::string tokens, scores, types;
  for (int i = 0; i < 4; ++i) {
    tokens += GgufBuilder::str("t" + std::to_string(i));
    const float score = -1.0f * i;
    scores += std::string(reinterpret_cast<const char*>(&score), 4);
    types += GgufBuilder::u32(1);
  }
  const float eps = 1e-5f;
  return std::move(GgufBuilder()
                       .kv_string("general.architecture", "llama")
                       .kv_string("general.name", "seed")
                       .kv_u32("general.alignment", 32)
                       .kv_u32("llama.block_count", 1)
                       .kv_u32("llama.embedding_length", 8)
                       .kv_u32("llama.attention.head_count", 2)
                       .kv("llama.attention.layer_norm_rms_epsilon", kF32v,
                           std::string(reinterpret_cast<const char*>(&eps), 4))
                       .kv("tokenizer.ggml.add_bos_token", kBool, std::string(1, '\1'))
                       .kv_string("tokenizer.ggml.model", "llama")
                       .kv("tokenizer.ggml.tokens", kArray, array_of(kString, 4, tokens))
                       .kv("tokenizer.ggml.scores", kArray, array_of(kF32v, 4, scores))
                       .kv("tokenizer.ggml.token_type", kArray, array_of(kI32, 4, types))
                       .kv("seed.bytes", kArray, array_of(kU8, 3, "abc")));
}

void write_gguf_seeds(const fs::path& out) {
  fs::create_directories(out);
  owl::test::write_bytes((out / "empty.gguf").string(), GgufBuilder().bytes());
  owl::test::write_bytes((out / "keys.gguf").string(), llama_keys().bytes());
  // One tensor of each storage kind: plain floats, half floats, legacy and k-quant blocks.
  owl::test::write_bytes((out / "tensors.gguf").string(),
                         llama_keys()
                             .tensor("token_embd.weight", {8, 4}, kF32, 0)
                             .tensor("output_norm.weight", {8}, kF16, 128)
                             .tensor("blk.0.attn_q.weight", {32}, kQ4_0, 160)
                             .tensor("blk.0.attn_k.weight", {32}, kQ8_0, 192)
                             .tensor("blk.0.ffn_up.weight", {256}, kQ4_K, 256)
                             .data(std::string(256 + 144, '\x11'))
                             .bytes());
}

// Part `no` (0-based) of a split pair, holding one F32 tensor of 8 elements.
std::string split_part(char no, const std::string& tensor) {
  return GgufBuilder()
      .kv_string("general.architecture", "llama")
      .kv("split.no", kU16, std::string{no, '\0'})
      .kv("split.count", kU16, std::string("\x02\x00", 2))
      .tensor(tensor, {8}, kF32, 0)
      .data(std::string(32, 'y'))
      .bytes();
}

// Part 2 of the pair fuzz_gguf_split completes, and in `fixture` the part 1 it completes (kept
// in tests/data/gguf/split/ so that the target and the regression test need no builder).
void write_gguf_split_seeds(const fs::path& out, const fs::path& fixture) {
  fs::create_directories(out);
  fs::create_directories(fixture);
  owl::test::write_bytes((out / "part2.gguf").string(), split_part(1, "output.weight"));
  owl::test::write_bytes((fixture / "m-00001-of-00002.gguf").string(),
                         split_part(0, "token_embd.weight"));
}

// A llama2.c checkpoint: seven int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
// vocab_size, seq_len; a negative vocab_size means a separate classifier), then the float
// arrays in llama2.c's order. vocab 512 matches tests/data/stories260K/tok512.bin.
std::string llama2c(int32_t dim, int32_t hidden, int32_t layers, int32_t heads, int32_t kv_heads,
                    int32_t vocab, int32_t seq_len) {
  const uint64_t d = dim, hd = hidden, L = layers, V = vocab < 0 ? -vocab : vocab;
  const uint64_t kv = d * kv_heads / heads;
  const uint64_t per_layer = 2 * d + d * d + 2 * kv * d + d * d + 3 * hd * d;
  uint64_t floats = V * d + L * per_layer + d + uint64_t(seq_len) * (d / heads);
  if (vocab < 0) floats += V * d;
  std::string out;
  for (int32_t v : {dim, hidden, layers, heads, kv_heads, vocab, seq_len})
    out += std::string(reinterpret_cast<const char*>(&v), 4);
  for (uint64_t i = 0; i < floats; ++i) {
    const float f = 0.01f * static_cast<float>(i % 97) - 0.5f;
    out += std::string(reinterpret_cast<const char*>(&f), 4);
  }
  return out;
}

void write_llama2c_seeds(const fs::path& out) {
  fs::create_directories(out);
  owl::test::write_bytes((out / "shared.bin").string(), llama2c(8, 16, 1, 2, 2, 512, 4));
  owl::test::write_bytes((out / "classifier_gqa.bin").string(), llama2c(8, 16, 2, 2, 1, -512, 2));
}

// model.safetensors.index.json naming every tensor of `model` (beside the index) in one shard.
void write_index_seed(const fs::path& out, const fs::path& model) {
  fs::create_directories(out);
  const owl::Graph g = owl::safetensors::read_file(model.string());
  std::string map;
  for (const auto& t : g.tensors)
    map += std::string(map.empty() ? "" : ",") + "\n    \"" + t.name + "\": \"model.safetensors\"";
  owl::test::write_bytes((out / "model.safetensors.index.json").string(),
                         "{\n  \"metadata\": {\"total_size\": " + std::to_string(g.tensor_bytes()) +
                             "},\n  \"weight_map\": {" + map + "\n  }\n}\n");
}

// README.md model cards with the front-matter shapes owl reads (scalars, lists, flow lists,
// lists of mappings, block scalars, continued and multi-line quoted values), those it skips
// (nested mappings), YAML's anchors, aliases and merge keys, and the committed fixture cards.
void write_model_card_seeds(const fs::path& out) {
  fs::create_directories(out);
  owl::test::write_bytes((out / "card.md").string(),
                         "---\n"
                         "license: apache-2.0  # comment\n"
                         "license_name: \"a \\\"quoted\\\" name\"\n"
                         "base_model: meta-llama/Llama-3.1-8B\n"
                         "tags:\n- text-generation\n- 'it''s'\n"
                         "language: [en, \"fr\"]\n"
                         "datasets:\n  - name: Some Set\n    organization: Org\n"
                         "model-index:\n  - name: x\n    results:\n      - task: {type: y}\n"
                         "widget: |\n  free text: here\n"
                         "empty:\n"
                         "---\n# The model\n");
  owl::test::write_bytes((out / "base_models.md").string(),
                         "---\nbase_model:\n- org/a\n- org/b\nbase_model_relation: finetune\n"
                         "pipeline_tag: text-generation\n---\n");
  owl::test::write_bytes((out / "yaml.md").string(),
                         "---\ndescription: a line that\n  continues\n"
                         "name: \"quoted over\n  two lines \\u00e9\"\n"
                         "license_link: >-\n  folded\n  text\n"
                         "base: &b {name: B, organization: O}\n"
                         "base_model: [*b, {<<: *b, version: v2}]\n"
                         "? complex\n: key\n"
                         "tags: !!seq [a, !!str 1]\n---\n");
  for (const auto& e : fs::directory_iterator(fs::path(OWL_TEST_DATA) / "model_cards"))
    if (e.path().extension() == ".md") fs::copy_file(e.path(), out / e.path().filename());
}

}  // namespace

// Importance matrices in both formats: a dense entry, and experts of which one saw no token.
void write_imatrix_seeds(const fs::path& out) {
  fs::create_directories(out);
  owl::Imatrix m;
  m.entries["blk.0.attn_q.weight"] = {{4, 8, 12, 16}, {4}};
  m.entries["blk.0.ffn_up_exps.weight"] = {{6, 9, 0, 0}, {3, 0}};
  m.datasets = {"wiki.txt"};
  m.chunk_count = 2;
  m.chunk_size = 2;
  owl::write_imatrix_gguf(m, (out / "imatrix.gguf").string());
  owl::write_imatrix_dat(m, (out / "imatrix.dat").string());
}

// A journal as a killed `owl quantize --resume` leaves it: two whole entries, the last torn.
void write_resume_journal_seeds(const fs::path& out) {
  fs::create_directories(out);
  using owl::resume::journal_line;
  std::string text = owl::resume::journal_header(std::string(32, 'c'));
  text += journal_line({0, 640, 8192, std::string(32, 'e'), "blk.0.attn_q.weight"});
  text += journal_line({1, 8832, 256, std::string(32, 'f'), "odd %name"});
  text += journal_line({0, 9088, 4096, std::string(32, '1'), "output.weight"}).substr(0, 20);
  owl::test::write_bytes((out / "journal").string(), text);
}

// Provenance records as owl writes them, under both key prefixes.
void write_provenance_seeds(const fs::path& out) {
  fs::create_directories(out);
  owl::ProvenanceRecord r;
  r.tool = "owl 0.1.0";
  r.source_commit = "68b0c99";
  r.command = "quantize";
  r.options = {"--type=Q4_K_M", "--imatrix=imatrix.gguf"};
  r.inputs = {{"config.json", 610, std::string(64, 'a')},
              {"model.safetensors", 1 << 20, std::string(64, 'b')},
              {"imatrix.gguf", 4096, std::string(64, 'c')}};
  r.hf_repo = "Org/Name";
  r.hf_commit = std::string(40, 'd');
  r.relation = "quantized";
  r.tensors = {{"token_embd.weight", std::string(32, 'e')},
               {"output.weight", std::string(32, 'f')}};
  r.tensors_digest = owl::tensors_digest(r.tensors);
  for (const std::string prefix : {"", owl::safetensors::kMetadataPrefix}) {
    const std::string name = prefix.empty() ? "gguf.record" : "safetensors.record";
    owl::test::write_bytes((out / name).string(), owl::fuzz::provenance_input_of(
                                                      owl::provenance_metadata(r, prefix), prefix));
  }
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds OUT_DIR\n");
    return 64;
  }
  const fs::path out = argv[1];
  write_gguf_seeds(out / "fuzz_gguf");
  write_gguf_split_seeds(out / "fuzz_gguf_split", out / "gguf_split_fixture");
  write_llama2c_seeds(out / "fuzz_llama2c");
  write_model_card_seeds(out / "fuzz_model_card");
  write_imatrix_seeds(out / "fuzz_imatrix");
  write_resume_journal_seeds(out / "fuzz_resume_journal");
  write_provenance_seeds(out / "fuzz_provenance");
  write_index_seed(out / "fuzz_safetensors_index",
                   fs::path(OWL_TEST_DATA) / "hf/tiny-llama3/model.safetensors");
  return 0;
}
