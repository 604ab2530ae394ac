// A restricted pickle reader. It builds a tree of plain values from the opcodes of protocols
// 0-5 and never executes anything: a "call" (REDUCE, NEWOBJ, INST, OBJ) becomes a Call node
// naming its callable, and only globals on an allow-list may be referenced at all. Any other
// global stops the read with "refusing to load: the pickle calls <module>.<name>" (strict
// mode), or is recorded and the read goes on (scan mode, for `owl inspect --scan`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace owl::pytorch {

// Limits: input beyond these is refused with an InputError, never a crash or a huge allocation.
inline constexpr uint64_t kMaxPickleBytes = 1ull << 30;  // one pickle stream
inline constexpr uint64_t kMaxPickleOps = 1ull << 28;    // opcodes executed
inline constexpr uint64_t kMaxPickleStack = 1ull << 22;  // values on the stack
inline constexpr uint64_t kMaxPickleMarks = 1024;        // open MARKs (nesting while building)
inline constexpr uint64_t kMaxPickleMemo = 1ull << 22;   // memo entries, and the largest index + 1
inline constexpr uint64_t kMaxPickleStringBytes = 1ull << 28;  // one string or bytes value
inline constexpr uint64_t kMaxPickleLongBytes = 64;            // LONG1/LONG4 payload
inline constexpr uint64_t kMaxPickleDepth = 256;  // nesting depth when walking the tree

// What an allowed global is; the checkpoint reader gives each kind its meaning.
enum class GlobalKind : uint8_t {
  Refused,                    // not on the allow-list (only seen in scan mode)
  RebuildTensorV2,            // torch._utils._rebuild_tensor_v2
  RebuildTensor,              // torch._utils._rebuild_tensor (old torch)
  RebuildParameter,           // torch._utils._rebuild_parameter
  RebuildParameterWithState,  // torch._utils._rebuild_parameter_with_state
  StorageType,                // torch.FloatStorage, ..., torch.UntypedStorage
  Dtype,                      // torch.float16, ...
  OrderedDict,                // collections.OrderedDict
  TorchSize,                  // torch.Size
  Dict,
  List,
  Tuple,
  Set,
  FrozenSet,     // builtins containers (builtins.dict, __builtin__.list, ...)
  CodecsEncode,  // _codecs.encode(text, "latin1"): how protocol 2 writes bytes
};

struct AllowedGlobal {
  std::string_view module;
  std::string_view name;
  GlobalKind kind;
};
// Every global the reader accepts, for documentation and the scanner's report.
std::span<const AllowedGlobal> allowed_globals();
// The kind of `module.name`, GlobalKind::Refused if it is not allowed.
GlobalKind classify_global(std::string_view module, std::string_view name);

struct Object;
using Ref = const Object*;  // owned by the Pickle that produced it

struct Object {
  enum class Kind : uint8_t {
    None,
    Bool,
    Int,
    BigInt,
    Float,
    String,
    Bytes,
    Tuple,
    List,
    Dict,
    Set,
    Global,        // `text` = "module.name", `global` its kind
    Call,          // items[0] = callable, items[1] = argument tuple; `state` = BUILD states
    PersistentId,  // items[0] = the persistent id
  };
  Kind kind = Kind::None;
  bool boolean = false;
  int64_t integer = 0;
  double real = 0;
  GlobalKind global = GlobalKind::Refused;
  std::string text;                          // String, Bytes, BigInt (little-endian bytes), Global
  std::vector<Ref> items;                    // Tuple, List, Set, Call, PersistentId
  std::vector<std::pair<Ref, Ref>> entries;  // Dict, in insertion order (later keys replace)
  std::vector<Ref> state;                    // BUILD arguments applied (Call, Dict)
};

struct GlobalUse {
  std::string name;    // "module.name" as written
  GlobalKind kind;     // Refused if not on the allow-list
  uint64_t count = 0;  // how many times the stream references it
};

// A parsed pickle: the value STOP returned, every global referenced (in first-seen order), and
// the arena that owns every object.
struct Pickle {
  Ref root = nullptr;
  std::vector<GlobalUse> globals;
  uint64_t end_offset = 0;  // the byte after STOP (legacy files hold several pickles in a row)
  // Scan mode only: why the stream could not be read to its STOP (truncated, malformed, over a
  // limit); `globals` then holds what came before the break and `root` is null.
  std::string broken;
  std::deque<Object> arena;

  bool any_refused() const;
};

enum class UnpickleMode : uint8_t {
  Strict,  // a global outside the allow-list throws InputError at once
  Scan,    // record every global and keep going; refused calls become inert Call nodes
};

// Reads one pickle from the start of `bytes` up to its STOP; bytes after STOP are left alone.
// `file` (and `what`, e.g. "archive/data.pkl") name the input in errors. Throws only
// InputError, on malformed, truncated, over-limit or refused input; in scan mode a stream that
// breaks is returned with `broken` set instead, since a scanner must still report the globals
// before the break (deliberately broken pickles have slipped past scanners that gave up).
Pickle unpickle(std::span<const std::byte> bytes, const std::string& file,
                UnpickleMode mode = UnpickleMode::Strict, std::string_view what = "pickle");

// "dict", "tuple", "torch._utils._rebuild_tensor_v2(...)": a short description for errors.
std::string describe(Ref obj);

}  // namespace owl::pytorch
