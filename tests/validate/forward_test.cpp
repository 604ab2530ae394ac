#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <stdexcept>

#include "formats/io/error.h"
#include "formats/open.h"
#include "validate/forward.h"

using namespace owl;

namespace {

const std::string kModel = std::string(OWL_TEST_DATA) + "/stories260K/stories260K.bin";
const std::string kTokenizer = std::string(OWL_TEST_DATA) + "/stories260K/tok512.bin";

// The llama2.c tokenizer's pieces, with the SentencePiece space marker as a plain space.
std::vector<std::string> read_pieces() {
  std::ifstream f(kTokenizer, std::ios::binary);
  int32_t max_len;
  f.read(reinterpret_cast<char*>(&max_len), 4);
  std::vector<std::string> pieces;
  for (int i = 0; i < 512; ++i) {
    float score;
    int32_t len;
    f.read(reinterpret_cast<char*>(&score), 4);
    f.read(reinterpret_cast<char*>(&len), 4);
    std::string s(static_cast<size_t>(len), '\0');
    f.read(s.data(), len);
    pieces.push_back(s);
  }
  return pieces;
}

// The bundled graph with the llama.* keys the normalizer would give it.
Graph stories() {
  Graph g = open_model(kModel);
  g.metadata.set("general.architecture", Value::string("llama"));
  g.metadata.set("llama.embedding_length", Value::u32(64));
  g.metadata.set("llama.block_count", Value::u32(5));
  g.metadata.set("llama.attention.head_count", Value::u32(8));
  g.metadata.set("llama.attention.head_count_kv", Value::u32(4));
  g.metadata.set("llama.feed_forward_length", Value::u32(172));
  return g;
}

}  // namespace

TEST_CASE("greedy decoding of the real stories260K model tells the known story", "[validate]") {
  Graph g = stories();
  validate::Forward fwd(g);
  const auto pieces = read_pieces();
  std::vector<int32_t> tokens = {1};  // BOS
  std::string text;
  for (int step = 0; step < 50; ++step) {
    const auto logits = fwd.logits(tokens);
    const float* last = logits.data() + (tokens.size() - 1) * 512;
    const auto next = static_cast<int32_t>(std::max_element(last, last + 512) - last);
    tokens.push_back(next);
    std::string piece = pieces[static_cast<size_t>(next)];
    if (text.empty() && !piece.empty() && piece[0] == ' ') piece = piece.substr(1);
    text += piece;
  }
  CHECK(text.rfind("Once upon a time, there was a little girl named Lily. She loved to play "
                   "outside in the park. "
                   "One day, she saw a big, red ball. She wanted to play with",
                   0) == 0);
}

TEST_CASE("the matmul observer sees every product's weight and input, and changes nothing",
          "[validate][imatrix]") {
  Graph g = stories();
  validate::Forward fwd(g);
  const std::vector<int32_t> tokens = {1, 403, 407, 261, 378};
  const auto plain = fwd.logits(tokens);
  std::vector<std::string> seen;
  fwd.set_observer([&](const std::string& w, uint64_t expert, uint64_t experts, const float* x,
                       uint64_t T, uint64_t cols) {
    seen.push_back(w);
    CHECK((expert == 0 && experts == 1));
    CHECK(T == tokens.size());
    CHECK(cols == g.find(w)->shape[1]);
    CHECK(std::isfinite(x[T * cols - 1]));
  });
  CHECK(fwd.logits(tokens) == plain);
  REQUIRE(seen.size() == 5 * 7 + 1);
  CHECK(seen[0] == "blk.0.attn_q.weight");
  CHECK(seen[3] == "blk.0.attn_output.weight");
  CHECK(seen[6] == "blk.0.ffn_down.weight");
  CHECK(seen.back() == (g.find("output.weight") ? "output.weight" : "token_embd.weight"));
}

TEST_CASE("pipeline stages over parts of the layers chain to the whole pass's logits",
          "[validate][mpi]") {
  Graph g = stories();
  const validate::Forward whole(g);
  const std::vector<int32_t> tokens = {1, 403, 407, 261, 378, 300};
  const auto want = whole.logits(tokens);
  const validate::Forward first(g, {0, 2}), middle(g, {2, 2}), last(g, {2, 5});
  auto x = first.embed(tokens);
  first.run_layers(x, tokens.size());
  middle.run_layers(x, tokens.size());  // a stage with no layers passes the state on
  last.run_layers(x, tokens.size());
  CHECK(last.head(x, tokens.size()) == want);
  CHECK_THROWS_AS(last.embed(tokens), std::logic_error);
  CHECK_THROWS_AS(first.head(x, tokens.size()), std::logic_error);
  std::vector<float> wrong(x.size() - 1);
  CHECK_THROWS_AS(middle.run_layers(wrong, tokens.size()), UsageError);
  CHECK_THROWS_AS(validate::Forward(g, {3, 2}), UsageError);
}

TEST_CASE("a stage looks up only its own layers' tensors", "[validate][mpi]") {
  Graph g = stories();
  // Without layer 0's tensors and the head, a stage over layers 1..3 still builds; the whole
  // model does not.
  std::erase_if(g.tensors, [](const Tensor& t) {
    return t.name.starts_with("blk.0.") || t.name.starts_with("blk.4.") ||
           t.name == "output_norm.weight";
  });
  CHECK_NOTHROW(validate::Forward(g, {1, 4}));
  CHECK_THROWS_AS(validate::Forward(g), UsageError);
}
