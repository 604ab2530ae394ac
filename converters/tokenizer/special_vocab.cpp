#include "converters/tokenizer/special_vocab.h"

#include <limits>

#include "converters/tokenizer/json_util.h"
#include "converters/tokenizer/keys.h"
#include "converters/tokenizer/limits.h"
#include "converters/tokenizer/merges.h"
#include "converters/tokenizer/post_processor.h"
#include "formats/io/error.h"

namespace owl::tok {
namespace {

class Loader {
 public:
  Loader(const HfTokenizerFiles& f, const SpecialVocabOptions& opt, const TokenizerWarn& warn)
      : f_(f), opt_(opt), kinds_(opt.kinds), warn_(warn) {}

  SpecialVocab run() {
    Json config = f_.tokenizer_config ? f_.tokenizer_config->json : Json();
    if (f_.tokenizer) read_tokenizer_json(*f_.tokenizer, config);
    if (truthy(config)) read_tokenizer_config(config);
    if (f_.config) read_config(*f_.config);
    return std::move(sv_);
  }

 private:
  void read_tokenizer_json(const JsonFile& t, Json& config) {
    if (opt_.load_merges) sv_.merges = read_merges(t);
    read_normalizer(member_or_null(t.json, "normalizer"), 0);
    if (truthy(t.json)) read_post_processor(t.json, config, kinds_, sv_.add, t.path, warn_);
  }

  // Lowercasing and accent stripping, which llama.cpp applies itself when told.
  void read_normalizer(const Json& n, int depth) {
    if (!truthy(n) || depth > kMaxSequenceDepth) return;
    const auto type = string_member(n, "type");
    if (type == "Lowercase") {
      sv_.lowercase = true;
    } else if (type == "StripAccents") {
      sv_.strip_accents = true;
    } else if (type == "BertNormalizer") {
      flag_from(n, "lowercase", sv_.lowercase);
      flag_from(n, "strip_accents", sv_.strip_accents);
    } else if (type == "Sequence") {
      const Json* list = member(n, "normalizers");
      if (list && list->is_array())
        for (const Json& step : *list) read_normalizer(step, depth + 1);
    }
  }

  static void flag_from(const Json& n, std::string_view key, std::optional<bool>& flag) {
    const Json* v = member(n, key);
    if (!v) return;
    if (v->is_boolean())
      flag = v->get<bool>();
    else if (v->is_null())
      flag.reset();
  }

  void read_tokenizer_config(const Json& config) {
    const JsonFile& file = *f_.tokenizer_config;
    sv_.chat_template = find_chat_template(f_.folder, file, warn_);
    // kinds_ may have grown while reading the post-processor (eot, eom).
    for (size_t i = 0; i < kinds_.size(); ++i) {
      const std::string kind = kinds_[i];
      read_add_flag(config, kind, file.path);
      if (auto content = token_content(member_or_null(config, kind + "_token")))
        set_id(kind, added_token_id(*content), file.path);
    }
  }

  void read_add_flag(const Json& config, const std::string& kind, const std::string& file) {
    const Json* flag = member(config, "add_" + kind + "_token");
    if (!flag || !flag->is_boolean()) return;
    const bool value = flag->get<bool>();
    const bool* found = sv_.add.find(kind);
    if (!found)
      sv_.add.set(kind, value);
    else if (*found != value)
      warn_(file + ": add_" + kind + "_token is " + (value ? "true" : "false") +
            " but the tokenizer's post-processor says otherwise; keeping the post-processor's");
  }

  // A *_token entry: a string, or an AddedToken object's content.
  static std::optional<std::string> token_content(const Json& entry) {
    if (entry.is_string()) return entry.get<std::string>();
    return string_member(entry, "content");
  }

  // The id of the first of tokenizer.json's added tokens with this text, or null.
  Json added_token_id(const std::string& content) const {
    if (!f_.tokenizer) return nullptr;
    const Json* added = member(f_.tokenizer->json, "added_tokens");
    if (!added || !added->is_array()) return nullptr;
    for (const Json& token : *added)
      if (string_member(token, "content") == content) return member_or_null(token, "id");
    return nullptr;
  }

  void read_config(const JsonFile& config) {
    const Json& text_config = member_or_null(config.json, "text_config");
    for (size_t i = 0; i < kinds_.size(); ++i) {
      const std::string key = kinds_[i] + "_token_id";
      Json id = member_or_null(config.json, key);
      if (id.is_null()) id = member_or_null(text_config, key);
      set_id(kinds_[i], id, config.path);
    }
  }

  // The first id found for a kind stays; ids that are not integers are not ids.
  void set_id(const std::string& kind, const Json& id, const std::string& file) {
    if (!id.is_number_integer()) return;
    const auto value = integer_value(id);
    if (value && *value < 0)
      throw InputError(file, "the " + kind + " token id " + id.dump() + " is negative");
    if (opt_.n_vocab && (!value || static_cast<uint64_t>(*value) >= opt_.n_vocab)) {
      warn_(file + ": the " + kind + " token id " + id.dump() + " is out of range (the model has " +
            std::to_string(opt_.n_vocab) + " tokens); skipping it");
      return;
    }
    if (!value || *value > std::numeric_limits<uint32_t>::max())
      throw InputError(file, "the " + kind + " token id " + id.dump() + " does not fit in 32 bits");
    sv_.ids.set_default(kind, static_cast<uint32_t>(*value));
  }

  const HfTokenizerFiles& f_;
  const SpecialVocabOptions& opt_;
  std::vector<std::string> kinds_;
  const TokenizerWarn& warn_;
  SpecialVocab sv_;
};

}  // namespace

SpecialVocab load_special_vocab(const HfTokenizerFiles& f, const SpecialVocabOptions& opt,
                                const TokenizerWarn& warn) {
  return Loader(f, opt, warn).run();
}

void put_special_vocab(Metadata& m, const SpecialVocab& sv) {
  if (!sv.merges.empty()) m.set(std::string(kMergesKey), string_array(sv.merges));
  for (const auto& [kind, id] : sv.ids.items())
    if (auto key = special_id_key(kind)) m.set(*key, Value::u32(id));
  for (const auto& [kind, on] : sv.add.items())
    if (auto key = add_flag_key(kind)) m.set(*key, Value::boolean(on));
  put_chat_template(m, sv.chat_template);
  if (sv.lowercase) m.set(std::string(kLowercaseKey), Value::boolean(*sv.lowercase));
  if (sv.strip_accents) m.set(std::string(kStripAccentsKey), Value::boolean(*sv.strip_accents));
}

}  // namespace owl::tok
