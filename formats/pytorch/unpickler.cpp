#include "formats/pytorch/unpickler.h"

#include <bit>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "formats/io/byte_cursor.h"
#include "formats/io/error.h"

namespace owl::pytorch {
namespace {

// Text lines (protocol 0 arguments, GLOBAL names) are short; a longer one is hostile.
constexpr uint64_t kMaxLineBytes = 4096;
constexpr int kHighestProtocol = 5;

constexpr AllowedGlobal kAllowed[] = {
    {"torch._utils", "_rebuild_tensor_v2", GlobalKind::RebuildTensorV2},
    {"torch._utils", "_rebuild_tensor", GlobalKind::RebuildTensor},
    {"torch._utils", "_rebuild_parameter", GlobalKind::RebuildParameter},
    {"torch._utils", "_rebuild_parameter_with_state", GlobalKind::RebuildParameterWithState},
    {"torch", "DoubleStorage", GlobalKind::StorageType},
    {"torch", "FloatStorage", GlobalKind::StorageType},
    {"torch", "HalfStorage", GlobalKind::StorageType},
    {"torch", "BFloat16Storage", GlobalKind::StorageType},
    {"torch", "LongStorage", GlobalKind::StorageType},
    {"torch", "IntStorage", GlobalKind::StorageType},
    {"torch", "ShortStorage", GlobalKind::StorageType},
    {"torch", "CharStorage", GlobalKind::StorageType},
    {"torch", "ByteStorage", GlobalKind::StorageType},
    {"torch", "BoolStorage", GlobalKind::StorageType},
    {"torch", "UntypedStorage", GlobalKind::StorageType},
    {"torch.storage", "UntypedStorage", GlobalKind::StorageType},
    {"torch", "float64", GlobalKind::Dtype},
    {"torch", "float32", GlobalKind::Dtype},
    {"torch", "float16", GlobalKind::Dtype},
    {"torch", "bfloat16", GlobalKind::Dtype},
    {"torch", "int64", GlobalKind::Dtype},
    {"torch", "int32", GlobalKind::Dtype},
    {"torch", "int16", GlobalKind::Dtype},
    {"torch", "int8", GlobalKind::Dtype},
    {"torch", "uint8", GlobalKind::Dtype},
    {"torch", "bool", GlobalKind::Dtype},
    {"collections", "OrderedDict", GlobalKind::OrderedDict},
    {"torch", "Size", GlobalKind::TorchSize},
    {"builtins", "dict", GlobalKind::Dict},
    {"builtins", "list", GlobalKind::List},
    {"builtins", "tuple", GlobalKind::Tuple},
    {"builtins", "set", GlobalKind::Set},
    {"builtins", "frozenset", GlobalKind::FrozenSet},
    {"__builtin__", "dict", GlobalKind::Dict},
    {"__builtin__", "list", GlobalKind::List},
    {"__builtin__", "tuple", GlobalKind::Tuple},
    {"__builtin__", "set", GlobalKind::Set},
    {"__builtin__", "frozenset", GlobalKind::FrozenSet},
    {"_codecs", "encode", GlobalKind::CodecsEncode},
};

// One pass over one stream. Objects live in the arena; the stack and memo point into it.
class Machine {
 public:
  Machine(std::span<const std::byte> bytes, std::string label, UnpickleMode mode, Pickle& out)
      : cur_(bytes, std::move(label)), all_(bytes), mode_(mode), out_(out) {}

  void run();

 private:
  Object* make(Object::Kind k) {
    Object& o = out_.arena.emplace_back();
    o.kind = k;
    return &o;
  }
  [[noreturn]] void fail(const std::string& what) const { cur_.fail(what); }

