#include "util/safetensors.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <sstream>
#include <stdexcept>

#include "util/errors.h"
#include "util/files.h"

namespace gptforge {

namespace {
const std::vector<std::pair<std::string, torch::ScalarType>>& dtype_table() {
  static const std::vector<std::pair<std::string, torch::ScalarType>> table = {
      {"F64", torch::kFloat64}, {"F32", torch::kFloat32}, {"F16", torch::kFloat16}, {"BF16", torch::kBFloat16},
      {"I64", torch::kInt64},   {"I32", torch::kInt32},   {"I16", torch::kInt16},   {"I8", torch::kInt8},
      {"U8", torch::kUInt8},    {"BOOL", torch::kBool}};
  return table;
}
}  // namespace

const torch::Tensor* SafetensorsFile::find(const std::string& name) const {
  for (const auto& [n, t] : tensors) {
    if (n == name) return &t;
  }
  return nullptr;
}

std::string safetensors_dtype(torch::ScalarType t) {
  for (const auto& [name, type] : dtype_table()) {
    if (type == t) return name;
  }
  throw std::invalid_argument(std::string("safetensors cannot store dtype ") + c10::toString(t));
}

torch::ScalarType torch_dtype_from_safetensors(const std::string& name) {
  for (const auto& [n, type] : dtype_table()) {
    if (n == name) return type;
  }
  throw std::invalid_argument("unsupported safetensors dtype '" + name + "'");
}

void write_safetensors(std::ostream& out, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    const uint64_t nbytes = static_cast<uint64_t>(tensor.numel()) * tensor.element_size();
    header[name] = {{"dtype", safetensors_dtype(tensor.scalar_type())},
                    {"shape", tensor.sizes().vec()},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string json = header.dump();
  // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
  json.append((8 - json.size() % 8) % 8, ' ');
  char length[8];
  const uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) length[i] = static_cast<char>((n >> (8 * i)) & 0xff);  // little-endian
  out.write(length, 8);
  out.write(json.data(), static_cast<std::streamsize>(json.size()));
  // One tensor at a time: only one CPU copy (of a GPU or non-contiguous tensor) exists at once.
  for (const auto& [name, tensor] : tensors) {
    const torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
    out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
  }
}

std::string safetensors_bytes(const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  std::ostringstream out;
  write_safetensors(out, tensors, metadata);
  return out.str();
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  write_file_atomic(path, safetensors_bytes(tensors, metadata));
}

SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& file) {
  auto bad = [&](const std::string& what) { return CheckpointError(file + ": not a valid safetensors file: " + what); };
  if (bytes.size() < 8) throw bad("shorter than its 8-byte header length (truncated?)");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(static_cast<unsigned char>(bytes[i])) << (8 * i);
  if (n > bytes.size() - 8) throw bad("header length " + std::to_string(n) + " exceeds the file (truncated?)");
  nlohmann::ordered_json header;
  try {
    header = nlohmann::ordered_json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(n));
  } catch (const nlohmann::json::exception& e) {
    throw bad(std::string("header is not JSON (") + e.what() + ")");
  }
  if (!header.is_object()) throw bad("header is not a JSON object");
  const uint64_t data_start = 8 + n, data_size = bytes.size() - data_start;
  SafetensorsFile out;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string()) throw bad("metadata values must be strings");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const auto& e = it.value();
    try {
      torch::ScalarType dtype = torch_dtype_from_safetensors(e.at("dtype").get<std::string>());
      std::vector<int64_t> shape = e.at("shape").get<std::vector<int64_t>>();
      auto offs = e.at("data_offsets").get<std::vector<uint64_t>>();
      if (offs.size() != 2 || offs[0] > offs[1] || offs[1] > data_size) {
        throw bad("tensor '" + it.key() + "' has data offsets outside the file (truncated?)");
      }
      int64_t numel = 1;
      for (int64_t d : shape) {
        if (d < 0) throw bad("tensor '" + it.key() + "' has a negative dimension");
        // An element count that wraps around could match the data offsets and reach the allocator.
        if (__builtin_mul_overflow(numel, d, &numel)) throw bad("tensor '" + it.key() + "' has a shape too large");
      }
      uint64_t expect = 0;
      if (__builtin_mul_overflow(static_cast<uint64_t>(numel), static_cast<uint64_t>(c10::elementSize(dtype)), &expect)) {
        throw bad("tensor '" + it.key() + "' has a shape too large");
      }
      if (offs[1] - offs[0] != expect) {
        throw bad("tensor '" + it.key() + "' holds " + std::to_string(offs[1] - offs[0]) + " bytes, its shape needs " +
                  std::to_string(expect));
      }
      auto t = torch::empty(shape, torch::TensorOptions().dtype(dtype));
      if (expect) std::memcpy(t.data_ptr(), bytes.data() + data_start + offs[0], expect);
      out.tensors.emplace_back(it.key(), t);
      ranges.emplace_back(offs[0], offs[1]);
    } catch (const nlohmann::json::exception& ex) {
      throw bad("entry '" + it.key() + "' is malformed (" + ex.what() + ")");
    } catch (const std::invalid_argument& ex) {
      throw bad(ex.what());
    }
  }
  // The data section must be covered exactly, without gaps or overlaps.
  std::sort(ranges.begin(), ranges.end());
  uint64_t pos = 0;
  for (const auto& [b, e] : ranges) {
    if (b != pos) throw bad("tensor data has a gap or an overlap at byte " + std::to_string(b));
    pos = e;
  }
  if (pos != data_size) throw bad("file has " + std::to_string(data_size - pos) + " trailing bytes after the tensors");
  return out;
}

SafetensorsFile load_safetensors(const std::string& path) {
  std::string bytes;
  try {
    bytes = read_file(path);
  } catch (const DataError& e) {
    throw CheckpointError(e.what());
  }
  return parse_safetensors(bytes, path);
}

}  // namespace gptforge
