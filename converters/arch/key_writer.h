// Writes `<arch>.*` GGUF keys with the value types convert_hf_to_gguf.py gives them.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "converters/metadata.h"
#include "formats/gguf/limits.h"
#include "formats/io/error.h"

namespace owl::arch {

class KeyWriter {
 public:
  // `source_file` names the file the values came from in errors (config.json).
  KeyWriter(Metadata& out, std::string arch, std::string source_file)
      : out_(out), arch_(std::move(arch)), file_(std::move(source_file)) {}

  const std::string& arch() const { return arch_; }
  std::string key(std::string_view suffix) const { return arch_ + "." + std::string(suffix); }

  void u32(std::string_view suffix, int64_t v) {
    if (v < 0 || v > static_cast<int64_t>(std::numeric_limits<uint32_t>::max()))
      throw InputError(file_,
                       key(suffix) + " would be " + std::to_string(v) + ", outside 0..4294967295");
    out_.set(key(suffix), Value::u32(static_cast<uint32_t>(v)));
  }
  void f32(std::string_view suffix, double v) {
    out_.set(key(suffix), Value::f32(static_cast<float>(v)));
  }
  void boolean(std::string_view suffix, bool v) { out_.set(key(suffix), Value::boolean(v)); }
  void str(std::string_view suffix, std::string v) {
    out_.set(key(suffix), Value::string(std::move(v)));
  }
  // Takes back a key written before (a family whose converter drops a value the common keys used).
  void erase(std::string_view suffix) { out_.erase(key(suffix)); }
  // Where the reference writes general.file_type among the `<arch>.*` keys. The value is the
  // pipeline's (it knows the output types); 0 (all F32) holds the place until then.
  void file_type_slot() {
    if (!out_.find(kFileTypeKey)) out_.set(kFileTypeKey, Value::u32(0));
  }
  // The keys the reference writes after the `<arch>.*` keys, whatever the output types.
  void closing_general_keys() {
    file_type_slot();
    out_.set(gguf::kQuantizationVersionKey, Value::u32(gguf::kQuantizationVersion));
  }

  static constexpr const char* kFileTypeKey = "general.file_type";

 private:
  Metadata& out_;
  std::string arch_;
  std::string file_;
};

}  // namespace owl::arch
