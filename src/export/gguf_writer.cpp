#include "export/gguf_writer.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <type_traits>
#include <stdexcept>

#include "util/errors.h"

namespace gptforge {

namespace {

// Little-endian encoders for the header.
template <class T>
void put(std::string& out, T v) {
  static_assert(std::is_trivially_copyable<T>::value, "plain values only");
  unsigned char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  std::reverse(b, b + sizeof(T));
#endif
  out.append(reinterpret_cast<const char*>(b), sizeof(T));
}

void put_string(std::string& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out += s;
}

void put_value(std::string& out, const GgufValue& v, GgufType type) {
  switch (type) {
    case GgufType::U8: put<uint8_t>(out, static_cast<uint8_t>(v.u)); break;
    case GgufType::I8: put<int8_t>(out, static_cast<int8_t>(v.i)); break;
    case GgufType::U16: put<uint16_t>(out, static_cast<uint16_t>(v.u)); break;
    case GgufType::I16: put<int16_t>(out, static_cast<int16_t>(v.i)); break;
    case GgufType::U32: put<uint32_t>(out, static_cast<uint32_t>(v.u)); break;
    case GgufType::I32: put<int32_t>(out, static_cast<int32_t>(v.i)); break;
    case GgufType::F32: put<float>(out, static_cast<float>(v.f)); break;
    case GgufType::Bool: put<uint8_t>(out, v.b ? 1 : 0); break;
    case GgufType::String: put_string(out, v.s); break;
    case GgufType::U64: put<uint64_t>(out, v.u); break;
    case GgufType::I64: put<int64_t>(out, v.i); break;
    case GgufType::F64: put<double>(out, v.f); break;
    case GgufType::Array:
      if (v.elem == GgufType::Array) throw std::invalid_argument("GGUF: nested arrays are not supported");
      put<uint32_t>(out, static_cast<uint32_t>(v.elem));
      put<uint64_t>(out, v.array.size());
      for (const auto& e : v.array) put_value(out, e, v.elem);
      break;
  }
}

uint64_t align_up(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

}  // namespace

void GgufWriter::set(const std::string& key, GgufValue value) {
  for (const auto& [k, v] : kv_) {
    if (k == key) throw std::invalid_argument("GGUF: metadata key '" + key + "' set twice");
  }
  kv_.emplace_back(key, std::move(value));
}

void GgufWriter::add_tensor(const std::string& name, const torch::Tensor& t, GgmlType type) {
  for (const auto& x : tensors_) {
    if (x.name == name) throw std::invalid_argument("GGUF: tensor '" + name + "' added twice");
  }
  tensors_.push_back({name, t.detach().to(torch::kCPU).to(torch_type_for(type)).contiguous(), type});
}

uint64_t GgufWriter::write(const std::string& path) const {
  // Header: magic, version, counts, metadata, tensor infos.
  std::string head = "GGUF";
  put<uint32_t>(head, kGgufVersion);
  put<uint64_t>(head, tensors_.size());
  put<uint64_t>(head, kv_.size());
  for (const auto& [key, value] : kv_) {
    put_string(head, key);
    put<uint32_t>(head, static_cast<uint32_t>(value.type));
    put_value(head, value, value.type);
  }
  uint64_t offset = 0;
  std::vector<uint64_t> offsets;
  for (const auto& t : tensors_) {
    put_string(head, t.name);
    put<uint32_t>(head, static_cast<uint32_t>(t.data.dim()));
    for (int64_t d = t.data.dim() - 1; d >= 0; --d) put<uint64_t>(head, static_cast<uint64_t>(t.data.size(d)));
    put<uint32_t>(head, static_cast<uint32_t>(t.type));
    put<uint64_t>(head, offset);
    offsets.push_back(offset);
    offset = align_up(offset + t.data.numel() * ggml_type_size(t.type), alignment_);
  }
  head.append(align_up(head.size(), alignment_) - head.size(), '\0');

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw DataError(path + ": cannot open for writing");
  out.write(head.data(), static_cast<std::streamsize>(head.size()));
  uint64_t written = 0;
  const std::string zeros(alignment_, '\0');
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const auto& t = tensors_[i];
    const uint64_t nbytes = t.data.numel() * ggml_type_size(t.type);
    out.write(static_cast<const char*>(t.data.data_ptr()), static_cast<std::streamsize>(nbytes));
    written = offsets[i] + nbytes;
    // Pad every tensor (the last one too, as llama.cpp's writer does) to the alignment.
    const uint64_t next = align_up(written, alignment_);
    out.write(zeros.data(), static_cast<std::streamsize>(next - written));
    written = next;
  }
  out.flush();
  if (!out) throw DataError(path + ": write failed (disk full?)");
  return head.size() + written;
}

}  // namespace gptforge