  void push(Object* o) {
    if (stack_.size() >= kMaxPickleStack)
      fail("pickle stack exceeds " + std::to_string(kMaxPickleStack) + " values");
    stack_.push_back(o);
  }
  Object* pop(const char* op) {
    if (stack_.size() <= floor()) fail(std::string(op) + " on an empty stack");
    Object* o = stack_.back();
    stack_.pop_back();
    return o;
  }
  Object* top(const char* op) {
    if (stack_.size() <= floor()) fail(std::string(op) + " on an empty stack");
    return stack_.back();
  }
  // Values above the innermost MARK may be used; the mark itself is a floor.
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  std::vector<Object*> pop_mark(const char* op) {
    if (marks_.empty()) fail(std::string(op) + " without a MARK");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Object*> items(stack_.begin() + m, stack_.end());
    stack_.resize(m);
    return items;
  }

  std::string_view line(const char* what) {
    const auto rest = cur_.remaining();
    for (uint64_t i = 0; i < rest && i <= kMaxLineBytes; ++i) {
      // Peek without consuming: take the whole line once its end is found.
      if (static_cast<char>(peek(i)) == '\n') {
        auto text = cur_.take_string(i, what);
        cur_.skip(1, what);
        return text;
      }
    }
    if (rest > kMaxLineBytes)
      fail(std::string(what) + " line longer than " + std::to_string(kMaxLineBytes) + " bytes");
    fail(std::string("truncated: ") + what + " line has no end");
  }
  std::byte peek(uint64_t i) const { return all_[cur_.position() + i]; }

  uint64_t checked_length(uint64_t n, const char* what) {
    if (n > kMaxPickleStringBytes)
      fail(std::string(what) + " of " + std::to_string(n) + " bytes exceeds the limit of " +
           std::to_string(kMaxPickleStringBytes));
    return n;
  }
  Object* string_object(Object::Kind k, uint64_t n, const char* what) {
    checked_length(n, what);
    Object* o = make(k);
    o->text = std::string(cur_.take_string(n, what));
    return o;
  }

  Object* global(std::string_view module, std::string_view name);
  Object* call(Object* callable, Object* args, const char* op);
  Object* integer_from_le(std::span<const std::byte> b);
  Object* text_int(std::string_view s, bool is_long);
  Object* text_string(std::string_view s);
  Object* text_unicode(std::string_view s);

  void memo_put(uint64_t index, Object* o) {
    // Writers number memo entries from 0; an index far beyond the limit is hostile (a C
    // unpickler would size its memo table to it).
    if (index >= kMaxPickleMemo)
      fail("memo index " + std::to_string(index) + " exceeds the limit of " +
           std::to_string(kMaxPickleMemo));
    if (memo_.size() >= kMaxPickleMemo && !memo_.count(index))
      fail("pickle memo exceeds " + std::to_string(kMaxPickleMemo) + " entries");
    memo_[index] = o;
  }
  Object* memo_get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) fail("memo index " + std::to_string(index) + " was never stored");
    return it->second;
  }
  void set_item(Object* dict, Object* key, Object* value, const char* op);
  void append(Object* target, Object* item, const char* op);
  void build(Object* target, Object* state);
  bool scanning() const { return mode_ == UnpickleMode::Scan; }

  ByteCursor cur_;
  std::span<const std::byte> all_;
  UnpickleMode mode_;
  Pickle& out_;
  std::vector<Object*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Object*> memo_;
  std::unordered_map<std::string, size_t> global_index_;
  // Each dict's keys (by kind and value), so a repeated key replaces as in Python, in O(1).
  std::unordered_map<const Object*, std::unordered_map<std::string, size_t>> dict_keys_;
};

// A key's identity for hashable scalars; empty for anything else (kept in order, never merged).
std::string key_signature(const Object* k) {
  switch (k->kind) {
    case Object::Kind::None:
      return "N";
    case Object::Kind::Bool:
      return k->boolean ? "I1" : "I0";  // True == 1 in Python
    case Object::Kind::Int:
      return "I" + std::to_string(k->integer);
    case Object::Kind::String:
      return "S" + k->text;
    case Object::Kind::Bytes:
      return "B" + k->text;
    default:
      return {};
  }
}

