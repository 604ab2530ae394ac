#include <catch2/catch.hpp>

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "converters/source.h"
#include "validate/imatrix_collector.h"
#include "validate/shared_pass.h"

using namespace owl;
using namespace owl::validate;

namespace {

// Ranks as threads. Every send waits until its message is received, as MPI may for a large
// one, so a schedule that only works with buffered sends deadlocks here.
class Threads {
 public:
  class Rank final : public WriteGroup {
   public:
    Rank(Threads& t, int rank) : t_(t), rank_(rank) {}
    int rank() const override { return rank_; }
    int size() const override { return t_.size_; }
    void barrier() override { gather(""); }
    std::vector<std::string> gather(const std::string& mine) override {
      if (rank_ != 0) {
        t_.post(rank_, 0, 1, mine);
        return {};
      }
      std::vector<std::string> all{mine};
      for (int r = 1; r < t_.size_; ++r) all.push_back(t_.take(r, 0, 1));
      return all;
    }
    void send(int to, const std::string& bytes) override { t_.post(rank_, to, 0, bytes); }
    std::string receive(int from) override { return t_.take(from, rank_, 0); }

   private:
    Threads& t_;
    int rank_;
  };

  explicit Threads(int size) : size_(size) {}

  // Catch's assertions are not for other threads: the ranks note what went wrong here, and the
  // test checks the notes once they are done.
  void expect(bool ok, const std::string& what) {
    std::lock_guard lock(mutex_);
    if (!ok) failures.push_back(what);
  }
  std::vector<std::string> failures;

  // Runs `body` on every rank at once.
  void run(const std::function<void(WriteGroup&)>& body) {
    std::vector<std::thread> threads;
    for (int r = 0; r < size_; ++r)
      threads.emplace_back([this, r, &body] {
        Rank rank(*this, r);
        body(rank);
      });
    for (auto& t : threads) t.join();
  }

 private:
  struct Channel {
    std::vector<std::string> messages;
    size_t taken = 0;
  };
  void post(int from, int to, int tag, const std::string& bytes) {
    std::unique_lock lock(mutex_);
    Channel& c = channels_[{from, to, tag}];
    c.messages.push_back(bytes);
    const size_t mine = c.messages.size();
    changed_.notify_all();
    changed_.wait(lock, [&] { return c.taken >= mine; });
  }
  std::string take(int from, int to, int tag) {
    std::unique_lock lock(mutex_);
    Channel& c = channels_[{from, to, tag}];
    changed_.wait(lock, [&] { return c.messages.size() > c.taken; });
    std::string out = std::move(c.messages[c.taken++]);
    changed_.notify_all();
    return out;
  }

  int size_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::tuple<int, int, int>, Channel> channels_;
};

}  // namespace

TEST_CASE("shared chunks come back to rank 0 in chunk order, each run once", "[mpi]") {
  for (int size = 1; size <= 4; ++size) {
    for (size_t chunks : {1, 5, 8}) {
      Threads t(size);
      std::vector<size_t> taken;
      std::mutex ran_mutex;
      std::map<size_t, int> ran_on;
      t.run([&](WriteGroup& g) {
        share_chunks(
            &g, chunks,
            [&](size_t i) {
              bool first = false;
              {
                std::lock_guard lock(ran_mutex);
                first = ran_on.emplace(i, g.rank()).second;
              }
              t.expect(first, "chunk " + std::to_string(i) + " ran twice");
              return std::to_string(i * i);
            },
            [&](size_t i, std::string result) {
              t.expect(g.rank() == 0, "taken on another rank");
              t.expect(result == std::to_string(i * i), "wrong result");
              taken.push_back(i);
            });
      });
      CHECK(t.failures.empty());
      REQUIRE(taken.size() == chunks);
      for (size_t i = 0; i < chunks; ++i) {
        CHECK(taken[i] == i);
        CHECK(ran_on[i] == static_cast<int>(i % static_cast<size_t>(size)));
      }
    }
  }
}

