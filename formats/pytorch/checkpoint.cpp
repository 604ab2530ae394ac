#include "formats/pytorch/checkpoint.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "formats/io/checked_math.h"
#include "formats/io/error.h"
#include "formats/io/mapped_file.h"
#include "formats/pytorch/view_source.h"
#include "formats/pytorch/zip_archive.h"

namespace owl::pytorch {
namespace {

// The legacy magic number 0x1950a86a20f9469cfc6c, as LONG1 writes it: ten bytes, little-endian.
constexpr uint8_t kLegacyMagic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

// The input's bytes and how to hand out sources over ranges of them (mapped or borrowed).
struct Input {
  std::span<const std::byte> bytes;
  std::string file;
  std::function<SourcePtr(uint64_t offset, uint64_t size)> slice;
};

// A storage record: where its bytes are in the input.
struct Record {
  uint64_t offset = 0;
  uint64_t size = 0;
};

// Finds a storage's bytes by key; the caller checks the size against what the pickle says.
using RecordLookup = std::function<Record(const std::string& key)>;

struct StorageType {
  std::string_view name;
  ElemType type;
};
constexpr StorageType kStorageTypes[] = {
    {"torch.DoubleStorage", ElemType::F64}, {"torch.FloatStorage", ElemType::F32},
    {"torch.HalfStorage", ElemType::F16},   {"torch.BFloat16Storage", ElemType::BF16},
    {"torch.LongStorage", ElemType::I64},   {"torch.IntStorage", ElemType::I32},
    {"torch.ShortStorage", ElemType::I16},  {"torch.CharStorage", ElemType::I8},
    {"torch.ByteStorage", ElemType::U8},    {"torch.BoolStorage", ElemType::BOOL},
    {"torch.UntypedStorage", ElemType::U8}, {"torch.storage.UntypedStorage", ElemType::U8},
};

// Turns the unpickled object tree into tensors and metadata.
class Builder {
 public:
  Builder(const Input& in, Graph& g, RecordLookup lookup, bool legacy, uint64_t pickle_objects)
      : in_(in),
        g_(g),
        lookup_(std::move(lookup)),
        legacy_(legacy),
        max_visits_(walk_limit(pickle_objects)) {
    for (const auto& t : g_.tensors) names_.insert(t.name);
  }

  static uint64_t walk_limit(uint64_t pickle_objects) {
    const auto scaled = checked_mul(pickle_objects, kWalkNodesPerObject);
    return std::min(kMaxWalkNodes, scaled ? *scaled + kWalkNodesSlack : kMaxWalkNodes);
  }

  void walk(Ref o, const std::string& path, uint64_t depth) {
    if (++visited_ > max_visits_)
      fail(path, "the pickle's tree has more than " + std::to_string(max_visits_) +
                     " nodes (memo entries shared over and over)");
    if (depth > kMaxPickleDepth)
      fail(path, "nested more than " + std::to_string(kMaxPickleDepth) + " levels deep");
    switch (o->kind) {
      case Object::Kind::Dict:
        for (const auto& [k, v] : o->entries) walk(v, join(path, key_text(k, path)), depth + 1);
        return;
      case Object::Kind::List:
      case Object::Kind::Tuple:
        if (scalar_list(o, path)) return;
        for (size_t i = 0; i < o->items.size(); ++i)
          walk(o->items[i], join(path, std::to_string(i)), depth + 1);
        return;
      case Object::Kind::Call:
        add_tensor(path, tensor(o, path, depth));
        return;
      case Object::Kind::Bool:
        meta(path, Value::boolean(o->boolean));
        return;
      case Object::Kind::Int:
        meta(path, Value::i64(o->integer));
        return;
      case Object::Kind::Float:
        meta(path, Value::f64(o->real));
        return;
      case Object::Kind::String:
        meta(path, Value::string(o->text));
        return;
      case Object::Kind::Global:
        meta(path, Value::string(o->text));
        return;
      case Object::Kind::PersistentId:
        fail(path, "a bare storage, not a tensor");
      case Object::Kind::None:
      case Object::Kind::BigInt:
      case Object::Kind::Bytes:
      case Object::Kind::Set:
        return;  // nothing a model needs, and no lossless metadata form
    }
  }

