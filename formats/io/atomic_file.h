// An output file that appears under its final name only when complete.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace owl {

// Writes to a hidden temporary file in the destination folder; commit() flushes it to disk
// and renames it into place. Destroyed (or interrupted by SIGINT/SIGTERM) before commit(),
// the temporary file is removed, so a failed run never leaves a partial output behind.
// How a temporary with a fixed name (partial_path()) is opened. Such a temporary is what several
// processes (MPI ranks) write together, each its own tensors at their offsets, or what a later run
// continues with --resume.
enum class PartialOpen {
  Fresh,     // created, or emptied if there, by the process that will commit it
  Continue,  // kept as it is (--resume), by the process that will commit it
  Join,      // opened as it is, by a process that writes into it and leaves committing to another
};

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  // The fixed-name temporary of `path`. With `keep_on_failure`, it stays behind when the run
  // fails or is interrupted (for --resume); without, it is removed as the random one is.
  AtomicFile(std::string path, PartialOpen open, bool keep_on_failure);
  // The temporary `temp_path` that another process made for `path` (with AtomicFile(path)):
  // this process writes its share into it and leaves committing to that one. Its name carries
  // the maker's PID, so a leftover of a killed job is swept like any other.
  AtomicFile(std::string path, std::string temp_path);
  // ".NAME.owl-partial" beside `path`.
  static std::string partial_path(const std::string& path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }
  // The end of the furthest byte written.
  uint64_t bytes_written() const { return end_; }

  void write(std::span<const std::byte> bytes);
  void write(std::string_view text) {
    write(std::as_bytes(std::span<const char>(text.data(), text.size())));
  }
  void write_zeros(uint64_t count);
  // Writes continue at `offset`: outputs whose layout is fixed in advance are written out of
  // order (tensors shared out to processes, or only those a resumed run still lacks).
  void seek(uint64_t offset);
  // Hands buffered bytes to the kernel: once this returns they survive the process being killed.
  void flush() { flush_buffer(); }
  // Sets the temporary's size (a fixed layout's total), so every part of it exists.
  void resize(uint64_t size);
  // Overwrites bytes already written at [offset, offset + bytes.size()): a header whose values
  // are known only once the data after it has streamed (provenance hashes) is patched in place.
  void patch(uint64_t offset, std::span<const std::byte> bytes);

  // Flushes and fsyncs the temporary file, but leaves it under its temporary name. Several
  // files that belong together (shards and their index) are all finished before any is renamed.
  void finish();
  // Renames into place (finishing first if needed) and syncs the folder.
  void commit();
  // Finishes a joined temporary: its bytes are on disk, the process that opened it Fresh or
  // Continue commits it.
  void finish_share();

 private:
  void flush_buffer();
  void start_writeback();

  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  int slot_ = -1;
  uint64_t pos_ = 0, end_ = 0;
  uint64_t writeback_started_ = 0;
  std::vector<std::byte> buffer_;
  bool finished_ = false;
  bool committed_ = false;
  bool keep_on_failure_ = false;
};

// ".NAME<suffix>" beside `path`: the hidden files a run keeps next to its output.
std::string hidden_beside(const std::string& path, std::string_view suffix);

// Commits a set of files together: all are finished before the first rename.
void commit_all(const std::vector<std::unique_ptr<AtomicFile>>& files);

}  // namespace owl