Object* Machine::global(std::string_view module, std::string_view name) {
  std::string full = std::string(module) + "." + std::string(name);
  const GlobalKind kind = classify_global(module, name);
  auto [it, fresh] = global_index_.emplace(full, out_.globals.size());
  if (fresh) out_.globals.push_back({full, kind, 0});
  ++out_.globals[it->second].count;
  if (kind == GlobalKind::Refused && !scanning())
    throw InputError(cur_.file(), "refusing to load: the pickle calls " + full);
  Object* o = make(Object::Kind::Global);
  o->global = kind;
  o->text = std::move(full);
  return o;
}

// Containers and torch.Size are built here; tensor rebuilds stay Call nodes for the checkpoint
// reader. Nothing outside the allow-list reaches this point except in scan mode, where the
// call is kept inert.
Object* Machine::call(Object* callable, Object* args, const char* op) {
  if (args->kind != Object::Kind::Tuple)
    fail(std::string(op) + " arguments are " + describe(args) + ", not a tuple");
  if (callable->kind != Object::Kind::Global) {
    if (!scanning())
      fail(std::string(op) + " calls " + describe(callable) + ", which is not a global");
  }
  const GlobalKind kind =
      callable->kind == Object::Kind::Global ? callable->global : GlobalKind::Refused;
  const auto& a = args->items;
  auto one_iterable = [&](Object::Kind want) {
    Object* o = make(want);
    if (a.empty()) return o;
    if (a.size() != 1)
      fail(callable->text + " takes one argument, got " + std::to_string(a.size()));
    const Object* src = a[0];
    if (src->kind == Object::Kind::Tuple || src->kind == Object::Kind::List ||
        src->kind == Object::Kind::Set) {
      o->items = src->items;
    } else if (want == Object::Kind::Dict && src->kind == Object::Kind::Dict) {
      o->entries = src->entries;
    } else {
      fail(callable->text + " of " + describe(src));
    }
    return o;
  };
  switch (kind) {
    case GlobalKind::OrderedDict:
    case GlobalKind::Dict: {
      Object* src = one_iterable(Object::Kind::Dict);
      if (src->items.empty()) return src;
      // dict(iterable of pairs)
      Object* d = make(Object::Kind::Dict);
      for (const Object* pair : src->items) {
        if ((pair->kind != Object::Kind::Tuple && pair->kind != Object::Kind::List) ||
            pair->items.size() != 2)
          fail(callable->text + " of an item that is not a pair");
        set_item(d, const_cast<Object*>(pair->items[0]), const_cast<Object*>(pair->items[1]), op);
      }
      return d;
    }
    case GlobalKind::List:
      return one_iterable(Object::Kind::List);
    case GlobalKind::Tuple:
    case GlobalKind::TorchSize:
      return one_iterable(Object::Kind::Tuple);
    case GlobalKind::Set:
    case GlobalKind::FrozenSet:
      return one_iterable(Object::Kind::Set);
    case GlobalKind::CodecsEncode: {
      if (a.size() != 2 || a[0]->kind != Object::Kind::String ||
          a[1]->kind != Object::Kind::String || a[1]->text != "latin1")
        fail(
            "_codecs.encode is allowed only as encode(text, \"latin1\"), as protocol 2 writes "
            "bytes");
      // The text is UTF-8 of code points < 256; latin1 maps each code point to one byte.
      Object* o = make(Object::Kind::Bytes);
      const std::string& s = a[0]->text;
      for (size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
          o->text.push_back(static_cast<char>(c));
        } else if ((c == 0xC2 || c == 0xC3) && i + 1 < s.size()) {
          o->text.push_back(
              static_cast<char>(((c & 0x03) << 6) | (static_cast<unsigned char>(s[++i]) & 0x3F)));
        } else {
          fail("_codecs.encode of text that latin1 cannot encode");
        }
      }
      return o;
    }
    default:
      break;
  }
  Object* o = make(Object::Kind::Call);
  o->items = {callable, args};
  return o;
}

