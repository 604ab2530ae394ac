// The architecture normalizers: names, shapes, keys and bytes on small hand-built graphs.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <map>
#include <numbers>

#include "converters/arch/arch.h"
#include "converters/arch/model_card.h"
#include "converters/arch/model_naming.h"
#include "converters/arch/norm_shift.h"
#include "converters/arch/permute.h"
#include "formats/hf/folder.h"
#include "formats/io/error.h"
#include "formats/json/strict_json.h"
#include "tests/test_util.h"

namespace owl {
namespace {

using arch::RopeOrder;
using arch::RopePermuteSource;

SourcePtr buffer(std::vector<std::byte> b) {
  return std::make_shared<BufferSource>(std::move(b));
}

// Distinct F32 values that survive (w + 1) - 1 exactly, so Gemma's shift round-trips.
std::vector<std::byte> f32_bytes(uint64_t n, float seed) {
  std::vector<float> v(n);
  for (uint64_t i = 0; i < n; ++i)
    v[i] = std::ldexp(
        static_cast<float>((i * 37 + static_cast<uint64_t>(seed * 64)) % 512) - 256.0f, -9);
  std::vector<std::byte> out(n * 4);
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

std::vector<float> floats(const Tensor& t) {
  auto bytes = read_all(*t.data);
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), bytes.size());
  return v;
}

struct Spec {
  std::string name;
  std::vector<uint64_t> shape;
};

Graph hf_graph(const std::string& config_json, const std::vector<Spec>& specs,
               const std::string& folder = "") {
  Graph g;
  g.format = "safetensors";
  hf::flatten_json(parse_json_strict(config_json, "config.json"), hf::kConfigPrefix, g.metadata);
  g.metadata.set("safetensors.metadata.format", Value::string("pt"));
  g.architecture = g.metadata.get_string("hf.config.model_type").value_or("");
  float seed = 1;
  for (const auto& s : specs) {
    uint64_t n = 1;
    for (auto d : s.shape) n *= d;
    g.tensors.push_back(Tensor{s.name, s.shape, ElemType::F32, buffer(f32_bytes(n, seed++))});
  }
  g.inputs.push_back(
      {(folder.empty() ? std::string("/nonexistent/tiny-model") : folder) + "/config.json", 1});
  return g;
}

// The layer tensors of a Llama-shaped model, in safetensors' alphabetical order.
std::vector<Spec> llama_specs(uint64_t hidden, uint64_t ff, uint64_t q_rows, uint64_t kv_rows,
                              int layers, bool lm_head, bool bias = false) {
  std::vector<Spec> s = {{"model.embed_tokens.weight", {32, hidden}},
                         {"model.norm.weight", {hidden}}};
  if (lm_head) s.push_back({"lm_head.weight", {32, hidden}});
  for (int i = 0; i < layers; ++i) {
    const std::string b = "model.layers." + std::to_string(i) + ".";
    s.push_back({b + "input_layernorm.weight", {hidden}});
    s.push_back({b + "mlp.down_proj.weight", {hidden, ff}});
    s.push_back({b + "mlp.gate_proj.weight", {ff, hidden}});
    s.push_back({b + "mlp.up_proj.weight", {ff, hidden}});
    s.push_back({b + "post_attention_layernorm.weight", {hidden}});
    s.push_back({b + "self_attn.k_proj.weight", {kv_rows, hidden}});
    s.push_back({b + "self_attn.o_proj.weight", {hidden, q_rows}});
    s.push_back({b + "self_attn.q_proj.weight", {q_rows, hidden}});
    s.push_back({b + "self_attn.v_proj.weight", {kv_rows, hidden}});
    if (bias) {
      s.push_back({b + "self_attn.k_proj.bias", {kv_rows}});
      s.push_back({b + "self_attn.q_proj.bias", {q_rows}});
      s.push_back({b + "self_attn.v_proj.bias", {kv_rows}});
    }
  }
  return s;
}

std::vector<std::string> names(const Graph& g) {
  std::vector<std::string> out;
  for (const auto& t : g.tensors) out.push_back(t.name);
  return out;
}

const Value& key(const Graph& g, const std::string& k) {
  const Value* v = g.metadata.find(k);
  INFO("key " << k);
  REQUIRE(v != nullptr);
  return *v;
}

void check_u32(const Graph& g, const std::string& k, uint64_t want) {
  const Value& v = key(g, k);
  INFO(k);
  CHECK(v.type() == ValueType::U32);
  CHECK(v.as_u64() == want);
}

void check_f32(const Graph& g, const std::string& k, double want) {
  const Value& v = key(g, k);
  INFO(k);
  CHECK(v.type() == ValueType::F32);
  CHECK(v.as_f64() == static_cast<double>(static_cast<float>(want)));
}

// Every tensor of `before` is in `after` under the same name with the same type, shape and bytes.
void check_round_trip(const Graph& before, const Graph& after) {
  REQUIRE(before.tensors.size() == after.tensors.size());
  for (const auto& t : before.tensors) {
    INFO(t.name);
    const Tensor* back = after.find(t.name);
    REQUIRE(back != nullptr);
    CHECK(back->type == t.type);
    CHECK(back->shape == t.shape);
    CHECK(read_all(*back->data) == read_all(*t.data));
  }
}

// Copies tensors so the original graph survives the in-place passes.
Graph copy(const Graph& g) {
  return g;
}

}  // namespace

