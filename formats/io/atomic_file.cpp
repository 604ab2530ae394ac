#include "formats/io/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string_view>

#include "formats/io/error.h"
#include "formats/io/read_files.h"
#include "formats/io/utf8.h"

namespace owl {
namespace {

constexpr size_t kWriteBufferBytes = 4u << 20;
// Every this many bytes, the kernel is asked to start writing the finished part to disk, so
// the fsync at the end waits for the last stretch only instead of the whole file.
constexpr uint64_t kWritebackBytes = 64u << 20;
// Spans at least this large bypass the buffer and go straight to write(2).
constexpr size_t kDirectWriteBytes = 1u << 20;
constexpr int kMaxPendingFiles = 256;
constexpr size_t kMaxTempPath = 4096;

// Temporary paths still to be removed if a signal ends the process. The handler may only use
// async-signal-safe calls, so the paths live in fixed arrays, claimed and released atomically.
std::array<std::array<char, kMaxTempPath>, kMaxPendingFiles> g_pending_paths;
std::array<std::atomic<bool>, kMaxPendingFiles> g_pending_used;

extern "C" void remove_pending_and_exit(int sig) {
  for (int i = 0; i < kMaxPendingFiles; ++i) {
    if (g_pending_used[i].load()) ::unlink(g_pending_paths[i].data());
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void install_signal_cleanup_once() {
  static bool installed = [] {
    struct sigaction sa {};
    sa.sa_handler = remove_pending_and_exit;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
    return true;
  }();
  (void)installed;
}

int claim_slot(const std::string& temp_path) {
  if (temp_path.size() >= kMaxTempPath) return -1;
  // A slot's old path is a temporary name already renamed away, so a signal arriving between
  // the claim and the copy unlinks nothing that exists.
  for (int i = 0; i < kMaxPendingFiles; ++i) {
    bool expected = false;
    if (g_pending_used[i].compare_exchange_strong(expected, true)) {
      std::memcpy(g_pending_paths[i].data(), temp_path.c_str(), temp_path.size() + 1);
      return i;
    }
  }
  return -1;
}

void release_slot(int slot) {
  if (slot >= 0) g_pending_used[slot].store(false);
}

constexpr std::string_view kTempSuffix = ".owl-tmp";

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

// ".NAME.PID-RANDOM@HOST.owl-tmp": a later run can tell whose leftover a temporary is (a host
// name has no '@'; NAME may have anything).
std::string make_temp_path(const std::string& path) {
  std::filesystem::path p(path);
  std::random_device rd;
  char id[32];
  std::snprintf(id, sizeof id, ".%d-%08x@", static_cast<int>(::getpid()), rd());
  std::string name = ".";
  name.append(p.filename().string()).append(id).append(host_name()).append(kTempSuffix);
  return (p.parent_path() / name).string();
}

// The PID in a temporary's name when the temporary was made on this host, else 0.
pid_t owner_on_this_host(const std::string& name) {
  if (!name.starts_with('.') || !name.ends_with(kTempSuffix)) return 0;
  const std::string stem = name.substr(0, name.size() - kTempSuffix.size());
  const size_t at = stem.rfind('@');
  if (at == std::string::npos || stem.substr(at + 1) != host_name()) return 0;
  const size_t dot = stem.rfind('.', at);
  if (dot == std::string::npos) return 0;
  const std::string id = stem.substr(dot + 1, at - dot - 1);  // PID-RANDOM
  char* end = nullptr;
  const long pid = std::strtol(id.c_str(), &end, 10);
  if (pid <= 0 || end == id.c_str() || *end != '-') return 0;
  return static_cast<pid_t>(pid);
}

// Temporaries that a killed run (kill -9, power loss) left in `folder`: made on this host by a
// process that no longer exists. Removed once per folder per run, each one said on stderr.
void remove_dead_leftovers(const std::filesystem::path& folder) {
  static std::mutex mutex;
  static std::set<std::string> swept;
  std::lock_guard lock(mutex);
  if (!swept.insert(folder.string()).second) return;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(folder.empty() ? "." : folder, ec)) {
    const std::string name = e.path().filename().string();
    const pid_t pid = owner_on_this_host(name);
    if (pid == 0 || pid == ::getpid()) continue;
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive, or not ours to judge
    std::error_code size_ec;
    const auto bytes = std::filesystem::file_size(e.path(), size_ec);
    if (std::filesystem::remove(e.path(), ec))
      std::fprintf(stderr,
                   "owl: note: removed %s (%llu bytes), left by owl process %d, which is gone\n",
                   printable(e.path().string()).c_str(),
                   static_cast<unsigned long long>(size_ec ? 0 : bytes), static_cast<int>(pid));
  }
}

void sync_folder_of(const std::string& path) {
  auto dir = std::filesystem::path(path).parent_path();
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  refuse_if_read(path_);
  install_signal_cleanup_once();
  remove_dead_leftovers(std::filesystem::path(path_).parent_path());
  temp_path_ = make_temp_path(path_);
  slot_ = claim_slot(temp_path_);
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    int err = errno;
    release_slot(slot_);
    throw SystemError(path_, "cannot create output", err);
  }
  buffer_.reserve(kWriteBufferBytes);
}

std::string hidden_beside(const std::string& path, std::string_view suffix) {
  const std::filesystem::path p(path);
  std::string name = ".";
  name.append(p.filename().string()).append(suffix);
  return (p.parent_path() / name).string();
}

std::string AtomicFile::partial_path(const std::string& path) {
  return hidden_beside(path, ".owl-partial");
}

AtomicFile::AtomicFile(std::string path, PartialOpen open, bool keep_on_failure)
    : path_(std::move(path)), keep_on_failure_(keep_on_failure) {
  refuse_if_read(path_);
  temp_path_ = partial_path(path_);
  refuse_if_read(temp_path_);
  // A kept temporary must outlive a signal; one that is not is removed by the handler.
  if (!keep_on_failure) {
    install_signal_cleanup_once();
    slot_ = claim_slot(temp_path_);
  }
  int flags = O_WRONLY | O_CLOEXEC;
  if (open != PartialOpen::Join) flags |= O_CREAT;
  if (open == PartialOpen::Fresh) flags |= O_TRUNC;
  fd_ = ::open(temp_path_.c_str(), flags, 0644);
  if (fd_ < 0) {
    int err = errno;
    release_slot(slot_);
    throw SystemError(path_, "cannot open the temporary output " + temp_path_, err);
  }
  buffer_.reserve(kWriteBufferBytes);
}

AtomicFile::AtomicFile(std::string path, std::string temp_path)
    : path_(std::move(path)), temp_path_(std::move(temp_path)) {
  install_signal_cleanup_once();
  slot_ = claim_slot(temp_path_);
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd_ < 0) {
    int err = errno;
    release_slot(slot_);
    throw SystemError(path_, "cannot open the temporary output " + temp_path_, err);
  }
  buffer_.reserve(kWriteBufferBytes);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !keep_on_failure_) ::unlink(temp_path_.c_str());
  release_slot(slot_);
}

