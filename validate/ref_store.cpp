#include "validate/ref_store.h"

#include <zstd.h>

#include <cstring>

#include "formats/io/atomic_file.h"
#include "formats/io/byte_cursor.h"
#include "formats/io/error.h"
#include "formats/io/hash.h"
#include "formats/io/mapped_file.h"

namespace owl::validate {
namespace {

constexpr char kMagic[8] = {'O', 'W', 'L', 'R', 'E', 'F', '\0', '\1'};
constexpr int kZstdLevel = 3;
// Bounds on a hostile header, far above any real run.
constexpr uint64_t kMaxVocab = 1u << 24, kMaxCtx = 1u << 20, kMaxChunks = 1u << 24;

std::span<const std::byte> as_bytes_of(const void* p, size_t n) {
  return {static_cast<const std::byte*>(p), n};
}

}  // namespace

struct RefWriter::Impl {
  AtomicFile file;
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  Xxh3Hasher hash;
  std::vector<char> out = std::vector<char>(ZSTD_CStreamOutSize());
  explicit Impl(const std::string& path) : file(path) {}
  ~Impl() { ZSTD_freeCCtx(cctx); }

  void compress(const void* data, size_t n, ZSTD_EndDirective mode) {
    hash.update(as_bytes_of(data, n));
    ZSTD_inBuffer in{data, n, 0};
    bool done = false;
    while (!done) {
      ZSTD_outBuffer o{out.data(), out.size(), 0};
      const size_t left = ZSTD_compressStream2(cctx, &o, &in, mode);
      if (ZSTD_isError(left))
        throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(left));
      file.write(as_bytes_of(out.data(), o.pos));
      done = mode == ZSTD_e_end ? left == 0 : in.pos == in.size;
    }
  }
};

RefWriter::RefWriter(const std::string& path, const RefHeader& h)
    : impl_(std::make_unique<Impl>(path)) {
  ZSTD_CCtx_setParameter(impl_->cctx, ZSTD_c_compressionLevel, kZstdLevel);
  impl_->file.write(as_bytes_of(kMagic, sizeof kMagic));
  for (uint64_t v : {h.n_vocab, h.n_ctx, h.n_chunks}) impl_->file.write(as_bytes_of(&v, 8));
  impl_->file.write(h.tokens_hash);
}

RefWriter::~RefWriter() = default;

void RefWriter::add_chunk(std::span<const int32_t> tokens, std::span<const float> scored_logits) {
  impl_->compress(tokens.data(), tokens.size_bytes(), ZSTD_e_continue);
  impl_->compress(scored_logits.data(), scored_logits.size_bytes(), ZSTD_e_continue);
}

void RefWriter::finish() {
  impl_->compress(nullptr, 0, ZSTD_e_end);
  impl_->file.write(impl_->hash.hex());
  impl_->file.commit();
}

struct RefReader::Impl {
  std::shared_ptr<const MappedFile> file;
  RefHeader header;
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  ZSTD_inBuffer in{};
  Xxh3Hasher hash;
  std::string stored_hash;
  uint64_t chunks_read = 0;
  ~Impl() { ZSTD_freeDCtx(dctx); }

  void read_exact(void* dst, size_t n) {
    ZSTD_outBuffer o{dst, n, 0};
    while (o.pos < o.size) {
      const size_t before = in.pos, out_before = o.pos;
      const size_t r = ZSTD_decompressStream(dctx, &o, &in);
      if (ZSTD_isError(r))
        throw InputError(file->path(),
                         std::string("corrupt reference logits: ") + ZSTD_getErrorName(r));
      if (in.pos == before && o.pos == out_before)
        throw InputError(file->path(), "reference logits end early");
    }
    hash.update(as_bytes_of(dst, n));
  }
};

RefReader::RefReader(const std::string& path) : impl_(std::make_unique<Impl>()) {
  impl_->file = MappedFile::open(path);
  ByteCursor cur(impl_->file->bytes(), path);
  auto magic = cur.take(sizeof kMagic, "magic");
  if (std::memcmp(magic.data(), kMagic, sizeof kMagic) != 0)
    throw InputError(path, "not an owl reference-logits file");
  RefHeader& h = impl_->header;
  h.n_vocab = cur.read<uint64_t>("vocabulary size");
  h.n_ctx = cur.read<uint64_t>("context size");
  h.n_chunks = cur.read<uint64_t>("chunk count");
  if (h.n_vocab == 0 || h.n_vocab > kMaxVocab || h.n_ctx < 2 || h.n_ctx > kMaxCtx ||
      h.n_chunks > kMaxChunks)
    throw InputError(path, "reference-logits header out of range");
  h.tokens_hash = std::string(cur.take_string(32, "token hash"));
  if (cur.remaining() < 32) throw InputError(path, "truncated reference-logits file");
  const auto payload = cur.take(cur.remaining() - 32, "payload");
  impl_->stored_hash = std::string(cur.take_string(32, "checksum"));
  impl_->in = ZSTD_inBuffer{payload.data(), payload.size(), 0};
}

RefReader::~RefReader() = default;

const RefHeader& RefReader::header() const {
  return impl_->header;
}

void RefReader::next_chunk(std::span<int32_t> tokens, std::span<float> scored_logits) {
  if (impl_->chunks_read == impl_->header.n_chunks)
    throw InputError(impl_->file->path(), "asked for more chunks than the file holds");
  impl_->read_exact(tokens.data(), tokens.size_bytes());
  impl_->read_exact(scored_logits.data(), scored_logits.size_bytes());
  if (++impl_->chunks_read == impl_->header.n_chunks && impl_->hash.hex() != impl_->stored_hash)
    throw InputError(impl_->file->path(), "checksum mismatch: the reference logits are corrupt");
}

}  // namespace owl::validate