TEST_CASE("RoPE permutation interleaves each head's halves, any row size", "[arch]") {
  // 2 heads of 4 rows, rows of 3 opaque bytes: row r holds bytes {r, r, r}.
  std::vector<std::byte> rows(8 * 3);
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = std::byte(i / 3);
  auto src = buffer(rows);
  RopePermuteSource p(src, 8, 3, 2, RopeOrder::to_gguf);
  // Per head [2, 2] -> [2, 2] transposed: rows 0 2 1 3, then 4 6 5 7.
  const std::vector<int> want = {0, 2, 1, 3, 4, 6, 5, 7};
  auto all = read_all(p);
  for (int r = 0; r < 8; ++r) CHECK(all[r * 3] == std::byte(want[r]));
  CHECK(p.granule() == 3);

  // Any row-aligned range, straight into the caller's buffer.
  std::vector<std::byte> part(3 * 3);
  p.read(3 * 3, part);
  CHECK(part[0] == std::byte(3));
  CHECK(part[3] == std::byte(4));
  CHECK(part[6] == std::byte(6));
  std::vector<std::byte> odd(2);
  CHECK_THROWS(p.read(1, odd));

  // The inverse gives the input back, for a head of 6 rows too.
  std::vector<std::byte> six(12 * 2);
  for (size_t i = 0; i < six.size(); ++i) six[i] = std::byte(i);
  auto forward = std::make_shared<RopePermuteSource>(buffer(six), 12, 2, 2, RopeOrder::to_gguf);
  RopePermuteSource back(forward, 12, 2, 2, RopeOrder::from_gguf);
  CHECK(read_all(back) == six);
  CHECK(forward->source_row(1) ==
        3);  // head of 6: [2, 3] -> [3, 2]: output row 1 is (0, 1) <- input (1, 0)

  CHECK_THROWS_AS(RopePermuteSource(src, 8, 3, 3, RopeOrder::to_gguf), UsageError);
}

TEST_CASE("Gemma norm shift adds one in F32 from F32, F16 and BF16", "[arch]") {
  std::vector<std::byte> bf(4);
  const uint16_t a = 0x3e80, b = 0xbf00;  // bf16 0.25, -0.5
  std::memcpy(bf.data(), &a, 2);
  std::memcpy(bf.data() + 2, &b, 2);
  arch::NormShiftSource s(buffer(bf), ElemType::BF16, ElemType::F32, 2, 1.0f);
  REQUIRE(s.byte_size() == 8);
  auto out = read_all(s);
  float f[2];
  std::memcpy(f, out.data(), 8);
  CHECK(f[0] == 1.25f);
  CHECK(f[1] == 0.5f);
  CHECK_THROWS_AS(arch::NormShiftSource(buffer(bf), ElemType::I16, ElemType::F32, 2, 1.0f),
                  UsageError);
}