TEST_CASE("a pipeline passes each chunk through every stage in order and drains where told",
          "[mpi]") {
  for (int size = 1; size <= 4; ++size) {
    Threads t(size);
    const size_t chunks = 9;
    std::vector<std::string> taken;
    std::mutex drained_mutex;
    std::map<int, std::vector<size_t>> drained;
    t.run([&](WriteGroup& g) {
      pipeline_chunks(
          &g, chunks,
          [&](size_t i, std::string in) {
            if (g.rank() == 0) t.expect(in.empty(), "rank 0 got input");
            return (g.rank() == 0 ? std::to_string(i) + ":" : in) + std::to_string(g.rank());
          },
          [&](size_t i, std::string result) {
            t.expect(g.rank() == 0, "taken on another rank");
            t.expect(result.starts_with(std::to_string(i) + ":"), "out of order: " + result);
            taken.push_back(result);
          },
          [](size_t done) { return done % 4 == 0; },
          [&](size_t done) {
            std::lock_guard lock(drained_mutex);
            drained[g.rank()].push_back(done);
            // Every result before is in.
            if (g.rank() == 0) t.expect(taken.size() == done, "drained early");
          });
    });
    CHECK(t.failures.empty());
    std::string stages;
    for (int r = 0; r < size; ++r) stages += std::to_string(r);
    REQUIRE(taken.size() == chunks);
    for (size_t i = 0; i < chunks; ++i) CHECK(taken[i] == std::to_string(i) + ":" + stages);
    for (int r = 0; r < size; ++r) CHECK(drained[r] == std::vector<size_t>{4, 8, 9});
  }
}

TEST_CASE("layers are split into contiguous runs of about equal bytes", "[mpi]") {
  Graph g;
  auto tensor = [&](const std::string& name, uint64_t floats) {
    Tensor t;
    t.name = name;
    t.shape = {floats};
    t.data = std::make_shared<BufferSource>(std::vector<std::byte>(floats * 4));
    g.tensors.push_back(std::move(t));
  };
  tensor("token_embd.weight", 1000);
  // Layer 0 is dense and large, the others small.
  const std::vector<uint64_t> sizes = {400, 100, 100, 100, 100, 100};
  for (size_t i = 0; i < sizes.size(); ++i)
    tensor("blk." + std::to_string(i) + ".ffn_down.weight", sizes[i]);
  auto ranges = split_layers(g, sizes.size(), 2);
  REQUIRE(ranges.size() == 2);
  CHECK((ranges[0].begin == 0 && ranges[0].end == 1));  // 400 bytes against 500
  CHECK((ranges[1].begin == 1 && ranges[1].end == 6));
  ranges = split_layers(g, sizes.size(), 1);
  CHECK((ranges[0].begin == 0 && ranges[0].end == 6));
  for (int stages : {3, 6, 8}) {
    ranges = split_layers(g, sizes.size(), stages);
    REQUIRE(ranges.size() == static_cast<size_t>(stages));
    uint64_t next = 0, empty = 0;
    for (const auto& r : ranges) {
      CHECK(r.begin == next);
      CHECK(r.end >= r.begin);
      empty += r.end == r.begin;
      next = r.end;
    }
    CHECK(next == sizes.size());
    CHECK(empty == (stages > 6 ? static_cast<uint64_t>(stages - 6) : 0));
  }
}

TEST_CASE("statistics collected per chunk travel as bytes and add up in chunk order", "[mpi]") {
  std::vector<ImatrixCollector> chunks;
  const std::vector<std::vector<float>> x = {{1, 2, 3, 4}, {0.5f, -1, 2, 0.25f}, {3, 1, 1, 7}};
  for (const auto& v : x) {
    ImatrixCollector c(false);
    c.add("blk.0.attn_q.weight", v.data(), 2, 2);
    c.add("blk.0.ffn_gate_exps.weight", 1, 3, v.data(), 1, 4);
    chunks.push_back(std::move(c));
  }
  ImatrixCollector direct(false), via_bytes(false);
  for (const auto& c : chunks) {
    direct.merge(c);
    via_bytes.merge_bytes(c.to_bytes(), "test");
  }
  const Imatrix a = direct.result(2), b = via_bytes.result(2);
  REQUIRE(a.entries.size() == 2);
  for (const auto& [name, e] : a.entries) {
    CHECK(b.entries.at(name).sums == e.sums);
    CHECK(b.entries.at(name).counts == e.counts);
  }
  CHECK(a.entries.at("blk.0.attn_q.weight").sums ==
        std::vector<float>{1 + 9 + 0.25f + 4 + 9 + 1, 4 + 16 + 1 + 0.0625f + 1 + 49});
  CHECK(a.entries.at("blk.0.ffn_gate_exps.weight").counts == std::vector<int64_t>{0, 3, 0});
  const std::string bytes = chunks[0].to_bytes();
  CHECK_THROWS(via_bytes.merge_bytes(bytes.substr(0, bytes.size() - 1), "cut"));
  ImatrixCollector other_width(false);
  other_width.add("blk.0.attn_q.weight", x[0].data(), 1, 4);
  CHECK_THROWS(via_bytes.merge(other_width));
}
