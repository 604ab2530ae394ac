// libFuzzer target: the zip checkpoint reader, given a well-formed zip (valid directory and
// CRCs) around the fuzzer's input as data.pkl. fuzz_zip_checkpoint mutates whole archives, whose
// data.pkl CRC check stops most pickle mutations; here every input reaches the unpickler and the
// tensor, storage and view checks behind it. Only InputError is an accepted outcome.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "formats/io/error.h"
#include "formats/pytorch/checkpoint.h"
#include "formats/pytorch/zip_archive.h"
#include "tests/fuzz/fuzz_common.h"

namespace {

const std::string kFile = "fuzz.pt";

// The storages the pickle may name, by key and byte size. make_malicious.py's seeds name "0"
// holding 6 floats.
struct StorageEntry {
  std::string_view key;
  size_t bytes;
};
constexpr std::array<StorageEntry, 4> kStorages{{{"0", 24}, {"1", 96}, {"2", 2}, {"3", 0}}};

// Zip records, as torch writes them: stored entries, no extra fields, a 1980-01-01 date.
constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint16_t kVersion = 20;
constexpr uint16_t kDosDate1980 = 0x21;

void put(std::vector<std::byte>& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<std::byte>(v >> (8 * i)));
}

void put(std::vector<std::byte>& out, std::string_view s) {
  for (char c : s) out.push_back(static_cast<std::byte>(c));
}

struct Entry {
  std::string name;
  std::vector<std::byte> data;
};

std::vector<std::byte> zip_of(const std::vector<Entry>& entries) {
  std::vector<std::byte> out, central;
  for (const Entry& e : entries) {
    const uint32_t crc = owl::pytorch::crc32(e.data);
    const uint64_t offset = out.size();
    put(out, kLocalSig, 4);
    put(out, kVersion, 2);
    put(out, 0, 2);  // flags
    put(out, 0, 2);  // method: stored
    put(out, 0, 2);  // time
    put(out, kDosDate1980, 2);
    put(out, crc, 4);
    put(out, e.data.size(), 4);
    put(out, e.data.size(), 4);
    put(out, e.name.size(), 2);
    put(out, 0, 2);  // extra
    put(out, e.name);
    out.insert(out.end(), e.data.begin(), e.data.end());

    put(central, kCentralSig, 4);
    put(central, kVersion, 2);
    put(central, kVersion, 2);
    put(central, 0, 2);  // flags
    put(central, 0, 2);  // method
    put(central, 0, 2);  // time
    put(central, kDosDate1980, 2);
    put(central, crc, 4);
    put(central, e.data.size(), 4);
    put(central, e.data.size(), 4);
    put(central, e.name.size(), 2);
    put(central, 0, 2);  // extra
    put(central, 0, 2);  // comment
    put(central, 0, 2);  // disk
    put(central, 0, 2);  // internal attributes
    put(central, 0, 4);  // external attributes
    put(central, offset, 4);
    put(central, e.name);
  }
  const uint64_t central_offset = out.size();
  out.insert(out.end(), central.begin(), central.end());
  put(out, kEndSig, 4);
  put(out, 0, 2);  // this disk
  put(out, 0, 2);  // the directory's disk
  put(out, entries.size(), 2);
  put(out, entries.size(), 2);
  put(out, central.size(), 4);
  put(out, central_offset, 4);
  put(out, 0, 2);  // comment
  return out;
}

std::vector<Entry> checkpoint_entries(std::span<const std::byte> pkl) {
  std::vector<Entry> entries;
  entries.push_back({"archive/data.pkl", {pkl.begin(), pkl.end()}});
  for (const StorageEntry& s : kStorages) {
    Entry e{"archive/data/" + std::string(s.key), std::vector<std::byte>(s.bytes)};
    for (size_t i = 0; i < s.bytes; ++i) e.data[i] = static_cast<std::byte>(i * 37 + 11);
    entries.push_back(std::move(e));
  }
  entries.push_back({"archive/version", {std::byte{'3'}, std::byte{'\n'}}});
  return entries;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A 32-bit zip holds at most 4 GiB; libFuzzer's inputs are far smaller.
  const std::span<const std::byte> pkl(reinterpret_cast<const std::byte*>(data), size);
  const std::vector<std::byte> zip = zip_of(checkpoint_entries(pkl));
  try {
    const owl::Graph g = owl::pytorch::parse_zip_checkpoint(zip, kFile);
    owl::fuzz::read_every_tensor(g);
  } catch (const owl::InputError&) {
  }
  return 0;
}
