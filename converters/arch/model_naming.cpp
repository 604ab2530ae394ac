#include "converters/arch/model_naming.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <set>
#include <vector>

namespace owl::arch {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0;
}

bool full_match(const std::string& s, const char* pattern) {
  const std::regex re(pattern, std::regex::icase | std::regex::ECMAScript);
  return std::regex_match(s, re);
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.emplace_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// The value a size label stands for ("7.1B" -> 7.1e9), if its number parses.
std::optional<double> label_value(const std::string& part) {
  const std::string number = part.substr(0, part.size() - 1);
  if (number.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size()) return std::nullopt;
  static constexpr std::string_view kScale = " KMBT";
  const size_t at = kScale.find(part.back());
  const double scale =
      at == std::string_view::npos ? 1e-3 : std::pow(1000.0, static_cast<double>(at));
  return v * scale;
}

using Tags = std::set<std::string>;

// A size-like part ("7b", "8x7B", "mini") normalised, with its role.
void classify_size(std::string& part, Tags& tags, int64_t total_params) {
  for (char& c : part)
    if (c == '_') c = '.';
  if (is_digit(part.back()) && part.size() >= 2) {  // bloom-7b1 means 7.1B
    part = part.substr(0, part.size() - 2) + "." + part.back() + part[part.size() - 2];
  }
  if (part.size() > 1 && is_digit(part[part.size() - 2]) &&
      std::string_view("kmbt").find(part.back()) != std::string_view::npos)
    part.back() = static_cast<char>(std::toupper(static_cast<unsigned char>(part.back())));
  if (total_params != 0) {
    if (auto label = label_value(part)) {
      // A label far from the real size is a context length ("128k"): kept, lowercased, as a
      // finetune.
      const bool far = total_params < 0 ? *label < static_cast<double>(-total_params / 8)
                                        : std::fabs(*label - static_cast<double>(total_params)) >
                                              static_cast<double>(7 * total_params / 8);
      if (far) {
        tags.insert("finetune");
        part.back() = static_cast<char>(std::tolower(static_cast<unsigned char>(part.back())));
      }
    }
  }
  if (tags.empty()) tags.insert("size_label");
}

std::optional<std::string> join(const std::vector<std::string>& parts,
                                const std::vector<Tags>& tags, const char* want,
                                const char* exclude = nullptr, bool dedupe = false) {
  std::string out;
  std::set<std::string> seen;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!tags[i].count(want) || (exclude && tags[i].count(exclude))) continue;
    if (dedupe && !seen.insert(parts[i]).second) continue;
    if (!out.empty()) out += "-";
    out += parts[i];
  }
  if (out.empty()) return std::nullopt;
  return out;
}

}  // namespace

ModelIdParts model_id_parts(std::string_view id, int64_t total_params) {
  ModelIdParts r;
  if (id.find(' ') != std::string_view::npos) {  // a sentence, not an id
    r.name = std::string(id);
    return r;
  }
  std::string_view full = id;
  if (auto slash = id.find('/'); slash != std::string_view::npos) {
    r.organization = std::string(id.substr(0, slash));
    full = id.substr(slash + 1);
    if (!r.organization->empty() && (*r.organization)[0] == '.') r.organization.reset();  // "./x"
  }
  r.name = std::string(full);

  std::vector<std::string> parts;
  for (auto& p : split(full, '-'))
    if (!p.empty()) parts.push_back(p);
  std::vector<Tags> tags(parts.size());

  for (size_t i = 0; i < parts.size(); ++i) {
    std::string& part = parts[i];
    if (full_match(part, R"((v|iter)?\d+([.]\d+)*)")) {
      tags[i].insert("version");
    } else if (full_match(part, R"(i?q\d(_\w)*|b?fp?(16|32))")) {
      tags[i].insert("type");
      part = upper(part);
    } else if (i > 0 &&
               full_match(
                   part,
                   R"((([A]|\d+[x])?\d+([._]\d+)?[KMBT][\d]?|small|mini|medium|large|x?xl))")) {
      classify_size(part, tags[i], total_params);
    } else if (i > 0 && full_match(part, "chat|instruct|vision|lora")) {
      tags[i].insert(total_params < 0 && upper(part) == "LORA" ? "type" : "finetune");
    }
  }

  // Word sizes ("mini") give way to a numeric one when there is one.
  bool numeric_size = false;
  for (size_t i = 0; i < parts.size(); ++i)
    if (tags[i].count("size_label"))
      for (char c : parts[i]) numeric_size |= is_digit(c);
  if (numeric_size) {
    for (size_t i = 0; i < parts.size(); ++i) {
      bool all_alpha = true;
      for (char c : parts[i]) all_alpha &= is_alpha(c);
      if (tags[i].count("size_label") && all_alpha) tags[i].erase("size_label");
    }
  }

  // The basename runs from the start over plain words and versions; later plain words are
  // finetunes.
  bool at_start = true;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (at_start && ((tags[i].empty() && is_alpha(parts[i][0])) || tags[i].count("version"))) {
      tags[i].insert("basename");
    } else {
      at_start = false;
      if (tags[i].empty()) tags[i].insert("finetune");
    }
  }
  // A trailing version belongs to the version, not the basename.
  for (size_t i = parts.size(); i-- > 0;) {
    if (tags[i].count("basename") && tags[i].size() > 1)
      tags[i].erase("basename");
    else
      break;
  }

  r.basename = join(parts, tags, "basename");
  r.size_label = join(parts, tags, "size_label", nullptr, true);
  r.finetune = join(parts, tags, "finetune");
  r.version = join(parts, tags, "version", "basename");
  if (!r.size_label && !r.finetune && !r.version) r.basename.reset();  // too ambiguous
  return r;
}