 private:
  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    // A self-referencing container makes a path as long as the depth limit: show its start.
    constexpr size_t kShownPath = 120;
    const std::string shown = path.size() > kShownPath ? path.substr(0, kShownPath) + "..." : path;
    throw InputError(
        in_.file,
        (path.empty() ? std::string("the saved object") : "'" + shown + "'") + ": " + what);
  }
  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }
  std::string key_text(Ref k, const std::string& path) const {
    switch (k->kind) {
      case Object::Kind::String:
        return k->text;
      case Object::Kind::Int:
        return std::to_string(k->integer);
      case Object::Kind::Bool:
        return k->boolean ? "True" : "False";
      default:
        fail(path, "a dict key is " + describe(k) + ", not a string or integer");
    }
  }

  void meta(const std::string& path, Value v) {
    g_.metadata.set(kMetadataPrefix + (path.empty() ? std::string("value") : path), std::move(v));
  }

  // A non-empty list of numbers, bools or strings of one kind becomes one metadata array.
  bool scalar_list(Ref o, const std::string& path) {
    if (o->items.empty()) return true;  // nothing to keep
    const auto k = o->items[0]->kind;
    if (k != Object::Kind::Int && k != Object::Kind::Float && k != Object::Kind::Bool &&
        k != Object::Kind::String)
      return false;
    std::vector<Value> items;
    for (Ref item : o->items) {
      if (item->kind != k) return false;
      switch (k) {
        case Object::Kind::Int:
          items.push_back(Value::i64(item->integer));
          break;
        case Object::Kind::Float:
          items.push_back(Value::f64(item->real));
          break;
        case Object::Kind::Bool:
          items.push_back(Value::boolean(item->boolean));
          break;
        default:
          items.push_back(Value::string(item->text));
          break;
      }
    }
    meta(path, Value::array(Array(items[0].type(), items)));
    return true;
  }

  void add_tensor(const std::string& path, Tensor t) {
    t.name = path.empty() ? "tensor" : path;
    if (g_.tensors.size() >= kMaxTensors)
      fail(path, "more than " + std::to_string(kMaxTensors) + " tensors");
    if (!names_.insert(t.name).second) fail(path, "two tensors are named '" + t.name + "'");
    g_.tensors.push_back(std::move(t));
  }

  Ref arg(Ref args, size_t i, const std::string& path, const std::string& fn) const {
    if (args->items.size() <= i)
      fail(path, fn + " has " + std::to_string(args->items.size()) + " arguments, too few");
    return args->items[i];
  }
  int64_t int_arg(Ref o, const std::string& path, const char* what) const {
    if (o->kind != Object::Kind::Int)
      fail(path, std::string(what) + " is " + describe(o) + ", not an integer");
    return o->integer;
  }
  std::vector<uint64_t> dims(Ref o, const std::string& path, const char* what) const {
    if (o->kind != Object::Kind::Tuple && o->kind != Object::Kind::List)
      fail(path, std::string(what) + " is " + describe(o) + ", not a tuple");
    if (o->items.size() > kMaxTensorDims)
      fail(path, std::string(what) + " has " + std::to_string(o->items.size()) + " dimensions");
    std::vector<uint64_t> out;
    for (Ref d : o->items) {
      const int64_t v = int_arg(d, path, what);
      if (v < 0) fail(path, std::string(what) + " holds the negative value " + std::to_string(v));
      out.push_back(static_cast<uint64_t>(v));
    }
    return out;
  }

  Tensor tensor(Ref call, const std::string& path, uint64_t depth) {
    if (depth > kMaxPickleDepth) fail(path, "tensor rebuilds nested too deeply");
    Ref fn = call->items[0];
    Ref args = call->items[1];
    const GlobalKind kind = fn->kind == Object::Kind::Global ? fn->global : GlobalKind::Refused;
    switch (kind) {
      case GlobalKind::RebuildTensorV2:
      case GlobalKind::RebuildTensor:
        return view(arg(args, 0, path, fn->text), arg(args, 1, path, fn->text),
                    arg(args, 2, path, fn->text), arg(args, 3, path, fn->text), path);
      case GlobalKind::RebuildParameter:
      case GlobalKind::RebuildParameterWithState: {
        Ref data = arg(args, 0, path, fn->text);
        if (data->kind != Object::Kind::Call)
          fail(path, fn->text + " of " + describe(data) + ", not a tensor");
        return tensor(data, path, depth + 1);
      }
      default:
        fail(path, "holds " + describe(call) + ", which is not a tensor");
    }
  }

  struct Storage {
    ElemType type;
    uint64_t numel;
    SourcePtr bytes;
    uint64_t input_offset;  // where its bytes start in the input
  };

