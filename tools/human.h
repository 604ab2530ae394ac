// Numbers for people: sizes, counts, durations; and sizes typed by people.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace owl {

std::string human_bytes(uint64_t bytes);       // "2.20 GB" (decimal units, like file managers)
std::string human_count(uint64_t n);           // "1.10 B", "260.1 K"
std::string with_commas(uint64_t n);           // "1,100,048,384"
std::string human_duration(double seconds);    // "0:42", "1:02:03"

// "5GB", "500MB", "2GiB", "1000000": bytes, or nullopt if not a size.
std::optional<uint64_t> parse_size(std::string_view text);
// CLI11 check for options that take a size like 5GB: "" when it is one, else why not.
std::string check_size_option(const std::string& text);

}  // namespace owl