std::string id_to_title(std::string_view id) {
  std::string spaced(id);
  for (char& c : spaced)
    if (c == '-') c = ' ';
  std::string out;
  size_t i = 0;
  while (i < spaced.size()) {
    while (i < spaced.size() && std::isspace(static_cast<unsigned char>(spaced[i]))) ++i;
    size_t j = i;
    while (j < spaced.size() && !std::isspace(static_cast<unsigned char>(spaced[j]))) ++j;
    if (j == i) break;
    std::string word = spaced.substr(i, j - i);
    bool has_cased = false, has_upper = false;
    for (char c : word) {
      has_cased |= is_alpha(c);
      has_upper |= std::isupper(static_cast<unsigned char>(c)) != 0;
    }
    const bool lower = has_cased && !has_upper;
    const bool number_like = full_match(word, R"(v\d+(?:\.\d+)*)") || is_digit(word[0]);
    if (lower && !number_like) {
      // Title case: a letter after a non-letter starts a word.
      bool prev_letter = false;
      for (char& c : word) {
        const bool letter = is_alpha(c);
        if (letter)
          c = static_cast<char>(prev_letter ? std::tolower(static_cast<unsigned char>(c))
                                            : std::toupper(static_cast<unsigned char>(c)));
        prev_letter = letter;
      }
    }
    if (!out.empty()) out += ' ';
    out += word;
    i = j;
  }
  return out;
}

std::string size_label(uint64_t total_params) {
  const double n = static_cast<double>(total_params);
  double scaled;
  char suffix;
  if (n > 1e12) {
    scaled = n * 1e-12, suffix = 'T';
  } else if (n > 1e9) {
    scaled = n * 1e-9, suffix = 'B';
  } else if (n > 1e6) {
    scaled = n * 1e-6, suffix = 'M';
  } else {
    scaled = n * 1e-3, suffix = 'K';
  }
  // Digits before the point, counted as Python's round-half-even then str() would print them.
  const double whole = std::nearbyint(scaled);
  const std::string digits = whole == 0 ? "" : std::to_string(static_cast<uint64_t>(whole));
  const int decimals = std::max(0, 2 - static_cast<int>(digits.size()));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f%c", decimals, scaled, suffix);
  return buf;
}

ParamCount count_params(std::span<const Tensor> tensors) {
  ParamCount c;
  uint64_t expert_sum = 0, expert_tensors = 0;
  for (const Tensor& t : tensors) {
    const uint64_t n = t.elements();
    c.total += n;
    const bool bias = t.name.find(".bias") != std::string::npos;
    const size_t axis = bias ? 2 : 3;  // the expert axis, counted from the innermost
    if (t.name.find("_exps.") == std::string::npos || t.shape.size() < 3) {
      c.shared += n;
      continue;
    }
    const uint64_t experts = t.shape[t.shape.size() - axis];
    if (experts == 0) continue;
    c.per_expert += n / experts;
    expert_sum += experts;
    ++expert_tensors;
  }
  c.experts = expert_tensors ? expert_sum / expert_tensors : 0;
  return c;
}

std::string size_label(const ParamCount& c) {
  if (c.experts == 0) return size_label(c.total);
  return std::to_string(c.experts) + "x" + size_label(c.shared + c.per_expert);
}

}  // namespace owl::arch
