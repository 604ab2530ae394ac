#include "tools/hub_download.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <vector>

#include "formats/io/digest.h"
#include "formats/io/error.h"

namespace owl {
namespace {

constexpr size_t kReadChunk = 1 << 20;

// The hash the Hub publishes, over bytes fed in order: SHA-256 of the content for LFS files, git's
// blob id (SHA-1 of "blob <size>\0" and the content) for the rest.
std::unique_ptr<Digest> start_digest(const hub::RepoFile& f) {
  if (f.lfs) return std::make_unique<Digest>(DigestKind::sha256);
  auto d = std::make_unique<Digest>(DigestKind::sha1);
  d->update("blob " + std::to_string(f.size));
  d->update(std::string_view("\0", 1));
  return d;
}

const std::string& expected_hex(const hub::RepoFile& f) {
  return f.lfs ? f.sha256 : f.blob_id;
}

class Fd {
 public:
  Fd(const std::string& path, int flags) : path_(path), fd_(::open(path.c_str(), flags, 0644)) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  void write_all(std::span<const std::byte> bytes) const {
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw SystemError(path_, "cannot write", errno);
      bytes = bytes.subspan(static_cast<size_t>(n));
    }
  }

 private:
  std::string path_;
  int fd_;
};

// Feeds a file's bytes to `d`; returns their count.
uint64_t hash_file(const std::string& path, Digest& d) {
  Fd in(path, O_RDONLY | O_CLOEXEC);
  if (in.get() < 0) throw SystemError(path, "cannot open", errno);
  std::vector<std::byte> buf(kReadChunk);
  uint64_t total = 0;
  while (true) {
    const ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw SystemError(path, "cannot read", errno);
    if (n == 0) return total;
    d.update(std::span<const std::byte>(buf.data(), static_cast<size_t>(n)));
    total += static_cast<uint64_t>(n);
  }
}

bool blob_is_valid(const std::string& path, const hub::RepoFile& f) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<uint64_t>(st.st_size) != f.size)
    return false;
  auto d = start_digest(f);
  hash_file(path, *d);
  return d->finish_hex() == expected_hex(f);
}

uint64_t file_size_or_zero(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

bool retryable(const HttpResult& r) {
  return !r.transport_error.empty() || r.status >= 500 || r.status == 408 || r.status == 429 ||
         r.status == 416;
}

}  // namespace

std::string published_hash(const hub::RepoFile& f) {
  return (f.lfs ? "sha256:" : "git-sha1:") + expected_hex(f);
}

std::string describe_http_status(long status, bool have_token) {
  const std::string code = "HTTP " + std::to_string(status);
  if (status == 401 || status == 403)
    return code + (have_token ? ": the token (HF_TOKEN) was refused"
                              : ": the repository needs a token (set HF_TOKEN)");
  if (status == 404) return code + ": no such repository, revision or file";
  return code;
}

BlobFetch fetch_blob(HttpClient& http, const std::string& url, const hub::RepoFile& file,
                     const hub::CacheLayout& cache, const std::function<void(uint64_t)>& on_bytes,
                     const std::function<bool()>& cancelled) {
  BlobFetch out;
  const std::string blob = cache.blob_path(file.blob_name());
  if (blob_is_valid(blob, file)) {
    out.cached = true;
    return out;
  }
  const std::string part = cache.incomplete_path(file.blob_name());
  Fd fd(part, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC);
  if (fd.get() < 0) throw SystemError(part, "cannot create", errno);
  // Two pulls appending to one file would interleave their bytes.
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0)
    throw InputError(part, "another download of this file is under way");
  // Earlier bytes beyond the size cannot be the start of this file.
  if (file_size_or_zero(part) > file.size && ::ftruncate(fd.get(), 0) != 0)
    throw SystemError(part, "cannot truncate", errno);
  auto digest = start_digest(file);
  uint64_t have = hash_file(part, *digest);
  const auto discard = [&](const std::string& why) {
    ::unlink(part.c_str());
    throw InputError(file.path, why + "; nothing kept");
  };

  std::string last_error;
  for (int attempt = 0; attempt < kMaxFetchAttempts && have < file.size; ++attempt) {
    if (cancelled()) throw InputError(file.path, "cancelled");
    const uint64_t from = have;
    out.resumed |= from > 0;
    bool too_long = false;
    const HttpResult r = http.get(
        url, from,
        [&](long status) {
          if (status != 200 || from == 0) return;
          // The server ignored the range and sends the whole file: start over.
          if (::ftruncate(fd.get(), 0) != 0) throw SystemError(part, "cannot truncate", errno);
          digest = start_digest(file);
          have = 0;
          out.restarted = true;
        },
        [&](std::span<const std::byte> bytes) {
          if (cancelled()) return false;
          if (have + bytes.size() > file.size) {
            too_long = true;
            return false;
          }
          fd.write_all(bytes);
          digest->update(bytes);
          have += bytes.size();
          out.downloaded += bytes.size();
          on_bytes(bytes.size());
          return true;
        });
    if (too_long)
      discard("the server sent more than the " + std::to_string(file.size) +
              " bytes the Hub lists");
    if (r.ok()) continue;
    last_error =
        r.transport_error.empty() ? describe_http_status(r.status, false) : r.transport_error;
    if (!r.transport_error.empty() && cancelled()) throw InputError(file.path, "cancelled");
    if (r.status == 416) {
      if (::ftruncate(fd.get(), 0) != 0) throw SystemError(part, "cannot truncate", errno);
      digest = start_digest(file);
      have = 0;
    }
    if (!retryable(r))
      throw InputError(r.final_url, describe_http_status(r.status, http.has_token()));
  }
  if (have < file.size)
    throw InputError(file.path, "download failed after " + std::to_string(kMaxFetchAttempts) +
                                    " attempts (" + last_error + "); " + std::to_string(have) +
                                    " of " + std::to_string(file.size) +
                                    " bytes kept to resume from");
  const std::string got = digest->finish_hex();
  if (got != expected_hex(file))
    discard(std::string(file.lfs ? "SHA-256 " : "git blob SHA-1 ") + got + " differs from the " +
            expected_hex(file) + " the Hub publishes");
  if (::fsync(fd.get()) != 0) throw SystemError(part, "cannot sync", errno);
  if (::rename(part.c_str(), blob.c_str()) != 0) throw SystemError(blob, "cannot rename", errno);
  return out;
}

}  // namespace owl
