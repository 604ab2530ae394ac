// SHA-256 of input files (file_digest.h), computed on a background thread while the pipeline
// works: the files are read once from disk (the pipeline finds the pages in the cache the hashing
// brought in, or the other way round), and the hashing takes another core instead of the
// pipeline's time.
#pragma once

#include <exception>
#include <string>
#include <thread>
#include <vector>

namespace owl {

class FileDigests {
 public:
  // Starts hashing the files, in order.
  explicit FileDigests(std::vector<std::string> paths);
  ~FileDigests();
  FileDigests(const FileDigests&) = delete;
  FileDigests& operator=(const FileDigests&) = delete;

  // Waits for the hashing: each file's SHA-256 as lowercase hex, in the order given. Throws
  // InputError naming a file that could not be read.
  const std::vector<std::string>& wait();

 private:
  std::vector<std::string> paths_;
  std::vector<std::string> hex_;
  std::exception_ptr error_;
  std::thread worker_;
};

}  // namespace owl
