// Mixtures of experts: the stacked-expert source reads one expert after another and holds
// nothing itself; the families' experts are gathered, split and renamed as the reference does.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <numeric>

#include "converters/arch/arch.h"
#include "converters/arch/stack.h"
#include "formats/hf/folder.h"
#include "formats/io/error.h"
#include "formats/json/strict_json.h"

namespace owl {
namespace {

using arch::StackSource;

// An expert's bytes that count how they are read: how many reads, how many bytes in all, the
// largest single read, and how many bytes were released.
class CountingSource final : public Source {
 public:
  explicit CountingSource(std::vector<std::byte> bytes) : bytes_(std::move(bytes)) {}
  uint64_t byte_size() const override { return bytes_.size(); }
  uint64_t granule() const override { return 4; }
  void read(uint64_t offset, std::span<std::byte> out) const override {
    REQUIRE(offset + out.size() <= bytes_.size());
    std::memcpy(out.data(), bytes_.data() + offset, out.size());
    ++reads;
    bytes_read += out.size();
    largest_read = std::max<uint64_t>(largest_read, out.size());
  }
  void release_range(uint64_t, uint64_t length) const override { released += length; }

  mutable std::atomic<uint64_t> reads = 0, bytes_read = 0, largest_read = 0, released = 0;

 private:
  std::vector<std::byte> bytes_;
};

std::vector<std::byte> pattern(uint64_t n, uint8_t seed) {
  std::vector<std::byte> v(n);
  for (uint64_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 7 + seed * 31) & 0xff);
  return v;
}

struct Experts {
  std::vector<std::shared_ptr<CountingSource>> counted;
  std::vector<SourcePtr> parts;
  std::vector<std::byte> all;  // what the stack must read as
};

Experts make_experts(int n, uint64_t bytes) {
  Experts e;
  for (int i = 0; i < n; ++i) {
    auto b = pattern(bytes, static_cast<uint8_t>(i));
    e.all.insert(e.all.end(), b.begin(), b.end());
    e.counted.push_back(std::make_shared<CountingSource>(std::move(b)));
    e.parts.push_back(e.counted.back());
  }
  return e;
}

TEST_CASE("StackSource streams one expert after another, each read once", "[experts]") {
  constexpr uint64_t kExpert = 4096;
  Experts e = make_experts(8, kExpert);
  const StackSource stack(e.parts);
  REQUIRE(stack.byte_size() == 8 * kExpert);
  for (const auto& c : e.counted) CHECK(c->reads == 0);  // nothing read by building it

  // A consumer that pulls a chunk of one expert's size: each chunk is one expert, read into
  // the consumer's buffer in one read; each expert is released once done with.
  std::vector<std::byte> got;
  uint64_t chunks = 0;
  for_each_chunk(
      stack,
      [&](std::span<const std::byte> chunk) {
        ++chunks;
        for (size_t i = 0; i < e.counted.size(); ++i) {
          INFO("expert " << i << " after chunk " << chunks);
          // Experts ahead of the chunk are untouched: the stack reads lazily.
          CHECK(e.counted[i]->reads == (i < chunks ? 1u : 0u));
          CHECK(e.counted[i]->released == (i + 1 < chunks ? kExpert : 0u));
        }
        got.insert(got.end(), chunk.begin(), chunk.end());
      },
      kExpert);
  CHECK(chunks == 8);
  CHECK(got == e.all);
  for (const auto& c : e.counted) {
    CHECK(c->bytes_read == kExpert);
    CHECK(c->largest_read == kExpert);
    CHECK(c->released == kExpert);
  }
}

TEST_CASE("StackSource reads across expert boundaries and releases what it covers", "[experts]") {
  Experts e = make_experts(5, 1000);
  const StackSource stack(e.parts);
  // Chunks of 1.5 experts: some reads span two experts, none more than the chunk.
  std::vector<std::byte> got;
  for_each_chunk(
      stack, [&](std::span<const std::byte> c) { got.insert(got.end(), c.begin(), c.end()); },
      1500);
  CHECK(got == e.all);
  for (const auto& c : e.counted) {
    CHECK(c->bytes_read == 1000);
    CHECK(c->largest_read <= 1000);
    CHECK(c->released == 1000);
  }
  std::vector<std::byte> mid(2200);
  stack.read(900, mid);
  CHECK(std::equal(mid.begin(), mid.end(), e.all.begin() + 900));
  CHECK_THROWS(stack.read(4000, std::span<std::byte>(mid.data(), 1001)));
}

TEST_CASE("StackSource refuses parts of different sizes, or none", "[experts]") {
  Experts a = make_experts(1, 64), b = make_experts(1, 32);
  CHECK_THROWS_AS(StackSource({a.parts[0], b.parts[0]}), UsageError);
  CHECK_THROWS_AS(StackSource({}), UsageError);
}

// --- the families ------------------------------------------------------------------------------

Graph moe_graph(const std::string& config_json,
                const std::vector<std::pair<std::string, std::vector<uint64_t>>>& specs,
                std::vector<std::shared_ptr<CountingSource>>* counted = nullptr) {
  Graph g;
  g.format = "safetensors";
  hf::flatten_json(parse_json_strict(config_json, "config.json"), hf::kConfigPrefix, g.metadata);
  uint8_t seed = 1;
  for (const auto& [name, shape] : specs) {
    const uint64_t n =
        std::accumulate(shape.begin(), shape.end(), uint64_t{1}, std::multiplies<uint64_t>());
    auto src = std::make_shared<CountingSource>(pattern(n * 4, seed++));
    if (counted) counted->push_back(src);
    g.tensors.push_back(Tensor{name, shape, ElemType::F32, src});
  }
  g.inputs.push_back({"/nonexistent/tiny-moe/config.json", 1});
  return g;
}

constexpr const char* kMixtralConfig = R"({"architectures": ["MixtralForCausalLM"],
  "model_type": "mixtral", "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1,
  "num_attention_heads": 2, "num_key_value_heads": 1, "num_local_experts": 3,
  "num_experts_per_tok": 2, "vocab_size": 32, "rms_norm_eps": 1e-5})";