void Machine::set_item(Object* dict, Object* key, Object* value, const char* op) {
  if (dict->kind != Object::Kind::Dict) {
    if (scanning()) return;
    fail(std::string(op) + " on " + describe(dict) + ", not a dict");
  }
  const std::string sig = key_signature(key);
  if (!sig.empty()) {
    auto& keys = dict_keys_[dict];
    auto [it, fresh] = keys.emplace(sig, dict->entries.size());
    if (!fresh) {
      dict->entries[it->second].second = value;
      return;
    }
  }
  dict->entries.emplace_back(key, value);
}

void Machine::append(Object* target, Object* item, const char* op) {
  const bool to_set = std::string_view(op) == "ADDITEMS";
  if (target->kind == (to_set ? Object::Kind::Set : Object::Kind::List)) {
    target->items.push_back(item);
    return;
  }
  if (scanning()) return;
  fail(std::string(op) + " on " + describe(target));
}

void Machine::build(Object* target, Object* state) {
  // A rebuilt tensor may carry state; a state dict carries its `_metadata` attribute this way.
  if (target->kind == Object::Kind::Call || target->kind == Object::Kind::Dict) {
    target->state.push_back(state);
    return;
  }
  if (scanning()) return;
  fail("BUILD on " + describe(target));
}

Object* Machine::integer_from_le(std::span<const std::byte> b) {
  if (b.size() <= 8) {
    uint64_t u = 0;
    for (size_t i = 0; i < b.size(); ++i) u |= uint64_t{static_cast<uint8_t>(b[i])} << (8 * i);
    // Sign-extend from the top bit of the last byte.
    if (!b.empty() && b.size() < 8 && (static_cast<uint8_t>(b.back()) & 0x80))
      u |= ~uint64_t{0} << (8 * b.size());
    Object* o = make(Object::Kind::Int);
    o->integer = static_cast<int64_t>(u);
    return o;
  }
  Object* o = make(Object::Kind::BigInt);
  o->text.assign(reinterpret_cast<const char*>(b.data()), b.size());
  return o;
}

Object* Machine::text_int(std::string_view s, bool is_long) {
  std::string t(s);
  if (is_long && !t.empty() && t.back() == 'L') t.pop_back();
  if (!is_long && (t == "00" || t == "01")) {
    Object* o = make(Object::Kind::Bool);
    o->boolean = t == "01";
    return o;
  }
  if (t.empty()) fail("empty integer");
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(t.c_str(), &end, 10);
  if (errno == ERANGE) fail("integer " + t + " does not fit in 64 bits");
  if (end != t.c_str() + t.size()) fail("integer '" + t + "' is not a number");
  Object* o = make(Object::Kind::Int);
  o->integer = v;
  return o;
}

// Protocol 0 STRING: a quoted Python literal with backslash escapes.
Object* Machine::text_string(std::string_view s) {
  if (s.size() < 2 || (s.front() != '\'' && s.front() != '"') || s.back() != s.front())
    fail("STRING argument is not a quoted string");
  s = s.substr(1, s.size() - 2);
  Object* o = make(Object::Kind::String);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      o->text.push_back(s[i]);
      continue;
    }
    if (++i == s.size()) fail("STRING ends in a backslash");
    switch (s[i]) {
      case '\\':
        o->text.push_back('\\');
        break;
      case '\'':
        o->text.push_back('\'');
        break;
      case '"':
        o->text.push_back('"');
        break;
      case 'n':
        o->text.push_back('\n');
        break;
      case 'r':
        o->text.push_back('\r');
        break;
      case 't':
        o->text.push_back('\t');
        break;
      case 'x': {
        if (i + 2 >= s.size()) fail("STRING has a short \\x escape");
        const std::string hex(s.substr(i + 1, 2));
        char* end = nullptr;
        const long v = std::strtol(hex.c_str(), &end, 16);
        if (hex.size() != 2 || end != hex.c_str() + 2) fail("STRING has a bad \\x escape");
        o->text.push_back(static_cast<char>(v));
        i += 2;
        break;
      }
      default:
        fail(std::string("STRING has an unsupported escape \\") + s[i]);
    }
  }
  return o;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Protocol 0 UNICODE: raw-unicode-escape, where only \uXXXX and \UXXXXXXXX are escapes and