  Storage storage(Ref pid, const std::string& path) {
    if (pid->kind != Object::Kind::PersistentId)
      fail(path, "tensor storage is " + describe(pid) + ", not a persistent id");
    Ref t = pid->items[0];
    const size_t want = legacy_ ? 6 : 5;
    if (t->kind != Object::Kind::Tuple || t->items.size() != want ||
        t->items[0]->kind != Object::Kind::String || t->items[0]->text != "storage")
      fail(path, "storage id is " + describe(t) + ", not ('storage', type, key, location, size" +
                     (legacy_ ? ", view)" : ")"));
    Ref type = t->items[1];
    if (type->kind != Object::Kind::Global || type->global != GlobalKind::StorageType)
      fail(path, "storage type is " + describe(type) + ", not a torch storage class");
    std::optional<ElemType> et;
    for (const auto& s : kStorageTypes)
      if (s.name == type->text) et = s.type;
    if (!et) fail(path, "storage type " + type->text + " is not supported");
    Ref key = t->items[2];
    std::string k;
    if (key->kind == Object::Kind::String)
      k = key->text;
    else if (key->kind == Object::Kind::Int)
      k = std::to_string(key->integer);
    else
      fail(path, "storage key is " + describe(key));
    const int64_t numel = int_arg(t->items[4], path, "storage size");
    if (numel < 0) fail(path, "storage size is negative");
    if (legacy_ && t->items[5]->kind != Object::Kind::None)
      fail(path, "storage '" + k +
                     "' is a view of another storage (torch < 0.4), which owl does not read");

    const uint64_t es = type_info(*et).block_bytes;
    const auto need = checked_mul(static_cast<uint64_t>(numel), es);
    if (!need) fail(path, "storage size overflows");
    const Record r = lookup_(k);
    // A storage whose declared size differs from its record is exactly the mismatch that
    // hostile files use to read or write out of bounds: refuse it.
    if (r.size != *need)
      fail(path, "storage '" + k + "' declares " + std::to_string(numel) + " " +
                     std::string(type_name(*et)) + " elements (" + std::to_string(*need) +
                     " bytes) but its record holds " + std::to_string(r.size) + " bytes");
    auto& cached = storages_[k];
    if (!cached) cached = in_.slice(r.offset, r.size);
    return {*et, static_cast<uint64_t>(numel), cached, r.offset};
  }

  Tensor view(Ref pid, Ref offset_obj, Ref size_obj, Ref stride_obj, const std::string& path) {
    const Storage s = storage(pid, path);
    const int64_t off = int_arg(offset_obj, path, "storage offset");
    if (off < 0) fail(path, "negative storage offset " + std::to_string(off));
    const auto sizes = dims(size_obj, path, "size");
    const auto strides = dims(stride_obj, path, "stride");
    if (sizes.size() != strides.size())
      fail(path, "size has " + std::to_string(sizes.size()) + " dimensions but stride has " +
                     std::to_string(strides.size()));
    const auto numel = checked_product(sizes);
    const uint64_t es = type_info(s.type).block_bytes;
    if (!numel || !checked_mul(*numel, es))
      fail(path, "shape " + shape_to_string(sizes) + " overflows");
    const uint64_t offset = static_cast<uint64_t>(off);

    Tensor t;
    t.shape = sizes;
    t.type = s.type;
    if (*numel == 0) {
      t.data = std::make_shared<BufferSource>(std::vector<std::byte>{});
      return t;
    }
    // The last element the view touches must lie inside the storage.
    uint64_t last = offset;
    bool contiguous = true;
    uint64_t expect = 1;
    for (size_t d = sizes.size(); d-- > 0;) {
      const auto reach = checked_mul(sizes[d] - 1, strides[d]);
      const auto sum = reach ? checked_add(last, *reach) : std::nullopt;
      if (!sum) fail(path, "view offset and strides overflow");
      last = *sum;
      if (sizes[d] != 1 && strides[d] != expect) contiguous = false;
      expect *= sizes[d];
    }
    if (last >= s.numel)
      fail(path, "view (offset " + std::to_string(offset) + ", size " + shape_to_string(sizes) +
                     ", stride " + shape_to_string(strides) + ") reaches element " +
                     std::to_string(last) + " of a storage of " + std::to_string(s.numel) +
                     " elements");
    if (contiguous) {
      t.data = in_.slice(s.input_offset + offset * es, *numel * es);
    } else {
      t.data = std::make_shared<StridedSource>(s.bytes, es, offset, sizes, strides);
    }
    return t;
  }

