#include "tools/human.h"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace owl {

std::string human_bytes(uint64_t bytes) {
  static constexpr std::array<const char*, 6> kUnits = {"B", "KB", "MB", "GB", "TB", "PB"};
  double v = static_cast<double>(bytes);
  size_t u = 0;
  while (v >= 1000 && u + 1 < kUnits.size()) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else
    std::snprintf(buf, sizeof buf, "%.2f %s", v, kUnits[u]);
  return buf;
}

std::string human_count(uint64_t n) {
  static constexpr std::array<const char*, 5> kUnits = {"", " K", " M", " B", " T"};
  double v = static_cast<double>(n);
  size_t u = 0;
  while (v >= 1000 && u + 1 < kUnits.size()) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(n));
  else
    std::snprintf(buf, sizeof buf, "%.2f%s", v, kUnits[u]);
  return buf;
}

std::string with_commas(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string human_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<uint64_t>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%llu:%02llu:%02llu", static_cast<unsigned long long>(s / 3600),
                  static_cast<unsigned long long>(s / 60 % 60), static_cast<unsigned long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%llu:%02llu", static_cast<unsigned long long>(s / 60),
                  static_cast<unsigned long long>(s % 60));
  return buf;
}

std::optional<uint64_t> parse_size(std::string_view text) {
  uint64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  std::string unit(end, text.data() + text.size());
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  struct Unit {
    const char* name;
    uint64_t factor;
  };
  // K, M, G, T alone are gguf-split's and convert_hf_to_gguf.py's spelling: powers of 1000.
  static constexpr std::array<Unit, 14> kUnits = {{{"", 1},
                                                  {"B", 1},
                                                  {"K", 1000},
                                                  {"M", 1000'000},
                                                  {"G", 1000'000'000},
                                                  {"T", 1000'000'000'000},
                                                  {"KB", 1000},
                                                  {"MB", 1000'000},
                                                  {"GB", 1000'000'000},
                                                  {"TB", 1000'000'000'000},
                                                  {"KIB", 1ull << 10},
                                                  {"MIB", 1ull << 20},
                                                  {"GIB", 1ull << 30},
                                                  {"TIB", 1ull << 40}}};
  for (const auto& u : kUnits) {
    if (unit == u.name) {
      uint64_t r;
      if (__builtin_mul_overflow(number, u.factor, &r)) return std::nullopt;
      return r;
    }
  }
  return std::nullopt;
}

std::string check_size_option(const std::string& text) {
  const auto bytes = parse_size(text);
  return bytes && *bytes > 0 ? "" : "must be a size like 5GB or 500MiB";
}

}  // namespace owl
