#include "converters/tokenizer/post_processor.h"

#include <algorithm>

#include "converters/tokenizer/json_util.h"

namespace owl::tok {
namespace {

// The special tokens tokenizer_config.json names (a string, an AddedToken object, or null),
// compared as gguf-py compares them: by JSON value, so a string never equals an object.
struct Named {
  Json bos, cls, eos, sep;
};

bool either(const Json& v, const Json& a, const Json& b) {
  return v == a || v == b;
}

// A template piece's {"SpecialToken": {"id": ...}} or {"Sequence": {"id": ...}} id, else null.
Json piece_id(const Json& piece, std::string_view kind) {
  return member_or_null(member_or_null(piece, kind), "id");
}

class Reader {
 public:
  Reader(Json& config, std::vector<std::string>& kinds, Ordered<bool>& add, const std::string& file,
         const TokenizerWarn& warn)
      : config_(config), kinds_(kinds), add_(add), file_(file), warn_(warn) {}

  void run(const Json& post_processor) {
    names_ = {member_or_null(config_, "bos_token"), member_or_null(config_, "cls_token"),
              member_or_null(config_, "eos_token"), member_or_null(config_, "sep_token")};
    if (!truthy(names_.bos) && truthy(names_.cls) && has_config())
      config_["bos_token"] = names_.bos = names_.cls;
    if (!truthy(names_.eos) && truthy(names_.sep) && has_config())
      config_["eos_token"] = names_.eos = names_.sep;
    if (!truthy(post_processor)) return;
    const Json* steps = member(post_processor, "processors");
    if (steps && steps->is_array()) {
      for (const Json& step : *steps) read_step(step);
    } else if (!steps) {
      read_step(post_processor);
    }
  }

 private:
  bool has_config() const { return truthy(config_); }

  void read_step(const Json& step) {
    const auto type = string_member(step, "type");
    if (type == "ByteLevel") {
      add_.set_default("bos", false);
      add_.set_default("eos", false);
    } else if (type == "RobertaProcessing") {
      read_roberta(step);
    } else if (type == "TemplateProcessing") {
      read_template(step);
    }
  }

  // RobertaProcessing always adds <s> A </s> (and </s></s> between pairs).
  void read_roberta(const Json& step) {
    add_.set("bos", true);
    add_.set("eos", true);
    add_.set("sep", true);
    if (!truthy(names_.cls) && has_config())
      config_["cls_token"] = names_.cls = first_of(step, "cls", names_.bos);
    if (!truthy(names_.sep) && has_config())
      config_["sep_token"] = names_.sep = first_of(step, "sep", names_.eos);
  }

  static Json first_of(const Json& step, std::string_view key, const Json& fallback) {
    const Json* v = member(step, key);
    if (!v) return fallback;
    return v->is_array() && !v->empty() ? (*v)[0] : Json();
  }

  // A template like "<bos> $A <eos>" adds BOS and EOS; "$A <sep> $B" adds a separator. Only
  // such simple templates are understood, as in gguf-py.
  void read_template(const Json& step) {
    const Json& single = member_or_null(step, "single");
    const Json& pair = member_or_null(step, "pair");
    Json first, last;
    if (single.is_array() && single.size() > 1) {
      first = piece_id(single.front(), "SpecialToken");
      if (truthy(first)) read_leading(first);
      last = piece_id(single.back(), "SpecialToken");
      if (truthy(last)) read_trailing(last);
    }
    if (pair.is_array() && !pair.empty()) read_pair(pair, first, last);
  }

  void read_leading(const Json& first) {
    if (!has_config()) {
      names_.bos = first;
    } else if (!either(first, names_.bos, names_.cls)) {
      if (!truthy(names_.bos)) config_["bos_token"] = names_.bos = first;
      if (!truthy(names_.cls)) config_["cls_token"] = names_.cls = first;
    }
    const bool known = either(first, names_.bos, names_.cls);
    add_.set("bos", known);
    if (!known)
      warn_(file_ + ": unknown leading special token " + first.dump() +
            " in the post-processor template");
  }

  // A last token other than the configured EOS becomes the EOS; the configured one is kept as
  // the end-of-turn (or end-of-message) token.
  void read_trailing(const Json& last) {
    if (!has_config()) {
      names_.eos = last;
    } else if (last != names_.eos) {
      if (std::find(kinds_.begin(), kinds_.end(), "eot") == kinds_.end()) {
        kinds_.push_back("eot");
        config_["eot_token"] = names_.eos;
      } else if (std::find(kinds_.begin(), kinds_.end(), "eom") == kinds_.end()) {
        kinds_.push_back("eom");
        config_["eom_token"] = names_.eos;
      } else {
        warn_(file_ + ": the post-processor template's last token " + last.dump() +
              " replaces the EOS token " + names_.eos.dump() + ", which is kept nowhere");
      }
      config_["eos_token"] = names_.eos = last;
    }
    add_.set("eos", last == names_.eos);
  }

  void read_pair(const Json& pair, const Json& first, const Json& last) {
    size_t begin = 0, end = pair.size();
    if (truthy(first) && piece_id(pair.front(), "SpecialToken") == first) begin = 1;
    if (truthy(last) && piece_id(pair.back(), "SpecialToken") == last) end = pair.size() - 1;
    if (begin >= end) return;
    const Json a = piece_id(pair[begin], "Sequence"), b = piece_id(pair[end - 1], "Sequence");
    if (a != "A" || b != "B") {
      warn_(file_ + ": unknown sequence " + a.dump() + "..." + b.dump() +
            " in the post-processor pair template");
      return;
    }
    // What stands between $A and $B: one or two separators.
    if (end - begin < 3) return;
    const size_t inner = end - begin - 2;
    bool add_sep = false;
    const Json e0 = piece_id(pair[begin + 1], "SpecialToken");
    if (truthy(e0) && either(e0, names_.sep, names_.eos) && !truthy(last)) add_sep = true;
    if (inner == 2) {
      const Json e1 = piece_id(pair[begin + 2], "SpecialToken");
      if (truthy(e1) && either(e1, names_.sep, names_.eos)) add_sep = true;
    }
    add_.set("sep", add_sep);
    if (add_sep && !truthy(names_.sep) && has_config()) config_["sep_token"] = names_.eos;
  }

  Json& config_;
  std::vector<std::string>& kinds_;
  Ordered<bool>& add_;
  const std::string& file_;
  const TokenizerWarn& warn_;
  Named names_;
};

}  // namespace

void read_post_processor(const Json& tokenizer, Json& config, std::vector<std::string>& kinds,
                         Ordered<bool>& add, const std::string& file, const TokenizerWarn& warn) {
  Reader(config, kinds, add, file, warn).run(member_or_null(tokenizer, "post_processor"));
}

}  // namespace owl::tok