  const Input& in_;
  Graph& g_;
  RecordLookup lookup_;
  bool legacy_;
  uint64_t visited_ = 0;
  const uint64_t max_visits_;
  std::unordered_set<std::string> names_;
  std::unordered_map<std::string, SourcePtr> storages_;
};

// The one "<prefix>/data.pkl" of a torch zip; nullptr if the archive has none.
const ZipEntry* find_data_pkl(const ZipArchive& zip) {
  const ZipEntry* found = nullptr;
  for (const auto& e : zip.entries()) {
    const auto slash = e.name.find('/');
    if (slash == std::string::npos || e.name.substr(slash + 1) != "data.pkl") continue;
    if (found)
      throw InputError(zip.file(), "zip archive holds two checkpoints ('" + found->name +
                                       "' and '" + e.name + "')");
    found = &e;
  }
  return found;
}

const ZipEntry& require_data_pkl(const ZipArchive& zip) {
  const ZipEntry* pkl = find_data_pkl(zip);
  if (!pkl)
    throw InputError(
        zip.file(),
        "this is a zip archive that is not a PyTorch checkpoint (it has no */data.pkl)");
  const std::string prefix =
      pkl->name.substr(0, pkl->name.size() - std::string_view("data.pkl").size());
  if (zip.find(prefix + "constants.pkl") || zip.find(prefix + "code/"))
    throw InputError(zip.file(),
                     "this is a TorchScript archive (torch.jit.save), not a torch.save checkpoint");
  if (const ZipEntry* order = zip.find(prefix + "byteorder")) {
    auto b = zip.data(*order);
    const std::string_view text(reinterpret_cast<const char*>(b.data()), b.size());
    if (text != "little")
      throw InputError(zip.file(), "checkpoint byte order is '" + std::string(text.substr(0, 16)) +
                                       "', not little");
  }
  zip.verify_crc(*pkl);
  return *pkl;
}

// A checkpoint with no tensor is not a model (a bare number, a list of strings): say so
// rather than write an empty output.
void require_tensors(const Input& in, const Graph& g, size_t before, Ref root) {
  if (g.tensors.size() == before)
    throw InputError(in.file,
                     "checkpoint holds no tensors (the saved object is " + describe(root) + ")");
}

void read_zip(const Input& in, Graph& g) {
  const size_t before = g.tensors.size();
  const ZipArchive zip = ZipArchive::parse(in.bytes, in.file);
  const ZipEntry& pkl = require_data_pkl(zip);
  const std::string prefix =
      pkl.name.substr(0, pkl.name.size() - std::string_view("data.pkl").size());
  const Pickle p = unpickle(zip.data(pkl), in.file, UnpickleMode::Strict, pkl.name);
  auto lookup = [&](const std::string& key) -> Record {
    const ZipEntry* e = zip.find(prefix + "data/" + key);
    if (!e)
      throw InputError(in.file, "storage '" + key + "' has no record " + prefix + "data/" + key);
    return {e->data_offset, e->size};
  };
  Builder(in, g, lookup, false, p.arena.size()).walk(p.root, "", 0);
  require_tensors(in, g, before, p.root);
}

// Legacy files are several pickles in a row; each starts where the previous one stopped.
Pickle next_pickle(const Input& in, uint64_t& pos, UnpickleMode mode, const char* what) {
  Pickle p = unpickle(in.bytes.subspan(pos), in.file, mode, what);
  pos += p.end_offset;
  return p;
}

// The magic number, protocol version and sys info pickles; `seen` gets each (for the scanner).
void check_legacy_header(const Input& in, uint64_t& pos, UnpickleMode mode,
                         const std::function<void(const Pickle&)>& seen = {}) {
  const Pickle magic = next_pickle(in, pos, mode, "magic number");
  if (seen) seen(magic);
  if (magic.root->kind != Object::Kind::BigInt || magic.root->text.size() != sizeof kLegacyMagic ||
      std::memcmp(magic.root->text.data(), kLegacyMagic, sizeof kLegacyMagic) != 0)
    throw InputError(in.file,
                     "a pickle stream that is not a PyTorch checkpoint (wrong magic number)");
  const Pickle version = next_pickle(in, pos, mode, "protocol version");
  if (seen) seen(version);
  if (version.root->kind != Object::Kind::Int ||
      version.root->integer != static_cast<int64_t>(kLegacyProtocolVersion))
    throw InputError(
        in.file, "legacy checkpoint protocol version is " + describe(version.root) + ", not 1001");
  const Pickle sys_info = next_pickle(in, pos, mode, "sys info");
  if (seen) seen(sys_info);
  if (sys_info.root->kind == Object::Kind::Dict) {
    for (const auto& [k, v] : sys_info.root->entries)
      if (k->kind == Object::Kind::String && k->text == "little_endian" &&
          v->kind == Object::Kind::Bool && !v->boolean)
        throw InputError(in.file,
                         "legacy checkpoint was written big-endian, which owl does not read");
  }
}