TEST_CASE("Llama: GGUF names, reference order, permuted q/k, keys, rope_freqs, and back",
          "[arch]") {
  const std::string config = R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama",
    "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 4,
    "num_key_value_heads": 2, "vocab_size": 32, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
    "max_position_embeddings": 256, "tie_word_embeddings": false, "torch_dtype": "float32",
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"}})";
  const Graph hf = hf_graph(config, llama_specs(16, 24, 16, 8, 2, true));
  Graph g = copy(hf);
  arch::to_gguf(g);

  CHECK(g.architecture == "llama");
  const auto n = names(g);
  REQUIRE(n.size() == 4 + 2 * 9);
  CHECK(n[0] == "rope_freqs.weight");  // generated tensors first
  CHECK(n[1] == "output.weight");      // then by HF name: lm_head < model.*
  CHECK(n[2] == "token_embd.weight");
  CHECK(n[3] == "blk.0.attn_norm.weight");
  CHECK(n[4] == "blk.0.ffn_down.weight");
  CHECK(n[11] == "blk.0.attn_v.weight");
  CHECK(n.back() == "output_norm.weight");
  CHECK(g.find("blk.1.attn_q.weight")->shape == std::vector<uint64_t>{16, 16});
  CHECK(g.find("rope_freqs.weight")->shape == std::vector<uint64_t>{2});

  // q rows permuted per head (4 rows per head): HF row order 0 2 1 3 within each head.
  const auto q_hf = floats(*hf.find("model.layers.0.self_attn.q_proj.weight"));
  const auto q = floats(*g.find("blk.0.attn_q.weight"));
  CHECK(q[1 * 16] == q_hf[2 * 16]);
  CHECK(q[2 * 16] == q_hf[1 * 16]);
  CHECK(q[5 * 16] == q_hf[6 * 16]);
  // k permuted over 2 kv heads of 4 rows.
  const auto k_hf = floats(*hf.find("model.layers.0.self_attn.k_proj.weight"));
  const auto k = floats(*g.find("blk.0.attn_k.weight"));
  CHECK(k[1 * 16] == k_hf[2 * 16]);
  CHECK(floats(*g.find("blk.0.attn_v.weight")) ==
        floats(*hf.find("model.layers.0.self_attn.v_proj.weight")));

  const auto& md = g.metadata.entries();
  CHECK(md[0].first == "general.architecture");
  CHECK(md[1].first == "general.type");
  CHECK(key(g, "general.name").as_string() == "Tiny Model");
  CHECK(key(g, "general.size_label").as_string() == "4.9K");  // 4,946 parameters
  check_u32(g, "llama.block_count", 2);
  check_u32(g, "llama.context_length", 256);
  check_u32(g, "llama.embedding_length", 16);
  check_u32(g, "llama.feed_forward_length", 24);
  check_u32(g, "llama.attention.head_count", 4);
  check_u32(g, "llama.attention.head_count_kv", 2);
  check_f32(g, "llama.rope.freq_base", 500000.0);
  check_f32(g, "llama.attention.layer_norm_rms_epsilon", 1e-5);
  check_u32(g, "llama.attention.key_length", 4);
  check_u32(g, "llama.vocab_size", 32);
  check_u32(g, "llama.rope.dimension_count", 4);
  CHECK(g.metadata.find("llama.rope.scaling.type") == nullptr);
  for (const auto& [k2, v] : md) {
    CHECK_FALSE(k2.starts_with("hf.config."));
    CHECK_FALSE(k2.starts_with("safetensors."));
  }
  // head_dim 4: frequency 1 has wavelength 2pi, below 8192/4: factor 1. Frequency theta^-1/2 has
  // wavelength ~4443, between 8192/4 and 8192/1: smoothed between 1 and 8.
  const double wavelen = 2 * std::numbers::pi * std::sqrt(500000.0);
  const double smooth = (8192 / wavelen - 1) / 3;
  const auto freqs = floats(*g.find("rope_freqs.weight"));
  REQUIRE(freqs.size() == 2);
  CHECK(freqs[0] == 1.0f);
  CHECK(freqs[1] == Approx(1 / ((1 - smooth) / 8 + smooth)).epsilon(1e-6));

  Graph back = copy(g);
  arch::to_hf(back);
  check_round_trip(hf, back);
  CHECK(back.metadata.get_string("hf.config.model_type") == "llama");
  CHECK(back.metadata.get_int("hf.config.num_key_value_heads") == 2);
  CHECK(back.metadata.get_int("hf.config.vocab_size") == 32);
  CHECK(key(back, "hf.config.rms_norm_eps").as_f64() == 1e-5);
  CHECK(key(back, "hf.config.tie_word_embeddings").as_bool() == false);
  CHECK(back.metadata.get_string("hf.config.torch_dtype") == "float32");
  CHECK(back.metadata.get_string("hf.config.rope_scaling.rope_type") == "llama3");
  CHECK(key(back, "hf.config.rope_scaling.factor").as_f64() == 8.0);
  CHECK(back.metadata.find("llama.block_count") == nullptr);
}

