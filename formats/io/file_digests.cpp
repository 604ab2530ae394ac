#include "formats/io/file_digests.h"

#include <algorithm>

#include "formats/io/digest.h"
#include "formats/io/mapped_file.h"

namespace owl {
namespace {

// Large enough that the hashing runs at memory speed, small enough to be negligible beside a
// tensor.
constexpr size_t kDigestChunkBytes = 4u << 20;

}  // namespace

// Through a map of its own rather than read(): no copy into a buffer, and the pages are the
// page cache's, shared with the pipeline's map of the same file. Each chunk's pages leave this
// process's resident set once hashed.
std::string sha256_file(const std::string& path) {
  const auto file = MappedFile::open(path);
  Digest d;
  for (uint64_t at = 0; at < file->size(); at += kDigestChunkBytes) {
    const uint64_t n = std::min<uint64_t>(kDigestChunkBytes, file->size() - at);
    d.update(file->slice(at, n));
    file->release(at, n);
  }
  return d.finish_hex();
}

FileDigests::FileDigests(std::vector<std::string> paths) : paths_(std::move(paths)) {
  worker_ = std::thread([this] {
    try {
      for (const auto& p : paths_) hex_.push_back(sha256_file(p));
    } catch (...) {
      error_ = std::current_exception();
    }
  });
}

FileDigests::~FileDigests() {
  if (worker_.joinable()) worker_.join();
}

const std::vector<std::string>& FileDigests::wait() {
  if (worker_.joinable()) worker_.join();
  if (error_) std::rethrow_exception(error_);
  return hex_;
}

}  // namespace owl
