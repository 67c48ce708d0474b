// Writes a GGUF v3 file (layout in gguf_format.h): metadata key/values and unquantised tensors,
// streamed to disk in file order, so memory stays at one tensor beyond the model itself.
#pragma once
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "export/gguf_format.h"

namespace gptforge {

class GgufWriter {
 public:
  explicit GgufWriter(uint64_t alignment = kGgufDefaultAlignment) : alignment_(alignment) {}

  // Metadata, written in the order added. A key added twice is an error (std::invalid_argument).
  void set(const std::string& key, GgufValue value);
  // A tensor stored as `type` (the torch tensor is converted). Shape is the torch shape; the file
  // lists it reversed.
  void add_tensor(const std::string& name, const torch::Tensor& t, GgmlType type);

  // Writes the whole file to `path` (not atomically: callers write to a temporary name and rename).
  // Returns the number of bytes written. Throws DataError when the file cannot be written.
  uint64_t write(const std::string& path) const;

  uint64_t alignment() const { return alignment_; }

 private:
  struct Tensor {
    std::string name;
    torch::Tensor data;  // contiguous, CPU, already of the target dtype
    GgmlType type;
  };
  uint64_t alignment_;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<Tensor> tensors_;
};

}  // namespace gptforge
