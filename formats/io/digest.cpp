#include "formats/io/digest.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace owl {

struct Digest::State {
  EVP_MD_CTX* ctx = nullptr;
  bool finished = false;
};

Digest::Digest(DigestKind kind) : state_(std::make_unique<State>()) {
  state_->ctx = EVP_MD_CTX_new();
  if (!state_->ctx) throw std::bad_alloc();
  const EVP_MD* md = kind == DigestKind::sha256 ? EVP_sha256() : EVP_sha1();
  if (EVP_DigestInit_ex(state_->ctx, md, nullptr) != 1) {
    EVP_MD_CTX_free(state_->ctx);
    throw std::runtime_error("OpenSSL could not start a digest");
  }
}

Digest::~Digest() {
  EVP_MD_CTX_free(state_->ctx);
}

void Digest::update(std::span<const std::byte> bytes) {
  if (state_->finished) throw std::logic_error("Digest::update after finish");
  if (!bytes.empty() && EVP_DigestUpdate(state_->ctx, bytes.data(), bytes.size()) != 1)
    throw std::runtime_error("OpenSSL digest update failed");
}

void Digest::update(std::string_view text) {
  update(std::as_bytes(std::span(text.data(), text.size())));
}

std::vector<std::uint8_t> Digest::finish() {
  if (state_->finished) throw std::logic_error("Digest::finish called twice");
  state_->finished = true;
  std::vector<std::uint8_t> out(EVP_MAX_MD_SIZE);
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(state_->ctx, out.data(), &n) != 1)
    throw std::runtime_error("OpenSSL digest failed");
  out.resize(n);
  return out;
}

std::string Digest::finish_hex() {
  return to_hex(finish());
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out(2 * bytes.size(), '0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 15];
  }
  return out;
}

std::string sha256_hex(std::span<const std::byte> bytes) {
  Digest d;
  d.update(bytes);
  return d.finish_hex();
}

std::string sha256_hex(std::string_view text) {
  return sha256_hex(std::as_bytes(std::span(text.data(), text.size())));
}

}  // namespace owl
