#include "formats/io/file_digests.h"

#include <algorithm>

#include "formats/io/file_digest.h"

namespace owl {

namespace {

// Files hashed at once, at most: past a few, the disk or the memory bus is the limit, and the
// pipeline needs its cores too.
constexpr size_t kMaxDigestThreads = 4;

// One core stays with the pipeline; a one- or two-core machine hashes on one thread.
size_t digest_threads(size_t files) {
  const size_t cores = std::max(2u, std::thread::hardware_concurrency());
  return std::min({files, kMaxDigestThreads, cores - 1});
}

}  // namespace

FileDigests::FileDigests(std::vector<std::string> paths)
    : paths_(std::move(paths)), hex_(paths_.size()), errors_(paths_.size()) {
  for (size_t i = digest_threads(paths_.size()); i > 0; --i)
    workers_.emplace_back([this] { work(); });
}

FileDigests::~FileDigests() {
  join();
}

void FileDigests::work() {
  for (size_t i = next_++; i < paths_.size(); i = next_++) {
    try {
      hex_[i] = sha256_file_hex(paths_[i]);
    } catch (...) {
      errors_[i] = std::current_exception();
    }
  }
}

void FileDigests::join() {
  for (auto& w : workers_)
    if (w.joinable()) w.join();
}

const std::vector<std::string>& FileDigests::wait() {
  join();
  for (const auto& e : errors_)
    if (e) std::rethrow_exception(e);
  return hex_;
}

}  // namespace owl