// other bytes are Latin-1 code points.
Object* Machine::text_unicode(std::string_view s) {
  Object* o = make(Object::Kind::String);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == 'u' || s[i + 1] == 'U')) {
      const size_t n = s[i + 1] == 'u' ? 4 : 8;
      if (i + 2 + n > s.size()) fail("UNICODE has a short escape");
      const std::string hex(s.substr(i + 2, n));
      char* end = nullptr;
      const unsigned long cp = std::strtoul(hex.c_str(), &end, 16);
      if (end != hex.c_str() + n || cp > 0x10FFFF) fail("UNICODE has a bad escape");
      append_utf8(o->text, static_cast<uint32_t>(cp));
      i += 1 + n;
    } else {
      append_utf8(o->text, static_cast<unsigned char>(s[i]));
    }
  }
  return o;
}

void Machine::run() {
  uint64_t ops = 0;
  while (true) {
    if (++ops > kMaxPickleOps)
      fail("pickle runs more than " + std::to_string(kMaxPickleOps) + " opcodes");
    if (cur_.at_end()) fail("truncated: the pickle ends without STOP");
    const auto op = cur_.read<uint8_t>("opcode");
    switch (op) {
      case 0x80: {  // PROTO
        const auto v = cur_.read<uint8_t>("protocol");
        if (v > kHighestProtocol) fail("pickle protocol " + std::to_string(v) + " is newer than 5");
        break;
      }
      case 0x95: {  // FRAME: only an I/O hint; the length must fit what is left
        const auto n = cur_.read<uint64_t>("frame length");
        if (n > cur_.remaining())
          fail("truncated: frame of " + std::to_string(n) + " bytes runs past the end");
        break;
      }
      case '.': {  // STOP
        if (!marks_.empty()) fail("STOP with an open MARK");
        if (stack_.size() != 1)
          fail("STOP with " + std::to_string(stack_.size()) + " values on the stack, not 1");
        out_.root = stack_.back();
        out_.end_offset = cur_.position();
        return;
      }
      case '(':  // MARK
        if (marks_.size() >= kMaxPickleMarks)
          fail("pickle nests more than " + std::to_string(kMaxPickleMarks) + " MARKs");
        marks_.push_back(stack_.size());
        break;
      case '0':
        pop("POP");
        break;
      case '1':
        pop_mark("POP_MARK");
        break;
      case '2':
        push(top("DUP"));
        break;

      case 'N':
        push(make(Object::Kind::None));
        break;
      case 0x88:
      case 0x89: {
        Object* o = make(Object::Kind::Bool);
        o->boolean = op == 0x88;
        push(o);
        break;
      }
      case 'J': {
        Object* o = make(Object::Kind::Int);
        o->integer = cur_.read<int32_t>("BININT");
        push(o);
        break;
      }
      case 'K': {
        Object* o = make(Object::Kind::Int);
        o->integer = cur_.read<uint8_t>("BININT1");
        push(o);
        break;
      }
      case 'M': {
        Object* o = make(Object::Kind::Int);
        o->integer = cur_.read<uint16_t>("BININT2");
        push(o);
        break;
      }
      case 0x8a: {  // LONG1
        const auto n = cur_.read<uint8_t>("LONG1 length");
        if (n > kMaxPickleLongBytes) fail("LONG1 of " + std::to_string(n) + " bytes");
        push(integer_from_le(cur_.take(n, "LONG1")));
        break;
      }
      case 0x8b: {  // LONG4
        const auto n = cur_.read<int32_t>("LONG4 length");
        if (n < 0 || static_cast<uint64_t>(n) > kMaxPickleLongBytes)
          fail("LONG4 of " + std::to_string(n) + " bytes");
        push(integer_from_le(cur_.take(static_cast<uint64_t>(n), "LONG4")));
        break;
      }
      case 'I':
        push(text_int(line("INT"), false));
        break;
      case 'L':
        push(text_int(line("LONG"), true));
        break;
      case 'G': {  // BINFLOAT is big-endian
        auto v = cur_.read<uint64_t>("BINFLOAT");
        Object* o = make(Object::Kind::Float);
        o->real = std::bit_cast<double>(__builtin_bswap64(v));
        push(o);
        break;
      }
      case 'F': {
        const std::string t(line("FLOAT"));
        char* end = nullptr;
        const double v = std::strtod(t.c_str(), &end);
        if (t.empty() || end != t.c_str() + t.size()) fail("FLOAT '" + t + "' is not a number");
        Object* o = make(Object::Kind::Float);
        o->real = v;
        push(o);
        break;
      }

      case 0x8c:
        push(string_object(Object::Kind::String, cur_.read<uint8_t>("SHORT_BINUNICODE length"),
                           "SHORT_BINUNICODE"));
        break;
      case 'X':
        push(string_object(Object::Kind::String, cur_.read<uint32_t>("BINUNICODE length"),
                           "BINUNICODE"));
        break;
      case 0x8d:
        push(string_object(Object::Kind::String, cur_.read<uint64_t>("BINUNICODE8 length"),
                           "BINUNICODE8"));
        break;
      case 'U':
        push(string_object(Object::Kind::String, cur_.read<uint8_t>("SHORT_BINSTRING length"),
                           "SHORT_BINSTRING"));
        break;
      case 'T': {
        const auto n = cur_.read<int32_t>("BINSTRING length");
        if (n < 0) fail("BINSTRING has a negative length");
        push(string_object(Object::Kind::String, static_cast<uint64_t>(n), "BINSTRING"));
        break;
      }
      case 'C':
        push(string_object(Object::Kind::Bytes, cur_.read<uint8_t>("SHORT_BINBYTES length"),
                           "SHORT_BINBYTES"));
        break;
      case 'B':
        push(
            string_object(Object::Kind::Bytes, cur_.read<uint32_t>("BINBYTES length"), "BINBYTES"));
        break;
      case 0x8e:
        push(string_object(Object::Kind::Bytes, cur_.read<uint64_t>("BINBYTES8 length"),
                           "BINBYTES8"));
        break;
      case 0x96:
        push(string_object(Object::Kind::Bytes, cur_.read<uint64_t>("BYTEARRAY8 length"),
                           "BYTEARRAY8"));
        break;
      case 'S':
        push(text_string(line("STRING")));
        break;
      case 'V':
        push(text_unicode(line("UNICODE")));
        break;

      case '}':
        push(make(Object::Kind::Dict));
        break;
      case ']':
        push(make(Object::Kind::List));
        break;
      case ')':
        push(make(Object::Kind::Tuple));
        break;
      case 0x8f:
        push(make(Object::Kind::Set));
        break;
      case 'd': {
        auto items = pop_mark("DICT");
        if (items.size() % 2) fail("DICT with an odd number of items");
        Object* d = make(Object::Kind::Dict);
        for (size_t i = 0; i < items.size(); i += 2) set_item(d, items[i], items[i + 1], "DICT");
        push(d);
        break;
      }
      case 'l':
      case 't':
      case 0x91: {  // LIST, TUPLE, FROZENSET
        auto items = pop_mark(op == 'l' ? "LIST" : op == 't' ? "TUPLE" : "FROZENSET");
        Object* o = make(op == 'l'   ? Object::Kind::List
                         : op == 't' ? Object::Kind::Tuple
                                     : Object::Kind::Set);
        o->items.assign(items.begin(), items.end());
        push(o);
        break;
      }
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        const size_t n = op - 0x84;
        if (stack_.size() < floor() + n)
          fail("TUPLE" + std::to_string(n) + " on a stack of fewer values");
        Object* o = make(Object::Kind::Tuple);
        o->items.assign(stack_.end() - n, stack_.end());
        stack_.resize(stack_.size() - n);
        push(o);
        break;
      }
      case 's': {
        Object* v = pop("SETITEM");
        Object* k = pop("SETITEM");
        set_item(top("SETITEM"), k, v, "SETITEM");
        break;
      }
      case 'u': {
        auto items = pop_mark("SETITEMS");
        if (items.size() % 2) fail("SETITEMS with an odd number of items");
        Object* d = top("SETITEMS");
        for (size_t i = 0; i < items.size(); i += 2)
          set_item(d, items[i], items[i + 1], "SETITEMS");
        break;
      }
      case 'a': {
        Object* v = pop("APPEND");
        append(top("APPEND"), v, "APPEND");
        break;
      }
      case 'e':
      case 0x90: {  // APPENDS, ADDITEMS
        const char* name = op == 'e' ? "APPENDS" : "ADDITEMS";
        auto items = pop_mark(name);
        Object* target = top(name);
        for (Object* v : items) append(target, v, name);
        break;
      }

      case 'c': {  // GLOBAL
        const std::string module(line("GLOBAL module"));
        const std::string name(line("GLOBAL name"));
        push(global(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        Object* name = pop("STACK_GLOBAL");
        Object* module = pop("STACK_GLOBAL");
        if (module->kind != Object::Kind::String || name->kind != Object::Kind::String)
          fail("STACK_GLOBAL of " + describe(module) + " and " + describe(name) +
               ", not two strings");
        push(global(module->text, name->text));
        break;
      }
      case 0x82:
      case 0x83:
      case 0x84:
        fail(
            "pickle refers to a global through the extension registry (EXT opcode), which owl "
            "never resolves");
      case 0x97:
      case 0x98:
        fail("pickle uses out-of-band buffers (protocol 5), which a checkpoint never does");

      case 'R': {
        Object* args = pop("REDUCE");
        Object* callable = pop("REDUCE");
        push(call(callable, args, "REDUCE"));
        break;
      }
      case 0x81: {  // NEWOBJ: cls.__new__(cls, *args)
        Object* args = pop("NEWOBJ");
        Object* cls = pop("NEWOBJ");
        push(call(cls, args, "NEWOBJ"));
        break;
      }
      case 0x92: {  // NEWOBJ_EX: keyword arguments are never needed by an allowed class
        Object* kwargs = pop("NEWOBJ_EX");
        Object* args = pop("NEWOBJ_EX");
        Object* cls = pop("NEWOBJ_EX");
        if (kwargs->kind != Object::Kind::Dict || (!kwargs->entries.empty() && !scanning()))
          fail("NEWOBJ_EX with keyword arguments");
        push(call(cls, args, "NEWOBJ_EX"));
        break;
      }
      case 'i': {  // INST module name, arguments since MARK
        const std::string module(line("INST module"));
        const std::string name(line("INST name"));
        Object* cls = global(module, name);
        Object* args = make(Object::Kind::Tuple);
        auto items = pop_mark("INST");
        args->items.assign(items.begin(), items.end());
        push(call(cls, args, "INST"));
        break;
      }
      case 'o': {  // OBJ: class and arguments since MARK
        auto items = pop_mark("OBJ");
        if (items.empty()) fail("OBJ without a class");
        Object* args = make(Object::Kind::Tuple);
        args->items.assign(items.begin() + 1, items.end());
        push(call(items[0], args, "OBJ"));
        break;
      }
      case 'b': {
        Object* state = pop("BUILD");
        build(top("BUILD"), state);
        break;
      }
      case 'Q': {
        Object* pid = make(Object::Kind::PersistentId);
        pid->items = {pop("BINPERSID")};
        push(pid);
        break;
      }
      case 'P': {
        Object* id = make(Object::Kind::String);
        id->text = std::string(line("PERSID"));
        Object* pid = make(Object::Kind::PersistentId);
        pid->items = {id};
        push(pid);
        break;
      }

      case 'q':
        memo_put(cur_.read<uint8_t>("BINPUT index"), top("BINPUT"));
        break;
      case 'r':
        memo_put(cur_.read<uint32_t>("LONG_BINPUT index"), top("LONG_BINPUT"));
        break;
      case 0x94:
        memo_put(memo_.size(), top("MEMOIZE"));
        break;
      case 'p': {
        const std::string t(line("PUT"));
        char* end = nullptr;
        const unsigned long long i = std::strtoull(t.c_str(), &end, 10);
        if (t.empty() || end != t.c_str() + t.size() || t[0] == '-')
          fail("PUT index '" + t + "' is not a number");
        memo_put(i, top("PUT"));
        break;
      }
      case 'h':
        push(memo_get(cur_.read<uint8_t>("BINGET index")));
        break;
      case 'j':
        push(memo_get(cur_.read<uint32_t>("LONG_BINGET index")));
        break;
      case 'g': {
        const std::string t(line("GET"));
        char* end = nullptr;
        const unsigned long long i = std::strtoull(t.c_str(), &end, 10);
        if (t.empty() || end != t.c_str() + t.size() || t[0] == '-')
          fail("GET index '" + t + "' is not a number");
        push(memo_get(i));
        break;
      }
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned>(op));
        fail(std::string("unknown pickle opcode ") + hex);
      }
    }
  }
}

}  // namespace