TEST_CASE("Mistral converts as llama; Qwen2 keeps biases unpermuted and ties the output",
          "[arch]") {
  Graph m = hf_graph(
      R"({"architectures": ["MistralForCausalLM"], "model_type": "mistral", "hidden_size": 16,
    "intermediate_size": 24, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2,
    "vocab_size": 32})",
      llama_specs(16, 24, 16, 8, 1, true));
  arch::to_gguf(m);
  CHECK(m.architecture == "llama");
  check_u32(m, "llama.context_length", 131072);  // transformers' MistralConfig default
  check_f32(m, "llama.rope.freq_base", 10000.0);
  check_f32(m, "llama.attention.layer_norm_rms_epsilon", 1e-6);

  const Graph hf =
      hf_graph(R"({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 16,
    "intermediate_size": 24, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2,
    "vocab_size": 32, "tie_word_embeddings": true, "rope_theta": 1000000.0,
    "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64}})",
               llama_specs(16, 24, 16, 8, 1, false, true));
  Graph g = copy(hf);
  arch::to_gguf(g);
  CHECK(g.architecture == "qwen2");
  CHECK(g.find("output.weight") == nullptr);
  CHECK(g.find("blk.0.attn_q.bias")->shape == std::vector<uint64_t>{16});
  CHECK(floats(*g.find("blk.0.attn_q.weight")) ==
        floats(*hf.find("model.layers.0.self_attn.q_proj.weight")));
  CHECK(g.metadata.find("qwen2.vocab_size") == nullptr);
  CHECK(g.metadata.find("qwen2.attention.key_length") == nullptr);
  CHECK(key(g, "qwen2.rope.scaling.type").as_string() == "yarn");
  check_f32(g, "qwen2.rope.scaling.factor", 4.0);
  check_u32(g, "qwen2.rope.scaling.original_context_length", 64);
  check_u32(g, "qwen2.context_length", 32768);

  Graph back = copy(g);
  arch::to_hf(back);
  check_round_trip(hf, back);
  CHECK(key(back, "hf.config.tie_word_embeddings").as_bool());
  CHECK(back.metadata.get_string("hf.config.rope_scaling.rope_type") == "yarn");
}

TEST_CASE("Qwen3: q/k norms, head_dim apart from hidden/heads", "[arch]") {
  auto specs = llama_specs(16, 24, 32, 16, 1, false);
  specs.push_back({"model.layers.0.self_attn.k_norm.weight", {8}});
  specs.push_back({"model.layers.0.self_attn.q_norm.weight", {8}});
  const Graph hf =
      hf_graph(R"({"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": 16,
    "intermediate_size": 24, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2,
    "head_dim": 8, "vocab_size": 32, "tie_word_embeddings": true, "rms_norm_eps": 1e-6})",
               specs);
  Graph g = copy(hf);
  arch::to_gguf(g);
  CHECK(g.architecture == "qwen3");
  CHECK(g.find("blk.0.attn_q_norm.weight")->shape == std::vector<uint64_t>{8});
  CHECK(g.find("blk.0.attn_k_norm.weight") != nullptr);
  CHECK(g.find("blk.0.attn_q.weight")->shape == std::vector<uint64_t>{32, 16});
  check_u32(g, "qwen3.attention.key_length", 8);
  check_u32(g, "qwen3.attention.value_length", 8);
  Graph back = copy(g);
  arch::to_hf(back);
  check_round_trip(hf, back);
  CHECK(back.metadata.get_int("hf.config.head_dim") == 8);
}

