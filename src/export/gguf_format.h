// The GGUF container (llama.cpp's model file), version 3, all little-endian:
//
//   "GGUF"  u32 version=3  u64 tensor_count  u64 kv_count
//   kv_count x  { string key, u32 value_type, value }           string = u64 length + bytes (no NUL)
//                                                               array  = u32 elem_type, u64 n, n values
//   tensor_count x { string name, u32 n_dims, u64 dims[n_dims], u32 ggml_type, u64 offset }
//   zero padding up to general.alignment (32 unless the metadata says otherwise)
//   tensor data: each tensor at data_start + offset, offsets multiples of the alignment
//
// dims are listed innermost first: a torch tensor of shape (out, in) has dims {in, out}.
// Shared by gguf_writer.h and gguf_reader.h.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace gptforge {

constexpr uint32_t kGgufVersion = 3;
constexpr uint64_t kGgufDefaultAlignment = 32;

enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8, Array = 9,
  U64 = 10, I64 = 11, F64 = 12,
};

// ggml tensor types gptforge writes and reads (unquantised only).
enum class GgmlType : uint32_t { F32 = 0, F16 = 1, BF16 = 30 };

// general.file_type values (llama_ftype): all f32, mostly f16, mostly bf16.
constexpr uint32_t kFileTypeAllF32 = 0;
constexpr uint32_t kFileTypeMostlyF16 = 1;
constexpr uint32_t kFileTypeMostlyBF16 = 32;

// llama.cpp's token types (tokenizer.ggml.token_type).
enum class GgufTokenType : int32_t { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

// One metadata value. Scalars use the member matching `type`; arrays hold their elements in `array`
// (all of type `elem`).
struct GgufValue {
  GgufType type = GgufType::U32;
  uint64_t u = 0;     // U8, U16, U32, U64
  int64_t i = 0;      // I8, I16, I32, I64
  double f = 0;       // F32, F64
  bool b = false;     // Bool
  std::string s;      // String
  GgufType elem = GgufType::U32;
  std::vector<GgufValue> array;

  static GgufValue u32(uint32_t v);
  static GgufValue i32(int32_t v);
  static GgufValue u64(uint64_t v);
  static GgufValue f32(float v);
  static GgufValue boolean(bool v);
  static GgufValue str(std::string v);
  static GgufValue strings(const std::vector<std::string>& v);
  static GgufValue f32s(const std::vector<float>& v);
  static GgufValue i32s(const std::vector<int32_t>& v);
};

const char* ggml_type_name(GgmlType t);
size_t ggml_type_size(GgmlType t);
GgmlType ggml_type_for(torch::ScalarType t);  // throws std::invalid_argument for others
torch::ScalarType torch_type_for(GgmlType t);

}  // namespace gptforge
