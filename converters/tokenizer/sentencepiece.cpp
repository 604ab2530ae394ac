#include "converters/tokenizer/sentencepiece.h"

#include "converters/tokenizer/limits.h"
#include "converters/tokenizer/sentencepiece_model.pb.h"
#include "formats/io/error.h"
#include "formats/io/mapped_file.h"

namespace owl::tok {
namespace {

using Piece = spm::ModelProto::SentencePiece;

TokenType token_type(Piece::Type t) {
  switch (t) {
    case Piece::UNKNOWN:
      return TokenType::Unknown;
    case Piece::CONTROL:
      return TokenType::Control;
    case Piece::UNUSED:
      return TokenType::Unused;
    case Piece::BYTE:
      return TokenType::Byte;
    // SentencePieceProcessor has no IsUserDefined test, so the converter writes them NORMAL.
    default:
      return TokenType::Normal;
  }
}

}  // namespace

Vocab parse_sentencepiece(std::span<const std::byte> bytes, const std::string& file) {
  if (bytes.size() > kMaxSentencePieceBytes)
    throw InputError(file, "SentencePiece model of " + std::to_string(bytes.size()) +
                               " bytes is larger than the limit of " +
                               std::to_string(kMaxSentencePieceBytes));
  spm::ModelProto model;
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    throw InputError(file, "not a SentencePiece model: the protobuf ModelProto does not parse");
  const int n = model.pieces_size();
  if (n == 0) throw InputError(file, "SentencePiece model has no pieces");
  if (static_cast<uint64_t>(n) > kMaxTokens)
    throw InputError(file, "SentencePiece model has " + std::to_string(n) +
                               " pieces, more than the limit of " + std::to_string(kMaxTokens));
  Vocab v;
  v.tokens.reserve(n);
  v.scores.reserve(n);
  v.types.reserve(n);
  for (const Piece& p : model.pieces()) {
    if (p.piece().size() > kMaxTokenBytes)
      throw InputError(file, "SentencePiece piece " + std::to_string(v.size()) + " is " +
                                 std::to_string(p.piece().size()) +
                                 " bytes long, more than the limit of " +
                                 std::to_string(kMaxTokenBytes));
    v.tokens.push_back(p.piece());
    v.scores.push_back(p.score());
    v.types.push_back(token_type(p.type()));
  }
  return v;
}

bool parses_as_sentencepiece(std::span<const std::byte> bytes) {
  spm::ModelProto model;
  return bytes.size() <= kMaxSentencePieceBytes &&
         model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) &&
         model.pieces_size() > 0;
}

Vocab read_sentencepiece(const std::string& path) {
  auto file = MappedFile::open(path);
  return parse_sentencepiece(file->bytes(), path);
}

}  // namespace owl::tok