std::span<const AllowedGlobal> allowed_globals() {
  return kAllowed;
}

GlobalKind classify_global(std::string_view module, std::string_view name) {
  for (const auto& g : kAllowed)
    if (g.module == module && g.name == name) return g.kind;
  return GlobalKind::Refused;
}

bool Pickle::any_refused() const {
  for (const auto& g : globals)
    if (g.kind == GlobalKind::Refused) return true;
  return false;
}

Pickle unpickle(std::span<const std::byte> bytes, const std::string& file, UnpickleMode mode,
                std::string_view what) {
  if (bytes.size() > kMaxPickleBytes)
    throw InputError(file, std::string(what) + " of " + std::to_string(bytes.size()) +
                               " bytes exceeds the limit of " + std::to_string(kMaxPickleBytes));
  Pickle out;
  const std::string label = what.empty() ? file : file + ": " + std::string(what);
  Machine m(bytes, label, mode, out);
  try {
    m.run();
  } catch (const InputError& e) {
    if (mode != UnpickleMode::Scan) throw;
    out.root = nullptr;
    out.broken = e.what();
  }
  return out;
}

std::string describe(Ref o) {
  if (!o) return "nothing";
  switch (o->kind) {
    case Object::Kind::None:
      return "None";
    case Object::Kind::Bool:
      return o->boolean ? "True" : "False";
    case Object::Kind::Int:
      return "int " + std::to_string(o->integer);
    case Object::Kind::BigInt:
      return "a " + std::to_string(o->text.size()) + "-byte int";
    case Object::Kind::Float:
      return "float";
    case Object::Kind::String:
      return o->text.size() <= 64 ? "'" + o->text + "'" : "a string";
    case Object::Kind::Bytes:
      return "bytes";
    case Object::Kind::Tuple:
      return "a tuple of " + std::to_string(o->items.size());
    case Object::Kind::List:
      return "a list of " + std::to_string(o->items.size());
    case Object::Kind::Dict:
      return "a dict of " + std::to_string(o->entries.size());
    case Object::Kind::Set:
      return "a set";
    case Object::Kind::Global:
      return o->text;
    case Object::Kind::Call:
      return (o->items.empty() ? std::string("?") : describe(o->items[0])) + "(...)";
    case Object::Kind::PersistentId:
      return "a persistent id";
  }
  return "an object";
}

}  // namespace owl::pytorch
