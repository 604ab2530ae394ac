#include "formats/io/file_digests.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "formats/io/digest.h"
#include "formats/io/error.h"

namespace owl {
namespace {

// Large enough that the hashing runs at memory speed, small enough to be negligible beside a
// tensor.
constexpr size_t kDigestChunkBytes = 4u << 20;

}  // namespace

std::string sha256_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw InputError(path, std::string("cannot open: ") + std::strerror(errno));
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  Digest d;
  std::vector<std::byte> buf(kDigestChunkBytes);
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw InputError(path, std::string("cannot read: ") + std::strerror(err));
    }
    if (n == 0) break;
    d.update(std::span<const std::byte>(buf.data(), static_cast<size_t>(n)));
  }
  ::close(fd);
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