std::vector<std::pair<std::string, std::vector<uint64_t>>> mixtral_specs(int experts) {
  std::vector<std::pair<std::string, std::vector<uint64_t>>> s = {
      {"model.embed_tokens.weight", {32, 8}},
      {"model.norm.weight", {8}},
      {"lm_head.weight", {32, 8}},
      {"model.layers.0.input_layernorm.weight", {8}},
      {"model.layers.0.post_attention_layernorm.weight", {8}},
      {"model.layers.0.block_sparse_moe.gate.weight", {3, 8}},
      {"model.layers.0.self_attn.q_proj.weight", {8, 8}},
      {"model.layers.0.self_attn.k_proj.weight", {4, 8}},
      {"model.layers.0.self_attn.v_proj.weight", {4, 8}},
      {"model.layers.0.self_attn.o_proj.weight", {8, 8}}};
  for (int e = 0; e < experts; ++e) {
    const std::string p = "model.layers.0.block_sparse_moe.experts." + std::to_string(e) + ".";
    s.push_back({p + "w1.weight", {16, 8}});
    s.push_back({p + "w2.weight", {8, 16}});
    s.push_back({p + "w3.weight", {16, 8}});
  }
  return s;
}

std::vector<std::string> names(const Graph& g) {
  std::vector<std::string> out;
  for (const auto& t : g.tensors) out.push_back(t.name);
  return out;
}