void read_legacy(const Input& in, Graph& g) {
  const size_t before = g.tensors.size();
  uint64_t pos = 0;
  check_legacy_header(in, pos, UnpickleMode::Strict);
  const Pickle main = next_pickle(in, pos, UnpickleMode::Strict, "main pickle");
  const Pickle keys = next_pickle(in, pos, UnpickleMode::Strict, "storage key list");
  if (keys.root->kind != Object::Kind::List && keys.root->kind != Object::Kind::Tuple)
    throw InputError(in.file, "legacy storage key list is " + describe(keys.root) + ", not a list");

  // Each storage: an 8-byte little-endian element count, then its bytes. The element size is
  // the storage type's, which only the main pickle knows; so first find the records' offsets
  // by reading each count, then check sizes against the pickle in the Builder.
  std::map<std::string, ElemType> types;
  std::unordered_set<const Object*> seen;  // shared memo entries are searched once
  std::function<void(Ref, uint64_t)> find_types = [&](Ref o, uint64_t depth) {
    if (depth > kMaxPickleDepth) throw InputError(in.file, "main pickle nested too deeply");
    if (!seen.insert(&*o).second) return;
    if (o->kind == Object::Kind::PersistentId) {
      Ref t = o->items[0];
      if (t->kind == Object::Kind::Tuple && t->items.size() == 6 &&
          t->items[1]->kind == Object::Kind::Global && t->items[2]->kind == Object::Kind::String) {
        for (const auto& s : kStorageTypes)
          if (s.name == t->items[1]->text) {
            auto [it, fresh] = types.emplace(t->items[2]->text, s.type);
            if (!fresh && type_info(it->second).block_bytes != type_info(s.type).block_bytes)
              throw InputError(
                  in.file, "storage '" + t->items[2]->text + "' is used with two element sizes");
          }
      }
      return;
    }
    for (Ref i : o->items) find_types(i, depth + 1);
    for (const auto& [k, v] : o->entries) find_types(v, depth + 1);
  };
  find_types(main.root, 0);

  std::unordered_map<std::string, Record> records;
  for (Ref k : keys.root->items) {
    if (k->kind != Object::Kind::String)
      throw InputError(in.file, "legacy storage key is " + describe(k) + ", not a string");
    auto t = types.find(k->text);
    if (t == types.end())
      throw InputError(in.file, "legacy storage '" + k->text + "' is not used by any tensor");
    if (in.bytes.size() - pos < 8)
      throw InputError(in.file, "truncated: legacy storage '" + k->text + "' has no size");
    uint64_t count;
    std::memcpy(&count, in.bytes.data() + pos, sizeof count);
    pos += 8;
    const auto bytes = checked_mul(count, type_info(t->second).block_bytes);
    if (!bytes || *bytes > in.bytes.size() - pos)
      throw InputError(in.file, "truncated: legacy storage '" + k->text + "' of " +
                                    std::to_string(count) +
                                    " elements runs past the end of the file");
    if (!records.emplace(k->text, Record{pos, *bytes}).second)
      throw InputError(in.file, "legacy storage '" + k->text + "' is listed twice");
    pos += *bytes;
  }
  if (pos != in.bytes.size())
    throw InputError(
        in.file, std::to_string(in.bytes.size() - pos) + " bytes follow the last legacy storage");
  auto lookup = [&](const std::string& key) -> Record {
    auto it = records.find(key);
    if (it == records.end())
      throw InputError(in.file, "storage '" + key + "' is not in the legacy storage list");
    return it->second;
  };
  Builder(in, g, lookup, true, main.arena.size()).walk(main.root, "", 0);
  require_tensors(in, g, before, main.root);
}

void read_any(const Input& in, Graph& g) {
  const auto head = in.bytes.first(std::min<size_t>(in.bytes.size(), 32));
  if (looks_like_zip(head)) return read_zip(in, g);
  if (looks_like_legacy(head)) return read_legacy(in, g);
  throw InputError(
      in.file, "not a PyTorch checkpoint (neither a torch zip archive nor a legacy pickle stream)");
}