TEST_CASE("Gemma family: norms + 1 in F32, lm_head dropped, Gemma 2/3 names and keys", "[arch]") {
  auto gemma_specs = [](bool extra_norms, bool qk_norm) {
    auto s = llama_specs(16, 24, 32, 16, 1, false);
    if (extra_norms) {
      s.push_back({"model.layers.0.post_feedforward_layernorm.weight", {16}});
      s.push_back({"model.layers.0.pre_feedforward_layernorm.weight", {16}});
    }
    if (qk_norm) {
      s.push_back({"model.layers.0.self_attn.k_norm.weight", {8}});
      s.push_back({"model.layers.0.self_attn.q_norm.weight", {8}});
    }
    return s;
  };
  const std::string dims = R"("hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 1,
    "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8, "vocab_size": 32)";

  auto s1 = gemma_specs(false, false);
  s1.push_back({"lm_head.weight", {32, 16}});
  const Graph hf1 = hf_graph(
      R"({"architectures": ["GemmaForCausalLM"], "model_type": "gemma", )" + dims + "}", s1);
  Graph g1 = copy(hf1);
  arch::to_gguf(g1);
  CHECK(g1.find("output.weight") == nullptr);
  const Tensor* norm = g1.find("blk.0.attn_norm.weight");
  CHECK(norm->type == ElemType::F32);
  const auto before = floats(*hf1.find("model.layers.0.input_layernorm.weight"));
  CHECK(floats(*norm)[3] == before[3] + 1.0f);
  CHECK(floats(*g1.find("blk.0.attn_q.weight")) ==
        floats(*hf1.find("model.layers.0.self_attn.q_proj.weight")));
  check_u32(g1, "gemma.context_length", 8192);
  check_u32(g1, "gemma.attention.key_length", 8);
  CHECK(g1.metadata.find("gemma.rope.freq_base") == nullptr);
  // Gemma's own keys end the architecture keys; the general keys the reference writes after
  // them close the block.
  const auto& e1 = g1.metadata.entries();
  CHECK(e1[e1.size() - 3].first == "gemma.attention.value_length");
  CHECK(e1[e1.size() - 2].first == "general.file_type");
  CHECK(e1[e1.size() - 1].first == "general.quantization_version");

  const Graph hf2 =
      hf_graph(R"({"architectures": ["Gemma2ForCausalLM"], "model_type": "gemma2", )" + dims +
                   R"(, "sliding_window": 64, "final_logit_softcapping": 30.0})",
               gemma_specs(true, false));
  Graph g2 = copy(hf2);
  arch::to_gguf(g2);
  CHECK(g2.find("blk.0.post_attention_norm.weight") != nullptr);
  CHECK(g2.find("blk.0.ffn_norm.weight") != nullptr);
  CHECK(g2.find("blk.0.post_ffw_norm.weight") != nullptr);
  check_f32(g2, "gemma2.attn_logit_softcapping", 50.0);
  check_f32(g2, "gemma2.final_logit_softcapping", 30.0);
  check_u32(g2, "gemma2.attention.sliding_window", 64);
  Graph back2 = copy(g2);
  arch::to_hf(back2);
  check_round_trip(hf2, back2);
  CHECK(back2.metadata.get_int("hf.config.query_pre_attn_scalar") == 8);

  const Graph hf3 = hf_graph(
      R"({"architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text", )" + dims +
          R"(, "sliding_window": 64, "rope_local_base_freq": 10000.0, "rope_theta": 1000000.0,
    "rope_scaling": {"rope_type": "linear", "factor": 8.0}})",
      gemma_specs(true, true));
  Graph g3 = copy(hf3);
  g3.metadata.set(
      "tokenizer.ggml.tokens",
      Value::array(Array(ValueType::STRING, std::vector<Value>(30, Value::string("t")))));
  arch::to_gguf(g3);
  CHECK(g3.find("blk.0.attn_q_norm.weight")->type == ElemType::F32);
  CHECK(g3.find("token_embd.weight")->shape ==
        std::vector<uint64_t>{30, 16});  // trimmed to the tokenizer
  check_f32(g3, "gemma3.rope.freq_base", 1e6);
  check_f32(g3, "gemma3.rope.freq_base_swa", 1e4);
  CHECK(key(g3, "gemma3.rope.scaling.type").as_string() == "linear");
  check_u32(g3, "gemma3.attention.sliding_window", 64);
  check_u32(g3, "gemma3.context_length", 131072);
  CHECK(g3.metadata.find("tokenizer.ggml.tokens") != nullptr);
  CHECK(g3.metadata.entries().back().first == "tokenizer.ggml.tokens");
}

