#include "formats/llama2c/reader.h"

#include <cstring>
#include <optional>

#include "formats/io/byte_cursor.h"
#include "formats/io/checked_math.h"
#include "formats/io/error.h"
#include "formats/io/mapped_file.h"

namespace owl::llama2c {
namespace {

constexpr uint64_t kHeaderBytes = 7 * sizeof(int32_t);
// Bounds no real llama2.c model comes near; they keep size arithmetic far from overflow.
constexpr int64_t kMaxDim = 1 << 20;
constexpr int64_t kMaxLayers = 4096;
constexpr int64_t kMaxVocab = 1 << 24;

struct Header {
  int64_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
  bool shared_classifier;
  uint64_t kv_dim() const { return static_cast<uint64_t>(dim * n_kv_heads / n_heads); }
  uint64_t head_size() const { return static_cast<uint64_t>(dim / n_heads); }
};

// The header's problem, or empty if its fields are consistent.
std::string check_header(const Header& h) {
  auto in_range = [](int64_t v, int64_t max) { return v > 0 && v <= max; };
  if (!in_range(h.dim, kMaxDim)) return "dim " + std::to_string(h.dim) + " is out of range";
  if (!in_range(h.hidden_dim, kMaxDim)) return "hidden_dim " + std::to_string(h.hidden_dim) + " is out of range";
  if (!in_range(h.n_layers, kMaxLayers)) return "n_layers " + std::to_string(h.n_layers) + " is out of range";
  if (!in_range(h.n_heads, h.dim)) return "n_heads " + std::to_string(h.n_heads) + " is out of range";
  if (!in_range(h.n_kv_heads, h.n_heads)) return "n_kv_heads " + std::to_string(h.n_kv_heads) + " is out of range";
  if (!in_range(h.vocab_size, kMaxVocab)) return "vocab_size " + std::to_string(h.vocab_size) + " is out of range";
  if (!in_range(h.seq_len, kMaxDim)) return "seq_len " + std::to_string(h.seq_len) + " is out of range";
  if (h.dim % h.n_heads) return "dim is not a multiple of n_heads";
  if (h.n_heads % h.n_kv_heads) return "n_heads is not a multiple of n_kv_heads";
  if ((h.dim / h.n_heads) % 2) return "the head size is odd, which RoPE cannot rotate";
  return {};
}

std::optional<Header> parse_header(std::span<const std::byte> head) {
  if (head.size() < kHeaderBytes) return std::nullopt;
  int32_t f[7];
  std::memcpy(f, head.data(), sizeof f);
  Header h{f[0], f[1], f[2], f[3], f[4], f[5] < 0 ? -int64_t{f[5]} : f[5], f[6], f[5] > 0};
  return h;
}

struct Layout {
  uint64_t floats_shared;  // file size in floats (after the header) with a shared classifier
  uint64_t wcls_floats;
};

Layout layout_of(const Header& h) {
  const uint64_t d = h.dim, hd = h.hidden_dim, L = h.n_layers, V = h.vocab_size, kv = h.kv_dim();
  const uint64_t per_layer = 2 * d + d * d + 2 * kv * d + d * d + 3 * hd * d;
  const uint64_t freq = static_cast<uint64_t>(h.seq_len) * h.head_size();  // real and imaginary halves
  return {V * d + L * per_layer + d + freq, V * d};
}

uint64_t expected_size(const Header& h) {
  const Layout l = layout_of(h);
  return kHeaderBytes + 4 * (l.floats_shared + (h.shared_classifier ? 0 : l.wcls_floats));
}

}  // namespace

bool looks_like_llama2c(std::span<const std::byte> head, uint64_t file_size) {
  auto h = parse_header(head);
  return h && check_header(*h).empty() && expected_size(*h) == file_size;
}

Graph read_file(const std::string& path) {
  auto file = MappedFile::open(path);
  ByteCursor cur(file->bytes(), path);
  auto h = parse_header(cur.take(kHeaderBytes, "the llama2.c header"));
  if (auto problem = check_header(*h); !problem.empty()) throw InputError(path, "llama2.c header: " + problem);
  if (expected_size(*h) != file->size()) {
    throw InputError(path, "llama2.c header implies a file of " + std::to_string(expected_size(*h)) +
                               " bytes but it has " + std::to_string(file->size()));
  }

  Graph g;
  g.format = "llama2c";
  g.architecture = "llama";
  const std::pair<const char*, int64_t> fields[] = {
      {"dim", h->dim},         {"hidden_dim", h->hidden_dim}, {"n_layers", h->n_layers},
      {"n_heads", h->n_heads}, {"n_kv_heads", h->n_kv_heads}, {"vocab_size", h->vocab_size},
      {"seq_len", h->seq_len}};
  for (const auto& [name, value] : fields)
    g.metadata.set(std::string(kHeaderPrefix) + name, Value::i32(static_cast<int32_t>(value)));
  g.metadata.set(std::string(kHeaderPrefix) + "shared_classifier", Value::boolean(h->shared_classifier));

  const uint64_t d = h->dim, hd = h->hidden_dim, L = h->n_layers, V = h->vocab_size, kv = h->kv_dim();
  // Array i of the file: its offset, and the shape of one layer's slice of it.
  uint64_t offset = kHeaderBytes;
  struct Array {
    uint64_t offset;
    std::vector<uint64_t> shape;
  };
  auto next = [&](std::vector<uint64_t> shape, uint64_t count) {
    Array a{offset, shape};
    uint64_t n = 1;
    for (uint64_t s : shape) n *= s;
    offset += 4 * n * count;
    return a;
  };
  const Array embd = next({V, d}, 1);
  const Array rms_att = next({d}, L), wq = next({d, d}, L), wk = next({kv, d}, L), wv = next({kv, d}, L),
              wo = next({d, d}, L), rms_ffn = next({d}, L), w1 = next({hd, d}, L), w2 = next({d, hd}, L),
              w3 = next({hd, d}, L), rms_final = next({d}, 1);
  next({static_cast<uint64_t>(h->seq_len), h->head_size()}, 1);  // freq_cis, recomputed by every runtime
  const Array wcls = next({V, d}, h->shared_classifier ? 0 : 1);

  auto add = [&](std::string name, const Array& a, uint64_t layer) {
    uint64_t n = 1;
    for (uint64_t s : a.shape) n *= s;
    auto src = std::make_shared<MappedSource>(file, a.offset + layer * 4 * n, 4 * n);
    g.tensors.push_back(Tensor{std::move(name), a.shape, ElemType::F32, std::move(src)});
  };
  add("token_embd.weight", embd, 0);
  for (uint64_t i = 0; i < L; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    add(b + "attn_norm.weight", rms_att, i);
    add(b + "attn_q.weight", wq, i);
    add(b + "attn_k.weight", wk, i);
    add(b + "attn_v.weight", wv, i);
    add(b + "attn_output.weight", wo, i);
    add(b + "ffn_norm.weight", rms_ffn, i);
    add(b + "ffn_gate.weight", w1, i);
    add(b + "ffn_down.weight", w2, i);
    add(b + "ffn_up.weight", w3, i);
  }
  add("output_norm.weight", rms_final, 0);
  if (!h->shared_classifier) add("output.weight", wcls, 0);
  g.inputs.push_back({path, file->size()});
  return g;
}

}  // namespace owl::llama2c
