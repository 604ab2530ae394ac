#include "formats/gguf/writer.h"

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "formats/gguf/limits.h"
#include "formats/io/atomic_file.h"
#include "formats/io/error.h"
#include "formats/io/file_digest.h"
#include "formats/io/hash.h"
#include "formats/io/read_files.h"
#include "formats/io/resume_journal.h"
#include "formats/tensor_stream.h"

namespace owl::gguf {
namespace {

constexpr size_t kInitialHeaderBytes = 64 * 1024;

// Serialises the header, metadata and tensor infos into memory (they are small) before the
// streamed tensor data.
class HeaderBuffer {
 public:
  // Room for a typical header up front (GCC 12 also warns, wrongly, about growing an empty one).
  HeaderBuffer() { bytes_.reserve(kInitialHeaderBytes); }
  template <typename T>
  void put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    bytes_.insert(bytes_.end(), p, p + sizeof v);
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  void put_value(const Value& v) {
    if (v.type() == ValueType::STRING) return put_string(v.as_string());
    if (v.type() != ValueType::ARRAY) return append_scalar_bytes(v, bytes_);
    const Array& a = v.as_array();
    put<uint32_t>(static_cast<uint32_t>(a.elem()));
    put<uint64_t>(a.size());
    if (Array::element_bytes(a.elem()) != 0) {
      bytes_.insert(bytes_.end(), a.bytes().begin(), a.bytes().end());
    } else {
      for (const Value& item : a) put_value(item);
    }
  }
  void put_kv(const std::string& key, const Value& v) {
    put_string(key);
    put<uint32_t>(static_cast<uint32_t>(v.type()));
    put_value(v);
  }
  std::span<const std::byte> bytes() const { return std::as_bytes(std::span(bytes_)); }

