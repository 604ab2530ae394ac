#include "converters/tokenizer/chat_template.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <vector>

#include "converters/tokenizer/json_util.h"
#include "converters/tokenizer/keys.h"
#include "converters/tokenizer/limits.h"
#include "formats/io/error.h"
#include "formats/io/mapped_file.h"

namespace owl::tok {
namespace fs = std::filesystem;
namespace {

// A template file's text as Python's text mode reads it: "\r\n" and "\r" become "\n".
std::string read_template_file(const fs::path& path) {
  auto file = MappedFile::open(path.string());
  if (file->size() > kMaxSideFileBytes)
    throw InputError(path.string(), "chat template of " + std::to_string(file->size()) +
                                        " bytes is larger than the limit of " +
                                        std::to_string(kMaxSideFileBytes));
  const auto b = file->bytes();
  const std::string_view raw(reinterpret_cast<const char*>(b.data()), b.size());
  std::string text;
  text.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\r') {
      text += raw[i];
      continue;
    }
    text += '\n';
    if (i + 1 < raw.size() && raw[i + 1] == '\n') ++i;
  }
  return text;
}

std::optional<ChatTemplate> jinja_templates(const fs::path& dir) {
  std::error_code ec;
  const fs::path main = dir / "chat_template.jinja";
  if (!fs::is_regular_file(main, ec)) return std::nullopt;
  ChatTemplate t{read_template_file(main), main.string()};
  std::vector<fs::path> more;
  const fs::path extra_dir = dir / "additional_chat_templates";
  if (fs::is_directory(extra_dir, ec)) {
    for (const auto& e : fs::directory_iterator(extra_dir, ec))
      if (e.path().extension() == ".jinja" && e.is_regular_file(ec)) more.push_back(e.path());
  }
  if (more.empty()) return t;
  if (more.size() > kMaxChatTemplates)
    throw InputError(extra_dir.string(), "holds more chat templates than the limit of " +
                                             std::to_string(kMaxChatTemplates));
  std::sort(more.begin(), more.end());
  Json list = Json::array({Json{{"name", "default"}, {"template", t.value}}});
  for (const auto& p : more)
    list.push_back(Json{{"name", p.stem().string()}, {"template", read_template_file(p)}});
  return ChatTemplate{std::move(list), main.string()};
}

std::optional<ChatTemplate> json_template(const fs::path& dir) {
  std::error_code ec;
  const fs::path path = dir / "chat_template.json";
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  const Json j = read_json_object(path.string(), kMaxSideFileBytes);
  return ChatTemplate{member_or_null(j, "chat_template"), path.string()};
}

// Every character but an ASCII letter or digit becomes one '_' (a multi-byte UTF-8 character too).
std::string key_safe_name(const std::string& name) {
  std::string out;
  for (unsigned char c : name) {
    if (c < 0x80)
      out += std::isalnum(c) ? static_cast<char>(c) : '_';
    else if (c >= 0xC0)
      out += '_';  // the lead byte of a character; continuation bytes add nothing
  }
  return out;
}

void put_named_templates(Metadata& m, const ChatTemplate& t) {
  if (t.value.size() > kMaxChatTemplates)
    throw InputError(t.file, "chat_template lists more templates than the limit of " +
                                 std::to_string(kMaxChatTemplates));
  std::optional<std::string> fallback;
  std::vector<std::string> names;
  for (size_t i = 0; i < t.value.size(); ++i) {
    const Json& entry = t.value[i];
    const std::string where = "chat_template entry " + std::to_string(i);
    if (!entry.is_object())
      throw InputError(t.file, where + " is " + json_kind(entry) + ", not an object");
    const Json name = member_or_null(entry, "name");
    if (!name.is_null() && !name.is_string())
      throw InputError(t.file, where + " has a name that is not a string");
    const Json text = member_or_null(entry, "template");
    if (!text.is_null() && !text.is_string())
      throw InputError(t.file, where + " has a template that is not a string");
    const std::string key_name = key_safe_name(name.is_string() ? name.get<std::string>() : "");
    if (key_name.empty() || text.is_null()) continue;
    if (key_name == "default") {
      fallback = text.get<std::string>();
      continue;
    }
    if (std::find(names.begin(), names.end(), key_name) == names.end()) names.push_back(key_name);
    m.set(std::string(kChatTemplateKey) + "." + key_name, Value::string(text.get<std::string>()));
  }
  if (!names.empty()) m.set(std::string(kChatTemplatesKey), string_array(names));
  if (fallback) m.set(std::string(kChatTemplateKey), Value::string(*fallback));
}

}  // namespace

ChatTemplate find_chat_template(const std::string& folder, const JsonFile& tokenizer_config,
                                const TokenizerWarn& warn) {
  ChatTemplate t;
  if (const Json* own = member(tokenizer_config.json, "chat_template")) {
    t = {*own, tokenizer_config.path};
  } else if (auto jinja = jinja_templates(folder)) {
    t = std::move(*jinja);
  } else if (auto json = json_template(folder)) {
    t = std::move(*json);
  }
  if (!t.value.is_null() && !t.value.is_string() && !t.value.is_array()) {
    warn(t.file + ": chat_template is " + json_kind(t.value) +
         ", not a string or a list; ignoring it");
    t.value = nullptr;
  }
  return t;
}

void put_chat_template(Metadata& m, const ChatTemplate& t) {
  if (t.value.is_string())
    m.set(std::string(kChatTemplateKey), Value::string(t.value.get<std::string>()));
  else if (t.value.is_array())
    put_named_templates(m, t);
}

}  // namespace owl::tok
