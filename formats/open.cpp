#include "formats/open.h"

#include <cstring>
#include <filesystem>

#include "formats/gguf/reader.h"
#include "formats/hf/folder.h"
#include "formats/io/error.h"
#include "formats/io/mapped_file.h"
#include "formats/llama2c/reader.h"
#include "formats/pytorch/checkpoint.h"
#include "formats/safetensors/reader.h"

namespace owl {
namespace fs = std::filesystem;

namespace {

// What a file is when it is not something owl reads; empty if unrecognised.
std::string describe_other(std::span<const std::byte> head) {
  auto starts = [&](std::string_view magic) {
    return head.size() >= magic.size() && std::memcmp(head.data(), magic.data(), magic.size()) == 0;
  };
  if (starts("7z\xBC\xAF\x27\x1C")) return "a 7z archive, not a model owl can read";
  // A pickle without torch's legacy magic number: never unpickled, whatever it holds.
  if (!head.empty() && static_cast<unsigned char>(head[0]) == 0x80)
    return "a pickle stream that is not a PyTorch checkpoint (no legacy torch.save magic number)";
  return {};
}

}  // namespace

Graph open_model(const std::string& path) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) throw InputError(path, "no such file or folder");
  if (fs::is_directory(status)) return hf::read_folder(path);
  if (path.ends_with(".bin.index.json") || path.ends_with(".pt.index.json") ||
      path.ends_with(".pth.index.json"))
    return pytorch::read_index(path);
  if (path.ends_with(".index.json")) return safetensors::read_index(path);

  auto file = MappedFile::open(path);
  if (file->size() == 0) throw InputError(path, "empty file (0 bytes), not a model");
  const auto head = file->bytes().first(std::min<uint64_t>(file->size(), 32));
  if (gguf::looks_like_gguf(head)) return gguf::read(path);
  if (safetensors::looks_like_safetensors(head, file->size())) return safetensors::read_file(path);
  // A zip is read as a torch checkpoint, which says so when it has no */data.pkl.
  if (pytorch::looks_like_checkpoint(head)) return pytorch::read_file(path);
  if (llama2c::looks_like_llama2c(head, file->size())) return llama2c::read_file(path);
  if (auto other = describe_other(head); !other.empty()) throw InputError(path, "this is " + other);
  // Named like safetensors but malformed: the reader says exactly what is wrong.
  if (path.ends_with(".safetensors")) return safetensors::read_file(path);
  throw InputError(
      path,
      "not a format owl recognises (GGUF, safetensors, a PyTorch checkpoint, a Hugging Face "
      "folder, a llama2.c checkpoint)");
}

}  // namespace owl