Input borrowed(std::span<const std::byte> bytes, const std::string& file) {
  return {bytes, file, [bytes](uint64_t off, uint64_t n) -> SourcePtr {
            return std::make_shared<SpanSource>(bytes.subspan(off, n));
          }};
}

std::shared_ptr<const MappedFile> open_mapped(const std::string& path) {
  auto file = MappedFile::open(path);
  if (file->size() == 0) throw InputError(path, "empty file (0 bytes), not a PyTorch checkpoint");
  return file;
}

Input mapped(const std::shared_ptr<const MappedFile>& file) {
  return {file->bytes(), file->path(), [file](uint64_t off, uint64_t n) -> SourcePtr {
            return std::make_shared<MappedSource>(file, off, n);
          }};
}

}  // namespace

bool looks_like_legacy(std::span<const std::byte> head) {
  // PROTO n, LONG1 10, then the magic number's ten bytes.
  if (head.size() < 4 + sizeof kLegacyMagic) return false;
  const auto* b = reinterpret_cast<const uint8_t*>(head.data());
  return b[0] == 0x80 && b[2] == 0x8a && b[3] == sizeof kLegacyMagic &&
         std::memcmp(b + 4, kLegacyMagic, sizeof kLegacyMagic) == 0;
}

bool looks_like_checkpoint(std::span<const std::byte> head) {
  return looks_like_zip(head) || looks_like_legacy(head);
}

bool is_checkpoint_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec) || std::filesystem::file_size(path, ec) == 0)
    return false;
  auto file = MappedFile::open(path);
  return looks_like_checkpoint(file->bytes().first(std::min<uint64_t>(file->size(), 32)));
}

Graph parse_zip_checkpoint(std::span<const std::byte> bytes, const std::string& file) {
  Graph g;
  g.format = "pytorch";
  read_zip(borrowed(bytes, file), g);
  return g;
}

Graph parse_legacy_checkpoint(std::span<const std::byte> bytes, const std::string& file) {
  Graph g;
  g.format = "pytorch";
  read_legacy(borrowed(bytes, file), g);
  return g;
}

void append_file(Graph& g, const std::string& path) {
  auto file = open_mapped(path);
  read_any(mapped(file), g);
  g.inputs.push_back({path, file->size()});
}

Graph read_file(const std::string& path) {
  Graph g;
  g.format = "pytorch";
  append_file(g, path);
  return g;
}

bool ScanReport::any_refused() const {
  for (const auto& u : globals)
    if (u.kind == GlobalKind::Refused) return true;
  return false;
}

ScanReport scan_checkpoint(std::span<const std::byte> bytes, const std::string& file) {
  ScanReport r;
  const auto head = bytes.first(std::min<size_t>(bytes.size(), 32));
  // A broken stream ends the scan of its file: nothing after the break can be located.
  struct Broken {};
  auto merge = [&](const Pickle& p) {
    for (const auto& u : p.globals) {
      auto it = std::find_if(r.globals.begin(), r.globals.end(),
                             [&](const GlobalUse& x) { return x.name == u.name; });
      if (it == r.globals.end())
        r.globals.push_back(u);
      else
        it->count += u.count;
    }
    if (!p.broken.empty()) {
      r.broken = p.broken;
      throw Broken{};
    }
  };
  try {
    if (looks_like_zip(head)) {
      r.format = "pytorch zip";
      const ZipArchive zip = ZipArchive::parse(bytes, file);
      const ZipEntry& pkl = require_data_pkl(zip);
      merge(unpickle(zip.data(pkl), file, UnpickleMode::Scan, pkl.name));
      return r;
    }
    if (looks_like_legacy(head)) {
      r.format = "pytorch legacy";
      const Input in = borrowed(bytes, file);
      uint64_t pos = 0;
      check_legacy_header(in, pos, UnpickleMode::Scan, merge);
      merge(next_pickle(in, pos, UnpickleMode::Scan, "main pickle"));
      merge(next_pickle(in, pos, UnpickleMode::Scan, "storage key list"));
      return r;
    }
  } catch (const Broken&) {
    return r;
  }
  throw InputError(
      file, "not a PyTorch checkpoint (neither a torch zip archive nor a legacy pickle stream)");
}

ScanReport scan_file(const std::string& path) {
  auto file = open_mapped(path);
  return scan_checkpoint(file->bytes(), path);
}

}  // namespace owl::pytorch
