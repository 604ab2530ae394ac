// UTF-8 as protobuf and terminals need it: strings from hostile files are checked before they
// go into a string field, and made printable before they reach a terminal.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace owl {

// Length of the well-formed UTF-8 sequence at the start of `s` (no overlong forms, surrogates or
// code points past U+10FFFF), or 0 if there is none.
size_t utf8_sequence_length(std::string_view s);

bool is_valid_utf8(std::string_view s);

// `s` made safe to print on one terminal line: control characters (C0, DEL, C1), the bidi
// overrides that reorder what is shown, and bytes that are not UTF-8 become \xNN or \u{NNNN};
// backslashes are doubled so the escaping can be read back.
std::string printable(std::string_view s);

}  // namespace owl
