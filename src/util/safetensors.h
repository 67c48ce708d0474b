// safetensors: an 8-byte little-endian header length, a JSON header mapping each tensor name to
// {dtype, shape, data_offsets} (plus an optional "__metadata__" of string pairs), then the raw
// little-endian tensor bytes with no gaps. Checkpoints and the Hugging Face export both use it, so
// any tool can read gptforge weights without gptforge.
#pragma once
#include <torch/torch.h>

#include <map>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace gptforge {

struct SafetensorsFile {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;  // in file order
  std::map<std::string, std::string> metadata;

  const torch::Tensor* find(const std::string& name) const;
};

// safetensors dtype names ("F32", "BF16", ...) for torch dtypes, and back.
std::string safetensors_dtype(torch::ScalarType t);
torch::ScalarType torch_dtype_from_safetensors(const std::string& name);  // throws std::invalid_argument

// Serialises tensors (moved to CPU, made contiguous) in the given order onto `out`, a tensor at a
// time; safetensors_bytes returns the same bytes as one string.
void write_safetensors(std::ostream& out, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});
std::string safetensors_bytes(const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata = {});
// Writes atomically (temporary file, fsync, rename).
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});
// Reads and validates (header size, JSON, dtypes, shapes against byte ranges, contiguous offsets
// covering the data exactly). Throws CheckpointError naming the file and the problem.
SafetensorsFile load_safetensors(const std::string& path);
SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& name_for_errors);

}  // namespace gptforge
