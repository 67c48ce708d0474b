// Reads a GGUF v3 file (layout in gguf_format.h) and checks it: magic, version, every length within
// the file, known value and tensor types, tensor data aligned, inside the file and not overlapping.
// Used by the tests and by anyone who wants to look inside an export without llama.cpp.
#pragma once
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "export/gguf_format.h"

namespace gptforge {

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> dims;  // innermost first, as in the file
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;        // from the start of the data section
  uint64_t nbytes = 0;
};

struct GgufFile {
  std::string path;
  uint32_t version = 0;
  uint64_t alignment = kGgufDefaultAlignment;
  uint64_t data_start = 0;  // file offset of the data section
  std::vector<std::pair<std::string, GgufValue>> kv;
  std::vector<GgufTensorInfo> tensors;
  std::string bytes;  // the whole file

  // The value of `key`, or nullptr.
  const GgufValue* find(const std::string& key) const;
  // Typed look-ups; throw DataError naming the file when the key is missing or of another type.
  uint64_t get_uint(const std::string& key) const;  // any unsigned integer type
  double get_float(const std::string& key) const;   // F32 / F64
  const std::string& get_string(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  const GgufTensorInfo* tensor_info(const std::string& name) const;
  // The tensor in torch shape (dims reversed) and its stored dtype. Throws DataError when absent.
  torch::Tensor tensor(const std::string& name) const;
};

// Throws DataError naming the file and the problem.
GgufFile read_gguf(const std::string& path);

}  // namespace gptforge