TEST_CASE("Mixtral: experts stacked lazily where the reference writes them, keys", "[experts]") {
  std::vector<std::shared_ptr<CountingSource>> counted;
  Graph g = moe_graph(kMixtralConfig, mixtral_specs(3), &counted);
  const Graph before = g;
  arch::to_gguf(g);
  for (const auto& c : counted) CHECK(c->reads == 0);  // converting reads no weight
  // By name, as the reference reads them: the stacks come when the last expert does, in w1, w2,
  // w3 order, before the router.
  CHECK(names(g) == std::vector<std::string>{
                        "output.weight",
                        "token_embd.weight",
                        "blk.0.ffn_gate_exps.weight",
                        "blk.0.ffn_down_exps.weight",
                        "blk.0.ffn_up_exps.weight",
                        "blk.0.ffn_gate_inp.weight",
                        "blk.0.attn_norm.weight",
                        "blk.0.ffn_norm.weight",
                        "blk.0.attn_k.weight",
                        "blk.0.attn_output.weight",
                        "blk.0.attn_q.weight",
                        "blk.0.attn_v.weight",
                        "output_norm.weight",
                    });
  const Tensor* down = g.find("blk.0.ffn_down_exps.weight");
  REQUIRE(down != nullptr);
  CHECK(down->shape == std::vector<uint64_t>{3, 8, 16});
  std::vector<std::byte> want;
  for (int e = 0; e < 3; ++e) {
    auto b = read_all(
        *before.find("model.layers.0.block_sparse_moe.experts." + std::to_string(e) + ".w2.weight")
             ->data);
    want.insert(want.end(), b.begin(), b.end());
  }
  CHECK(read_all(*down->data) == want);
  CHECK(g.metadata.find("llama.expert_count")->as_u64() == 3);
  CHECK(g.metadata.find("llama.expert_used_count")->as_u64() == 2);
  // gguf-py's label: experts x (shared + one expert): 752 shared and 3 x 128 per expert.
  CHECK(g.metadata.get_string("general.size_label") == "3x1.1K");
}

TEST_CASE("Missing, extra or misshapen experts are refused naming the tensor", "[experts]") {
  Graph missing = moe_graph(kMixtralConfig, mixtral_specs(2));
  CHECK_THROWS_WITH(arch::to_gguf(missing),
                    Catch::Contains("experts.2.w1.weight") && Catch::Contains("3 experts"));
  Graph extra = moe_graph(kMixtralConfig, mixtral_specs(4));
  CHECK_THROWS_WITH(arch::to_gguf(extra), Catch::Contains("is expert 3"));
  auto specs = mixtral_specs(3);
  for (auto& [name, shape] : specs)
    if (name.ends_with("experts.1.w3.weight")) shape = {15, 8};
  Graph odd = moe_graph(kMixtralConfig, specs);
  CHECK_THROWS_WITH(arch::to_gguf(odd), Catch::Contains("experts.1.w3.weight") &&
                                            Catch::Contains("another expert's is F32 [16, 8]"));
  std::string zero = kMixtralConfig;
  zero.replace(zero.find("\"num_local_experts\": 3"), 22, "\"num_local_experts\": 0");
  Graph none = moe_graph(zero, mixtral_specs(3));
  CHECK_THROWS_WITH(arch::to_gguf(none), Catch::Contains("0 experts"));
}

