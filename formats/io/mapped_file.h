// A read-only memory map of a whole input file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace owl {

class MappedFile {
 public:
  // Maps `path` read-only. Throws InputError if it cannot be opened or is not a regular file.
  static std::shared_ptr<const MappedFile> open(const std::string& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  std::span<const std::byte> bytes() const { return {data_, size_}; }
  // The bytes [offset, offset + length); the caller has validated the range.
  std::span<const std::byte> slice(uint64_t offset, uint64_t length) const {
    return {data_ + offset, length};
  }

  // Drops the pages of [offset, offset + length) from this process's resident set.
  // They stay in the page cache; the next access faults them back in. This is what
  // keeps peak RSS near one tensor while streaming a whole model through the map.
  void release(uint64_t offset, uint64_t length) const;

 private:
  MappedFile(std::string path, const std::byte* data, uint64_t size)
      : path_(std::move(path)), data_(data), size_(size) {}

  std::string path_;
  const std::byte* data_;
  uint64_t size_;
};

}  // namespace owl