 private:
  std::vector<uint8_t> bytes_;
};

uint64_t padded(uint64_t n, uint64_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

// What the input holds that GGUF cannot: an input error (exit 2) naming the input, since no
// option of the command would change it.
[[noreturn]] void refuse_input(const Graph& g, const std::string& what) {
  throw InputError(g.inputs.empty() ? std::string() : g.inputs.front().path, what);
}

void check_writable(const Graph& g) {
  std::set<std::string_view> names;
  for (const auto& t : g.tensors) {
    if (t.name.size() > kMaxNameBytes)
      refuse_input(g, "tensor '" + t.name + "' has a name longer than GGUF's 63 bytes");
    if (t.shape.size() > kMaxDims)
      refuse_input(g, "tensor '" + t.name + "' has " + std::to_string(t.shape.size()) +
                          " dimensions; GGUF allows 4");
    if (type_info(t.type).ggml_id < 0)
      throw UsageError("tensor '" + t.name + "' is " + std::string(type_name(t.type)) +
                       ", which GGUF cannot store; convert it with --dtype");
    auto size = bytes_for_shape(t.type, t.shape);
    if (!size.bytes) throw UsageError("tensor '" + t.name + "': " + size.problem);
    if (!names.insert(t.name).second) refuse_input(g, "two tensors are named '" + t.name + "'");
  }
  for (const auto& [key, v] : g.metadata) {
    if (v.type() == ValueType::ARRAY && v.as_array().elem() == ValueType::ARRAY)
      refuse_input(g, "metadata key '" + key + "' holds nested arrays, which ggml refuses to load");
  }
  if (const Value* a = g.metadata.find(kAlignmentKey)) {
    if (a->type() != ValueType::U32 || a->as_u64() == 0 || (a->as_u64() & (a->as_u64() - 1)) ||
        a->as_u64() > kMaxAlignment)
      refuse_input(g, "general.alignment is " + a->to_display() +
                          ", not a u32 power of two up to " + std::to_string(kMaxAlignment));
  }
}

std::vector<std::vector<const Tensor*>> given_parts(const Graph& g,
                                                    const std::vector<size_t>& sizes) {
  std::vector<std::vector<const Tensor*>> parts;
  size_t next = 0;
  for (size_t n : sizes) {
    if (n > g.tensors.size() - next)
      throw std::logic_error("GGUF parts hold more tensors than the graph has");
    auto& part = parts.emplace_back();
    for (size_t i = 0; i < n; ++i) part.push_back(&g.tensors[next++]);
  }
  if (next != g.tensors.size()) throw std::logic_error("GGUF parts leave tensors out");
  return parts;
}

// Tensors per part, in order, as gguf-split cuts them.
std::vector<std::vector<const Tensor*>> plan_parts(const Graph& g, const WriteOptions& opt,
                                                   uint64_t alignment) {
  if (!opt.part_sizes.empty()) return given_parts(g, opt.part_sizes);
  std::vector<std::vector<const Tensor*>> parts(1);
  uint64_t part_bytes = 0;
  for (const auto& t : g.tensors) {
    const uint64_t n = padded(t.byte_size(), alignment);
    const bool by_count = opt.split_max_tensors > 0 && parts.back().size() == opt.split_max_tensors;
    const bool by_size =
        opt.split_max_bytes > 0 && !parts.back().empty() && part_bytes + n > opt.split_max_bytes;
    if (by_count || by_size) {
      parts.emplace_back();
      part_bytes = 0;
    }
    parts.back().push_back(&t);
    part_bytes += n;
  }
  return parts;
}

std::string part_name(const std::string& path, size_t i, size_t n) {
  std::string stem = path.ends_with(".gguf") ? path.substr(0, path.size() - 5) : path;
  char buf[64];
  std::snprintf(buf, sizeof buf, "-%05zu-of-%05zu.gguf", i + 1, n);
  return stem + buf;
}

HeaderBuffer header(const Metadata& meta, const std::vector<const Tensor*>& tensors,
                    uint64_t alignment) {
  HeaderBuffer h;
  for (char c : kMagic) h.put<char>(c);
  h.put<uint32_t>(kWriteVersion);
  h.put<uint64_t>(tensors.size());
  h.put<uint64_t>(meta.size());
  for (const auto& [k, v] : meta) h.put_kv(k, v);
  uint64_t offset = 0;
  for (const Tensor* t : tensors) {
    h.put_string(t->name);
    h.put<uint32_t>(static_cast<uint32_t>(t->shape.size()));
    for (auto it = t->shape.rbegin(); it != t->shape.rend(); ++it)
      h.put<int64_t>(static_cast<int64_t>(*it));
    h.put<uint32_t>(static_cast<uint32_t>(type_info(t->type).ggml_id));
    h.put<uint64_t>(offset);
    offset += padded(t->byte_size(), alignment);
  }
  return h;
}

// Rewrites the first part's header with the final values of the late keys: same size, in place.
void patch_header(AtomicFile& f, const Metadata& meta, const Metadata& late,
                  const std::vector<const Tensor*>& tensors, uint64_t alignment) {
  const uint64_t before = header(meta, tensors, alignment).bytes().size();
  const HeaderBuffer h = header(with_late_values(meta, late), tensors, alignment);
  if (h.bytes().size() != before)
    throw std::logic_error("a late metadata value changed the size of the GGUF header");
  f.patch(0, h.bytes());
}

// The input's split keys: write() sets its own for each part.
Metadata without_split_keys(const Metadata& m) {
  Metadata out;
  for (const auto& [k, v] : m)
    if (k != kSplitNoKey && k != kSplitCountKey && k != kSplitTensorsCountKey) out.set(k, v);
  return out;
}

// Where everything goes, fixed before the first byte: each part's header (late keys as
// placeholders) and each tensor's part and offset.
struct Layout {
  std::vector<std::vector<const Tensor*>> parts;
  std::vector<std::string> names;
  std::vector<Metadata> metas;
  std::vector<HeaderBuffer> headers;
  std::vector<uint64_t> part_bytes;
  struct Place {
    const Tensor* tensor;
    uint32_t part;
    uint64_t offset;
  };
  std::vector<Place> places;  // graph order
};

Layout lay_out(const Graph& g, const std::string& path, const WriteOptions& opt,
               uint64_t alignment) {
  const Metadata meta = without_split_keys(g.metadata);
  Layout l;
  l.parts = plan_parts(g, opt, alignment);
  if (l.parts.size() > kMaxSplits)
    throw UsageError("the split limits would make more than 9999 files");
  const bool split = l.parts.size() > 1;
  for (size_t i = 0; i < l.parts.size(); ++i) {
    l.names.push_back(split ? part_name(path, i, l.parts.size()) : path);
    Metadata part_meta;
    if (i == 0) part_meta = meta;
    if (split) {
      part_meta.set(kSplitNoKey, Value::u16(static_cast<uint16_t>(i)));
      part_meta.set(kSplitCountKey, Value::u16(static_cast<uint16_t>(l.parts.size())));
      part_meta.set(kSplitTensorsCountKey, Value::i32(static_cast<int32_t>(g.tensors.size())));
    }
    l.headers.push_back(header(part_meta, l.parts[i], alignment));
    l.metas.push_back(std::move(part_meta));
    uint64_t at = padded(l.headers.back().bytes().size(), alignment);
    for (const Tensor* t : l.parts[i]) {
      l.places.push_back({t, static_cast<uint32_t>(i), at});
      at += padded(t->byte_size(), alignment);
    }
    l.part_bytes.push_back(at);
  }
  return l;
}

// What the journal vouches for: the header bytes of every part and what the caller adds.
std::string layout_identity(const Layout& l, const std::string& extra) {
  Xxh3Hasher h;
  for (const auto& header : l.headers) h.update(header.bytes());
  h.update(std::as_bytes(std::span(extra.data(), extra.size())));
  return h.hex();
}

std::string journal_path(const std::string& path) {
  return hidden_beside(path, ".owl-journal");
}

// The tensors a resumed run need not write again: those the journal lists at their place whose
// bytes in the temporary still hash as the journal says. Only `mine` are checked (each process
// checks its own). Returns each such tensor's hash, by place index.
std::vector<std::string> verified_tensors(const Layout& l, const std::vector<bool>& mine,
                                          const resume::Journal& j,
                                          const std::vector<std::unique_ptr<AtomicFile>>& files,
                                          const WriteOptions& opt) {
  std::map<std::pair<uint32_t, std::string>, const resume::JournalEntry*> last;
  for (const auto& e : j.entries) last[{e.part, e.name}] = &e;
  std::vector<std::string> done(l.places.size());
  size_t kept = 0, redone = 0;
  for (size_t i = 0; i < l.places.size(); ++i) {
    const auto& p = l.places[i];
    const auto it = last.find({p.part, p.tensor->name});
    if (!mine[i] || it == last.end()) continue;
    const resume::JournalEntry& e = *it->second;
    if (e.offset == p.offset && e.size == p.tensor->byte_size() &&
        xxh3_file_hex(files[p.part]->temp_path(), e.offset, e.offset + e.size) == e.xxh3) {
      done[i] = e.xxh3;
      ++kept;
    } else {
      ++redone;
    }
  }
  if (opt.note)
    opt.note("resuming: " + std::to_string(kept) + " tensors already written and checked" +
             (redone + j.damaged ? ", " + std::to_string(redone + j.damaged) +
                                       " journal entries that do not check out are redone"
                                 : ""));
  return done;
}

// Rank 0: every process's hashes ("INDEX HASH" lines), merged into graph order.
std::vector<std::string> merge_hashes(const std::vector<std::string>& texts, size_t count) {
  std::vector<std::string> hashes(count);
  for (const auto& text : texts) {
    std::istringstream in(text);
    size_t index = 0;
    std::string hash;
    while (in >> index >> hash) {
      if (index >= count) throw std::logic_error("a process sent a hash for no tensor");
      hashes[index] = hash;
    }
  }
  for (const auto& h : hashes)
    if (h.empty()) throw std::logic_error("no process sent the hash of a tensor");
  return hashes;
}

}  // namespace

SingleFileLayout single_file_layout(const Graph& g) {
  check_writable(g);
  const Value* a = g.metadata.find(kAlignmentKey);
  const uint64_t alignment = a ? a->as_u64() : kDefaultAlignment;
  const Metadata meta = without_split_keys(g.metadata);
  std::vector<const Tensor*> tensors;
  for (const auto& t : g.tensors) tensors.push_back(&t);
  return {padded(header(meta, tensors, alignment).bytes().size(), alignment), alignment};
}

std::vector<std::string> write(const Graph& g, const std::string& path, const WriteOptions& opt) {
  check_writable(g);
  const Value* a = g.metadata.find(kAlignmentKey);
  const uint64_t alignment = a ? a->as_u64() : kDefaultAlignment;
  const Layout l = lay_out(g, path, opt, alignment);
  // Before anything is written: no part may replace a file being read.
  for (const auto& name : l.names) refuse_if_read(name);

  const int rank = opt.group ? opt.group->rank() : 0;
  const bool leader = rank == 0;
  const bool shared = opt.group && opt.group->size() > 1;
  const auto barrier = [&opt] {
    if (opt.group) opt.group->barrier();
  };

  std::vector<uint64_t> sizes;
  for (const auto& p : l.places) sizes.push_back(p.tensor->byte_size());
  const std::vector<int> owner = share_by_size(sizes, opt.group ? opt.group->size() : 1);
  std::vector<bool> mine(l.places.size());
  for (size_t i = 0; i < mine.size(); ++i) mine[i] = owner[i] == rank;

  // Every process reads the journal and refuses a foreign one alike, before anything changes.
  const std::string journal = journal_path(path);
  const std::string identity = opt.resume ? layout_identity(l, opt.resume_identity) : "";
  const resume::Journal found = opt.resume ? resume::read_journal(journal) : resume::Journal{};
  if (!found.identity.empty() && found.identity != identity)
    throw UsageError(journal +
                     ": this resume journal was written for a different input, recipe "
                     "or owl version than this run's; delete it and " +
                     AtomicFile::partial_path(l.names.front()) + " to start afresh");
  const bool fresh = found.identity.empty();
  barrier();  // every process has read the journal before the first one starts it afresh

  std::vector<std::unique_ptr<AtomicFile>> files;
  std::unique_ptr<resume::JournalAppender> appender;
  // Without --resume the ranks write into rank 0's temporaries, whose names (with its PID) rank 0
  // sends them: a job killed outright leaves what any killed run leaves, which the next run
  // sweeps. With it they share the fixed-name temporary a later run continues.
  std::vector<std::string> leader_temps;
  const auto open_all = [&](PartialOpen how) {
    for (size_t i = 0; i < l.names.size(); ++i) {
      if (!opt.resume && leader)
        files.push_back(std::make_unique<AtomicFile>(l.names[i]));
      else if (!opt.resume)
        files.push_back(std::make_unique<AtomicFile>(l.names[i], leader_temps.at(i)));
      else
        files.push_back(std::make_unique<AtomicFile>(l.names[i], how, opt.resume));
    }
  };
  if (leader) {
    open_all(fresh ? PartialOpen::Fresh : PartialOpen::Continue);
    for (size_t i = 0; i < files.size(); ++i) files[i]->resize(l.part_bytes[i]);
    if (opt.resume)
      appender = std::make_unique<resume::JournalAppender>(journal, fresh ? identity : "");
    if (shared && !opt.resume) {
      std::string temps;
      for (const auto& f : files) temps += f->temp_path() + '\0';
      for (int r = 1; r < opt.group->size(); ++r) opt.group->send(r, temps);
    }
  } else if (!opt.resume) {
    const std::string temps = opt.group->receive(0);
    for (size_t at = 0, end; (end = temps.find('\0', at)) != std::string::npos; at = end + 1)
      leader_temps.push_back(temps.substr(at, end - at));
  }
  barrier();
  if (!leader) {
    open_all(PartialOpen::Join);
    if (opt.resume) appender = std::make_unique<resume::JournalAppender>(journal, "");
  }
  std::vector<std::string> hashes = fresh ? std::vector<std::string>(l.places.size())
                                          : verified_tensors(l, mine, found, files, opt);

  if (leader) {
    for (size_t i = 0; i < files.size(); ++i) {
      const auto bytes = l.headers[i].bytes();
      files[i]->seek(0);
      files[i]->write(bytes);
      files[i]->write_zeros(padded(bytes.size(), alignment) - bytes.size());
    }
  }
  const bool hashing = opt.resume || opt.finish_metadata;
  if (opt.progress) opt.progress->begin("writing", g.tensors.size(), g.tensor_bytes());
  for (size_t i = 0; i < l.places.size(); ++i) {
    const auto& p = l.places[i];
    if (!mine[i]) continue;
    if (!hashes[i].empty()) {
      if (opt.progress) opt.progress->advance(1, p.tensor->byte_size());
      continue;
    }
    AtomicFile& f = *files[p.part];
    f.seek(p.offset);
    const uint64_t written =
        stream_tensor(f, *p.tensor, opt.progress, hashing ? &hashes[i] : nullptr);
    f.write_zeros(padded(written, alignment) - written);
    if (appender) {
      f.flush();
      appender->append({p.part, p.offset, written, hashes[i], p.tensor->name});
    }
  }

  if (opt.finish_metadata) {
    std::string mine_text;
    for (size_t i = 0; i < l.places.size(); ++i)
      if (mine[i]) mine_text += std::to_string(i) + " " + hashes[i] + "\n";
    const auto texts = opt.group ? opt.group->gather(mine_text) : std::vector{mine_text};
    if (leader)
      patch_header(*files.front(), l.metas.front(),
                   opt.finish_metadata(merge_hashes(texts, l.places.size())), l.parts.front(),
                   alignment);
  }
  if (!leader)
    for (const auto& f : files) f->finish_share();
  barrier();  // every process's tensors are on disk
  if (leader) {
    commit_all(files);
    if (opt.resume) std::filesystem::remove(journal);
  }
  barrier();  // the output is in place before any process reports success
  if (opt.progress) opt.progress->end();
  return l.names;
}

}  // namespace owl::gguf
