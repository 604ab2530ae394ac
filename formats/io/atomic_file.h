// An output file that appears under its final name only when complete.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace owl {

// Writes to a hidden temporary file in the destination folder; commit() flushes it to disk
// and renames it into place. Destroyed (or interrupted by SIGINT/SIGTERM) before commit(),
// the temporary file is removed, so a failed run never leaves a partial output behind.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t bytes_written() const { return written_; }

  void write(std::span<const std::byte> bytes);
  void write(std::string_view text) {
    write(std::as_bytes(std::span<const char>(text.data(), text.size())));
  }
  void write_zeros(uint64_t count);
  // Overwrites bytes already written at [offset, offset + bytes.size()): a header whose values
  // are known only once the data after it has streamed (provenance hashes) is patched in place.
  void patch(uint64_t offset, std::span<const std::byte> bytes);

  // Flushes and fsyncs the temporary file, but leaves it under its temporary name. Several
  // files that belong together (shards and their index) are all finished before any is renamed.
  void finish();
  // Renames into place (finishing first if needed) and syncs the folder.
  void commit();

 private:
  void flush_buffer();
  void start_writeback();

  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  int slot_ = -1;
  uint64_t written_ = 0;
  uint64_t writeback_started_ = 0;
  std::vector<std::byte> buffer_;
  bool finished_ = false;
  bool committed_ = false;
};

// Commits a set of files together: all are finished before the first rename.
void commit_all(const std::vector<std::unique_ptr<AtomicFile>>& files);

}  // namespace owl
