#include "formats/io/file_digests.h"

#include "formats/io/file_digest.h"

namespace owl {

FileDigests::FileDigests(std::vector<std::string> paths) : paths_(std::move(paths)) {
  worker_ = std::thread([this] {
    try {
      for (const auto& p : paths_) hex_.push_back(sha256_file_hex(p));
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