void AtomicFile::flush_buffer() {
  const std::byte* p = buffer_.data();
  size_t left = buffer_.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw SystemError(path_, "write failed", errno);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  buffer_.clear();
}

void AtomicFile::start_writeback() {
  const uint64_t on_disk = pos_ - buffer_.size();
  if (on_disk - writeback_started_ < kWritebackBytes) return;
  // Asynchronous: queues the range for writeback and returns.
  ::sync_file_range(fd_, static_cast<off_t>(writeback_started_),
                    static_cast<off_t>(on_disk - writeback_started_), SYNC_FILE_RANGE_WRITE);
  writeback_started_ = on_disk;
}

void AtomicFile::write(std::span<const std::byte> bytes) {
  pos_ += bytes.size();
  end_ = std::max(end_, pos_);
  if (bytes.size() >= kDirectWriteBytes) {
    flush_buffer();
    while (!bytes.empty()) {
      ssize_t n = ::write(fd_, bytes.data(), std::min<size_t>(bytes.size(), 1u << 30));
      if (n < 0) {
        if (errno == EINTR) continue;
        throw SystemError(path_, "write failed", errno);
      }
      bytes = bytes.subspan(static_cast<size_t>(n));
    }
    start_writeback();
    return;
  }
  if (buffer_.size() + bytes.size() > kWriteBufferBytes) {
    flush_buffer();
    start_writeback();
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

void AtomicFile::write_zeros(uint64_t count) {
  static const std::array<std::byte, 4096> zeros{};
  while (count > 0) {
    uint64_t n = std::min<uint64_t>(count, zeros.size());
    write(std::span<const std::byte>(zeros.data(), n));
    count -= n;
  }
}

void AtomicFile::seek(uint64_t offset) {
  if (offset == pos_) return;
  flush_buffer();
  if (::lseek(fd_, static_cast<off_t>(offset), SEEK_SET) < 0)
    throw SystemError(path_, "seek failed", errno);
  pos_ = offset;
  writeback_started_ = offset;
}

void AtomicFile::resize(uint64_t size) {
  flush_buffer();
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0)
    throw SystemError(path_, "cannot size the temporary output", errno);
  end_ = std::max(end_, size);
}

void AtomicFile::patch(uint64_t offset, std::span<const std::byte> bytes) {
  if (finished_ || offset + bytes.size() > end_)
    throw std::logic_error("patching bytes not yet written to " + path_);
  flush_buffer();
  while (!bytes.empty()) {
    const ssize_t n = ::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw SystemError(path_, "write failed", errno);
    }
    bytes = bytes.subspan(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
}

void AtomicFile::finish() {
  if (finished_) return;
  flush_buffer();
  if (::fsync(fd_) != 0) throw SystemError(path_, "fsync failed", errno);
  if (::close(fd_) != 0) {
    fd_ = -1;
    throw SystemError(path_, "close failed", errno);
  }
  fd_ = -1;
  finished_ = true;
}

void AtomicFile::commit() {
  finish();
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    throw SystemError(path_, "cannot rename the finished output into place", errno);
  }
  committed_ = true;
  release_slot(slot_);
  slot_ = -1;
  sync_folder_of(path_);
}

void AtomicFile::finish_share() {
  finish();
  committed_ = true;  // not this process's to remove: the committing one removes it on failure
  release_slot(slot_);
  slot_ = -1;
}

void commit_all(const std::vector<std::unique_ptr<AtomicFile>>& files) {
  for (const auto& f : files) f->finish();
  for (const auto& f : files) f->commit();
}

}  // namespace owl
