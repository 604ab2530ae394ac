// SHA-256 of input files (file_digest.h), computed on background threads while the pipeline
// works: the files are read once from disk (the pipeline finds the pages in the cache the hashing
// brought in, or the other way round), and the hashing takes other cores instead of the
// pipeline's time. SHA-256 of one file is a serial chain, so a model in several shards is hashed
// a few files at a time when the machine has the cores.
#pragma once

#include <atomic>
#include <exception>
#include <string>
#include <thread>
#include <vector>

namespace owl {

class FileDigests {
 public:
  // Starts hashing the files.
  explicit FileDigests(std::vector<std::string> paths);
  ~FileDigests();
  FileDigests(const FileDigests&) = delete;
  FileDigests& operator=(const FileDigests&) = delete;

  // Waits for the hashing: each file's SHA-256 as lowercase hex, in the order given. Throws
  // InputError naming the first file (in that order) that could not be read.
  const std::vector<std::string>& wait();

 private:
  void work();
  void join();

  std::vector<std::string> paths_;
  std::vector<std::string> hex_;
  std::vector<std::exception_ptr> errors_;
  std::atomic<size_t> next_{0};
  std::vector<std::thread> workers_;
};

}  // namespace owl
