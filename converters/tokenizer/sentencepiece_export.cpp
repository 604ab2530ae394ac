#include "converters/tokenizer/sentencepiece_export.h"

#include "converters/tokenizer/sentencepiece_model.pb.h"

namespace owl::tok {
namespace {

using Model = spm::ModelProto;
using Piece = spm::ModelProto::SentencePiece;

Piece::Type piece_type(TokenType t) {
  switch (t) {
    case TokenType::Unknown:
      return Piece::UNKNOWN;
    case TokenType::Control:
      return Piece::CONTROL;
    case TokenType::UserDefined:
      return Piece::USER_DEFINED;
    case TokenType::Unused:
      return Piece::UNUSED;
    case TokenType::Byte:
      return Piece::BYTE;
    default:
      return Piece::NORMAL;
  }
}

bool in_range(std::optional<int64_t> id, size_t n) {
  return id && *id >= 0 && static_cast<uint64_t>(*id) < n;
}

}  // namespace

std::optional<int64_t> sentencepiece_unknown_id(std::span<const std::string> tokens,
                                                std::span<const TokenType> types,
                                                std::optional<int64_t> unknown_token_id) {
  if (in_range(unknown_token_id, tokens.size())) return unknown_token_id;
  for (size_t i = 0; i < types.size(); ++i)
    if (types[i] == TokenType::Unknown) return static_cast<int64_t>(i);
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] == "<unk>") return static_cast<int64_t>(i);
  return std::nullopt;
}

std::string sentencepiece_model_bytes(const SentencePieceVocabView& v, std::string& why) {
  Model model;
  bool has_bytes = false;
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    if (v.tokens[i].empty()) {
      why = "token " + std::to_string(i) + " is empty, which SentencePiece cannot hold";
      return {};
    }
    Piece::Type type = piece_type(v.types[i]);
    if (static_cast<int64_t>(i) == v.unk) {
      type = Piece::UNKNOWN;
    } else if (type == Piece::UNKNOWN) {
      why = "tokens " + std::to_string(v.unk) + " and " + std::to_string(i) +
            " are both unknown tokens; SentencePiece has one";
      return {};
    }
    has_bytes = has_bytes || type == Piece::BYTE;
    Piece* p = model.add_pieces();
    p->set_piece(v.tokens[i]);
    p->set_score(v.scores[i]);
    p->set_type(type);
  }
  auto* trainer = model.mutable_trainer_spec();
  trainer->set_model_type(Model::TrainerSpec::BPE);
  trainer->set_vocab_size(static_cast<int32_t>(v.tokens.size()));
  trainer->set_byte_fallback(has_bytes);
  // -1 is SentencePiece's "none" for the optional specials.
  auto id_or_none = [](std::optional<int64_t> id) { return id ? static_cast<int32_t>(*id) : -1; };
  trainer->set_unk_id(static_cast<int32_t>(v.unk));
  trainer->set_unk_piece(v.tokens[v.unk]);
  trainer->set_bos_id(id_or_none(v.bos));
  trainer->set_eos_id(id_or_none(v.eos));
  trainer->set_pad_id(id_or_none(v.pad));
  if (v.bos) trainer->set_bos_piece(v.tokens[*v.bos]);
  if (v.eos) trainer->set_eos_piece(v.tokens[*v.eos]);
  if (v.pad) trainer->set_pad_piece(v.tokens[*v.pad]);
  // llama.cpp keeps every space (no collapsing) and marks them U+2581, as Llama's model does.
  auto* norm = model.mutable_normalizer_spec();
  norm->set_name("identity");
  norm->set_add_dummy_prefix(v.add_dummy_prefix);
  norm->set_remove_extra_whitespaces(false);
  norm->set_escape_whitespaces(true);
  std::string out;
  model.SerializeToString(&out);
  return out;
}

}  // namespace owl::tok
