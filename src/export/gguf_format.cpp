#include "export/gguf_format.h"

#include <stdexcept>

namespace gptforge {

GgufValue GgufValue::u32(uint32_t v) {
  GgufValue x;
  x.type = GgufType::U32;
  x.u = v;
  return x;
}
GgufValue GgufValue::i32(int32_t v) {
  GgufValue x;
  x.type = GgufType::I32;
  x.i = v;
  return x;
}
GgufValue GgufValue::u64(uint64_t v) {
  GgufValue x;
  x.type = GgufType::U64;
  x.u = v;
  return x;
}
GgufValue GgufValue::f32(float v) {
  GgufValue x;
  x.type = GgufType::F32;
  x.f = v;
  return x;
}
GgufValue GgufValue::boolean(bool v) {
  GgufValue x;
  x.type = GgufType::Bool;
  x.b = v;
  return x;
}
GgufValue GgufValue::str(std::string v) {
  GgufValue x;
  x.type = GgufType::String;
  x.s = std::move(v);
  return x;
}
GgufValue GgufValue::strings(const std::vector<std::string>& v) {
  GgufValue x;
  x.type = GgufType::Array;
  x.elem = GgufType::String;
  x.array.reserve(v.size());
  for (const auto& s : v) x.array.push_back(str(s));
  return x;
}
GgufValue GgufValue::f32s(const std::vector<float>& v) {
  GgufValue x;
  x.type = GgufType::Array;
  x.elem = GgufType::F32;
  x.array.reserve(v.size());
  for (float f : v) x.array.push_back(f32(f));
  return x;
}
GgufValue GgufValue::i32s(const std::vector<int32_t>& v) {
  GgufValue x;
  x.type = GgufType::Array;
  x.elem = GgufType::I32;
  x.array.reserve(v.size());
  for (int32_t i : v) x.array.push_back(i32(i));
  return x;
}

const char* ggml_type_name(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return "F32";
    case GgmlType::F16: return "F16";
    case GgmlType::BF16: return "BF16";
  }
  return "?";
}

size_t ggml_type_size(GgmlType t) { return t == GgmlType::F32 ? 4 : 2; }

GgmlType ggml_type_for(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return GgmlType::F32;
    case torch::kFloat16: return GgmlType::F16;
    case torch::kBFloat16: return GgmlType::BF16;
    default: throw std::invalid_argument(std::string("GGUF export cannot store dtype ") + c10::toString(t));
  }
}

torch::ScalarType torch_type_for(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return torch::kFloat32;
    case GgmlType::F16: return torch::kFloat16;
    case GgmlType::BF16: return torch::kBFloat16;
  }
  return torch::kFloat32;
}

}  // namespace gptforge
