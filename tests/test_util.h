// Helpers shared by the unit tests: scratch folders and hand-built files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace owl::test {

// A fresh folder under the system temp folder, removed with its contents at scope exit.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  // Names of the entries in the folder, sorted.
  std::vector<std::string> list() const;

 private:
  std::filesystem::path path_;
};

void write_bytes(const std::string& path, const std::string& bytes);
std::string read_bytes(const std::string& path);

// A safetensors file from a header text and a data section, with the header length prefix
// computed unless `declared_length` overrides it.
std::string safetensors_bytes(const std::string& header, const std::string& data,
                              int64_t declared_length = -1);

}  // namespace owl::test