TEST_CASE("GraniteMoE and fused Qwen experts: gate and up split per expert, lazily", "[experts]") {
  const std::string config = R"({"architectures": ["GraniteMoeForCausalLM"],
    "hidden_size": 8, "intermediate_size": 4, "num_hidden_layers": 1, "num_attention_heads": 2,
    "num_key_value_heads": 2, "num_local_experts": 2, "num_experts_per_tok": 1,
    "vocab_size": 32})";
  std::vector<std::shared_ptr<CountingSource>> counted;
  Graph g = moe_graph(config,
                      {{"model.embed_tokens.weight", {32, 8}},
                       {"model.layers.0.block_sparse_moe.input_linear.weight", {2, 8, 8}},
                       {"model.layers.0.block_sparse_moe.output_linear.weight", {2, 8, 4}}},
                      &counted);
  const std::vector<std::byte> fused = read_all(*g.tensors[1].data);
  counted[1]->reads = 0;
  arch::to_gguf(g);
  CHECK(counted[1]->reads == 0);
  const Tensor* gate = g.find("blk.0.ffn_gate_exps.weight");
  const Tensor* up = g.find("blk.0.ffn_up_exps.weight");
  REQUIRE((gate && up && g.find("blk.0.ffn_down_exps.weight")));
  CHECK(gate->shape == std::vector<uint64_t>{2, 4, 8});
  // Expert e's gate is rows 0..3 of its 8, its up rows 4..7 (128 bytes each).
  std::vector<std::byte> want_gate, want_up;
  for (int e = 0; e < 2; ++e) {
    const auto* base = fused.data() + e * 256;
    want_gate.insert(want_gate.end(), base, base + 128);
    want_up.insert(want_up.end(), base + 128, base + 256);
  }
  CHECK(read_all(*gate->data) == want_gate);
  CHECK(read_all(*up->data) == want_up);
  CHECK(g.metadata.find("granitemoe.expert_count")->as_u64() == 2);

  const std::string qwen = R"({"architectures": ["Qwen3MoeForCausalLM"], "hidden_size": 8,
    "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 2, "head_dim": 4,
    "num_experts": 2, "num_experts_per_tok": 1, "moe_intermediate_size": 4, "vocab_size": 32})";
  // transformers 5's layout: parameters without ".weight".
  Graph q = moe_graph(qwen, {{"model.layers.0.mlp.experts.down_proj", {2, 8, 4}},
                             {"model.layers.0.mlp.experts.gate_up_proj", {2, 8, 8}}});
  arch::to_gguf(q);
  CHECK(names(q) == std::vector<std::string>{"blk.0.ffn_down_exps.weight",
                                             "blk.0.ffn_gate_exps.weight",
                                             "blk.0.ffn_up_exps.weight"});
  CHECK(q.metadata.find("qwen3moe.expert_feed_forward_length")->as_u64() == 4);
  Graph bad = moe_graph(qwen, {{"model.layers.0.mlp.experts.gate_up_proj", {3, 8, 8}}});
  CHECK_THROWS_WITH(arch::to_gguf(bad), Catch::Contains("not [2, rows, columns]"));
}

TEST_CASE("The way back: stacks cut into one tensor per expert, lazily, config.json", "[experts]") {
  std::vector<std::shared_ptr<CountingSource>> counted;
  const Graph original = moe_graph(kMixtralConfig, mixtral_specs(3), &counted);
  Graph g = original;
  arch::to_gguf(g);
  arch::to_hf(g);
  for (const auto& c : counted) CHECK(c->reads == 0);  // cutting the stacks reads no weight
  REQUIRE(g.tensors.size() == original.tensors.size());
  for (const Tensor& want : original.tensors) {
    INFO(want.name);
    const Tensor* got = g.find(want.name);
    REQUIRE(got != nullptr);
    CHECK(got->shape == want.shape);
    CHECK(read_all(*got->data) == read_all(*want.data));
  }
  // One expert's matrix is read by itself: nothing of its neighbours in the stack.
  const auto w2 = std::find_if(counted.begin(), counted.end(), [&](const auto& c) {
    return c.get() ==
           original.find("model.layers.0.block_sparse_moe.experts.1.w2.weight")->data.get();
  });
  REQUIRE(w2 != counted.end());
  for (const auto& c : counted) c->reads = 0;
  read_all(*g.find("model.layers.0.block_sparse_moe.experts.1.w2.weight")->data);
  for (const auto& c : counted) CHECK(c->reads == (c == *w2 ? 1u : 0u));
  CHECK(g.metadata.get_string("hf.config.model_type") == "mixtral");
  CHECK(g.metadata.find("hf.config.num_local_experts")->as_i64() == 3);
  CHECK(g.metadata.find("hf.config.num_experts_per_tok")->as_i64() == 2);
}

TEST_CASE("The way back refuses a stack that does not fit the expert count", "[experts]") {
  Graph g = moe_graph(kMixtralConfig, mixtral_specs(3));
  arch::to_gguf(g);
  g.metadata.set("llama.expert_count", Value::u32(4));
  CHECK_THROWS_WITH(arch::to_hf(g), Catch::Contains("blk.0.ffn_gate_exps.weight") &&
                                        Catch::Contains("not [4, rows, columns]"));
}

}  // namespace
}  // namespace owl
