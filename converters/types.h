// Element types: every float and integer type the formats store, and every ggml block type.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace owl {

enum class ElemType : uint8_t {
  // Plain element types.
  F64, F32, F16, BF16, F8_E4M3, F8_E5M2, F8_E4M3FNUZ, F8_E5M2FNUZ, F8_E8M0, F6_E2M3, F6_E3M2, F4, C64,
  I8, I16, I32, I64, U8, U16, U32, U64, BOOL,
  // ggml block types: `block_elems` weights packed into `block_bytes`.
  Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K,
  IQ2_XXS, IQ2_XS, IQ3_XXS, IQ1_S, IQ4_NL, IQ3_S, IQ2_S, IQ4_XS, IQ1_M, TQ1_0, TQ2_0,
  MXFP4, NVFP4, Q1_0, Q2_0,
};

enum class TypeKind : uint8_t { Float, Int, Bool, Quantized };

struct TypeInfo {
  ElemType type;
  std::string_view name;     // owl's and ggml's name: "F32", "Q4_K", "F8_E4M3"
  TypeKind kind;
  uint32_t block_elems;      // elements per block (1 for plain types)
  uint32_t block_bytes;      // bytes per block
  int ggml_id;               // ggml_type value, or -1 if GGUF cannot store it
  std::string_view st_name;  // safetensors dtype string, or empty if safetensors cannot store it
  // Where the packing constraint applies: ggml packs each row separately (the innermost
  // dimension must be a multiple of block_elems); sub-byte safetensors types pack the whole
  // tensor (only the total element count must be).
  bool packs_rows;
};

const TypeInfo& type_info(ElemType t);
std::span<const TypeInfo> all_types();
std::optional<ElemType> type_from_name(std::string_view name);  // case-insensitive
std::optional<ElemType> type_from_ggml_id(uint32_t id);
std::optional<ElemType> type_from_safetensors(std::string_view dtype);

inline std::string_view type_name(ElemType t) { return type_info(t).name; }
inline bool is_quantized(ElemType t) { return type_info(t).kind == TypeKind::Quantized; }

// Bytes taken by `elements` values of `t`, or nullopt if they do not fill whole blocks or the
// count overflows. For row-packed types the caller checks rows; this checks the total.
std::optional<uint64_t> bytes_for_elements(ElemType t, uint64_t elements);

// Bytes of a tensor of this shape (row-major, innermost last), or an explanation of why the
// shape cannot hold this type (a row not a multiple of the block, an overflowing count).
struct ShapeBytes {
  std::optional<uint64_t> bytes;
  std::string problem;
};
ShapeBytes bytes_for_shape(ElemType t, std::span<const uint64_t> shape);

}  // namespace owl