TEST_CASE("Phi-3: fused tensors keep their shape; LongRoPE factors become tensors", "[arch]") {
  std::vector<Spec> specs = {{"lm_head.weight", {32, 16}},
                             {"model.embed_tokens.weight", {32, 16}},
                             {"model.layers.0.input_layernorm.weight", {16}},
                             {"model.layers.0.mlp.down_proj.weight", {16, 24}},
                             {"model.layers.0.mlp.gate_up_proj.weight", {48, 16}},
                             {"model.layers.0.post_attention_layernorm.weight", {16}},
                             {"model.layers.0.self_attn.o_proj.weight", {16, 16}},
                             {"model.layers.0.self_attn.qkv_proj.weight", {32, 16}},
                             {"model.norm.weight", {16}}};
  const Graph hf =
      hf_graph(R"({"architectures": ["Phi3ForCausalLM"], "model_type": "phi3", "hidden_size": 16,
    "intermediate_size": 24, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2,
    "vocab_size": 32, "max_position_embeddings": 1024, "original_max_position_embeddings": 256,
    "rope_scaling": {"type": "longrope", "long_factor": [1.5, 2.0], "short_factor": [1.0, 1.25]}})",
               specs);
  Graph g = copy(hf);
  arch::to_gguf(g);
  CHECK(g.architecture == "phi3");
  CHECK(names(g)[0] == "rope_factors_long.weight");
  CHECK(names(g)[1] == "rope_factors_short.weight");
  CHECK(g.find("blk.0.attn_qkv.weight")->shape == std::vector<uint64_t>{32, 16});
  CHECK(g.find("blk.0.ffn_up.weight")->shape == std::vector<uint64_t>{48, 16});
  CHECK(floats(*g.find("rope_factors_short.weight")) == std::vector<float>{1.0f, 1.25f});
  // The reference writes the attention factor while generating the tensors, before the rest.
  CHECK(g.metadata.entries()[1].first == "phi3.rope.scaling.attn_factor");
  check_f32(g, "phi3.rope.scaling.attn_factor", std::sqrt(1 + std::log(4.0) / std::log(256.0)));
  check_u32(g, "phi3.rope.scaling.original_context_length", 256);
  check_u32(g, "phi3.rope.dimension_count", 4);
  check_u32(g, "phi3.attention.sliding_window", 0);

  Graph back = copy(g);
  arch::to_hf(back);
  CHECK(back.tensors.size() == hf.tensors.size());
  for (const auto& t : hf.tensors) CHECK(read_all(*back.find(t.name)->data) == read_all(*t.data));
  CHECK(back.metadata.get_string("hf.config.rope_scaling.type") == "longrope");
  CHECK(key(back, "hf.config.rope_scaling.long_factor").as_array().size() == 2);
}

