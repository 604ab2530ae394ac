// A private folder for one fuzz process: the fixed companion files a target needs (a model
// folder's other files, a tokenizer, the first part of a split GGUF), and the file each input is
// written to before it is opened by path, as the CLI opens it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace owl::fuzz {

class ScratchDir {
 public:
  // Under /dev/shm when there is one: every input is written and mapped there, and a disk would
  // make that the slowest step.
  ScratchDir() {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path base =
        fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    std::string tmpl = (base / "owl-fuzz-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

  // Replaces `name` with `bytes`; a failed write is the harness's fault, not the input's.
  std::string put(const std::string& name, std::string_view bytes) const {
    const std::string p = file(name);
    std::FILE* f = std::fopen(p.c_str(), "wb");
    if (f == nullptr) std::abort();
    if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size())
      std::abort();
    if (std::fclose(f) != 0) std::abort();
    return p;
  }

  // Copies every regular file of `folder` except `skip` (the name the inputs will take).
  void copy_files_of(const std::filesystem::path& folder, const std::string& skip) const {
    for (const auto& e : std::filesystem::directory_iterator(folder))
      if (e.is_regular_file() && e.path().filename() != skip)
        std::filesystem::copy_file(e.path(), path_ / e.path().filename(),
                                   std::filesystem::copy_options::overwrite_existing);
  }

 private:
  std::filesystem::path path_;
};

}  // namespace owl::fuzz