TEST_CASE("Unsupported or unknown architectures are refused by name", "[arch]") {
  Graph g = hf_graph(
      R"({"architectures": ["FalconForCausalLM"], "model_type": "falcon", "hidden_size": 16})", {});
  try {
    arch::to_gguf(g);
    FAIL("expected an error");
  } catch (const InputError& e) {
    const std::string what = e.what();
    CHECK(what.find("FalconForCausalLM") != std::string::npos);
    CHECK(what.find("Qwen3ForCausalLM") != std::string::npos);
    CHECK(what.find("Gemma2ForCausalLM") != std::string::npos);
  }
  Graph bare;
  bare.tensors.push_back(Tensor{"x", {1}, ElemType::F32, buffer(f32_bytes(1, 1))});
  CHECK_THROWS_WITH(arch::to_gguf(bare), Catch::Contains("no config.json"));

  // A tensor with no place in the model, and a missing size, name config.json or the tensor.
  auto specs = llama_specs(16, 24, 16, 8, 1, true);
  specs.push_back(
      {"model.layers.0.self_attn.rotary_emb.inv_freq", {2}});  // skipped, as the reference does
  specs.push_back({"model.layers.0.mystery.weight", {2}});
  Graph odd = hf_graph(
      R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 16, "intermediate_size": 24,
    "num_hidden_layers": 1, "num_attention_heads": 4, "vocab_size": 32})",
      specs);
  CHECK_THROWS_WITH(arch::to_gguf(odd), Catch::Contains("model.layers.0.mystery.weight"));
  Graph missing = hf_graph(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 16})", {});
  CHECK_THROWS_AS(arch::to_gguf(missing), InputError);
  CHECK_THROWS_WITH(arch::to_gguf(missing),
                    Catch::Contains("config.json") && Catch::Contains("num_hidden_layers"));
}

TEST_CASE("llama2.c graphs get the llama keys llama.cpp needs", "[arch]") {
  Graph g;
  g.format = "llama2c";
  g.architecture = "llama";
  const std::pair<const char*, int32_t> fields[] = {
      {"dim", 64},       {"hidden_dim", 172}, {"n_layers", 5}, {"n_heads", 8},
      {"n_kv_heads", 4}, {"vocab_size", 512}, {"seq_len", 512}};
  for (const auto& [k, v] : fields) g.metadata.set(std::string("llama2c.") + k, Value::i32(v));
  g.metadata.set("llama2c.shared_classifier", Value::boolean(true));
  g.inputs.push_back({"/models/stories260K.bin", 1});
  arch::to_gguf(g);
  CHECK(key(g, "general.architecture").as_string() == "llama");
  CHECK(key(g, "general.name").as_string() == "stories260K");
  check_u32(g, "llama.context_length", 512);
  check_u32(g, "llama.rope.dimension_count", 8);
  check_u32(g, "llama.attention.head_count_kv", 4);
  check_f32(g, "llama.rope.freq_base", 10000.0);
  check_f32(g, "llama.attention.layer_norm_rms_epsilon", 1e-5);
  for (const auto& [k, v] : g.metadata) CHECK_FALSE(k.starts_with("llama2c."));
}

TEST_CASE("Model card front matter: the YAML subset cards use", "[arch]") {
  const std::string card =
      "---\n"
      "license: apache-2.0   # a comment\n"
      "license_name: \"my \\\"license\\\"\"\n"
      "base_model: meta-llama/Llama-3.1-8B\n"
      "tags:\n"
      "- text-generation\n"
      "- 'it''s'\n"
      "language: [en, \"fr\"]\n"
      "model-index:\n"
      "  - name: x\n"
      "    results:\n"
      "      - task: {type: y}\n"
      "datasets:\n"
      "  - name: Some Set\n"
      "    organization: Org\n"
      "widget: |\n"
      "  free text: here\n"
      "empty:\n"
      "---\n"
      "# The model\n";
  const auto fm = arch::parse_front_matter(card, "README.md");
  REQUIRE(fm.find("license"));
  CHECK(fm.find("license")->scalar == "apache-2.0");
  CHECK(fm.find("license_name")->scalar == "my \"license\"");
  CHECK(fm.find("base_model")->scalar == "meta-llama/Llama-3.1-8B");
  REQUIRE(fm.find("tags")->items.size() == 2);
  CHECK(*fm.find("tags")->items[1].scalar == "it's");
  REQUIRE(fm.find("language")->items.size() == 2);
  CHECK(*fm.find("language")->items[1].scalar == "fr");
  REQUIRE(fm.find("datasets")->items.size() == 1);
  CHECK(fm.find("datasets")->items[0].mapping.size() == 2);
  CHECK(fm.find("widget")->scalar == "free text: here\n");  // a block scalar is text
  CHECK(fm.find("empty")->kind == arch::CardValue::Kind::null);
  CHECK(arch::parse_front_matter("# no front matter\n---\n", "README.md").size() == 0);

  auto bad = [](const std::string& text) {
    CHECK_THROWS_AS(arch::parse_front_matter(text, "x/README.md"), InputError);
    CHECK_THROWS_WITH(arch::parse_front_matter(text, "x/README.md"),
                      Catch::Contains("x/README.md"));
  };
  bad("---\nlicense: \"mit\n---\n");      // unterminated quote
  bad("---\ntags: [a, b\n---\n");         // unterminated list
  bad("---\njust text\n---\n");           // not a mapping
  bad("---\nname: 'a' trailing\n---\n");  // text after a quoted string
  bad("---\n" + std::string(arch::kMaxFrontMatterBytes + 10, 'x') + ": y\n---\n");  // too long
  std::string many = "---\ntags:\n";
  for (size_t i = 0; i <= arch::kMaxListItems; ++i) many += "- t\n";
  bad(many + "---\n");
}

TEST_CASE("Model names, size labels and card facts as convert_hf_to_gguf derives them", "[arch]") {
  auto p = arch::model_id_parts("Qwen/Qwen2.5-7B-Instruct", 7'600'000'000);
  CHECK(*p.organization == "Qwen");
  CHECK(*p.basename == "Qwen2.5");
  CHECK(*p.size_label == "7B");
  CHECK(*p.finetune == "Instruct");
  CHECK_FALSE(p.version);
  p = arch::model_id_parts("Meta-Llama-3.1-8B-Instruct-128k", 8'000'000'000);
  CHECK(*p.basename == "Meta-Llama-3.1");
  CHECK(*p.finetune == "Instruct-128k");
  p = arch::model_id_parts("bloom-7b1", 7'100'000'000);
  CHECK(*p.size_label == "7.1B");
  p = arch::model_id_parts("llama", 1000);
  CHECK_FALSE(p.basename);
  CHECK(arch::id_to_title("qwen2.5-coder-v1.5") == "Qwen2.5 Coder v1.5");
  CHECK(arch::id_to_title("gemma2b") == "Gemma2B");
  CHECK(arch::size_label(95'232) == "95K");
  CHECK(arch::size_label(1'100'048'384) == "1.1B");
  CHECK(arch::size_label(7'241'732'096) == "7.2B");
  CHECK(arch::size_label(494'032'768) == "494M");

  test::TempDir dir;
  const auto folder = dir.path() / "Qwen2.5-0.5B-Instruct";
  std::filesystem::create_directories(folder);
  test::write_bytes((folder / "README.md").string(),
                    "---\nlicense: apache-2.0\nbase_model:\n- Qwen/Qwen2.5-0.5B\ntags: "
                    "[chat]\npipeline_tag: text-generation\n"
                    "language:\n- en\n---\n");
  test::write_bytes((folder / "generation_config.json").string(),
                    R"({"top_k": 20, "temperature": 0.7})");
  auto specs = llama_specs(16, 24, 16, 8, 1, false, true);
  Graph g =
      hf_graph(R"({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 16,
    "intermediate_size": 24, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2,
    "vocab_size": 32, "tie_word_embeddings": true})",
               specs, folder.string());
  arch::to_gguf(g);
  CHECK(key(g, "general.name").as_string() == "Qwen2.5 0.5B Instruct");
  CHECK(key(g, "general.basename").as_string() == "Qwen2.5");
  CHECK(key(g, "general.finetune").as_string() == "0.5b-Instruct");  // 0.5B is far from 1.4K params
  CHECK(key(g, "general.license").as_string() == "apache-2.0");
  check_u32(g, "general.base_model.count", 1);
  CHECK(key(g, "general.base_model.0.name").as_string() == "Qwen2.5 0.5B");
  CHECK(key(g, "general.base_model.0.organization").as_string() == "Qwen");
  CHECK(key(g, "general.base_model.0.repo_url").as_string() ==
        "https://huggingface.co/Qwen/Qwen2.5-0.5B");
  const auto& tags = key(g, "general.tags").as_array();
  REQUIRE(tags.size() == 2);
  CHECK(tags.string_at(1) == "text-generation");
  CHECK(key(g, "general.languages").as_array().string_at(0) == "en");
  CHECK(key(g, "general.sampling.top_k").type() == ValueType::I32);
  check_f32(g, "general.sampling.temp", 0.7);
}

}  // namespace owl
