#include "export/gguf_reader.h"

#include <algorithm>
#include <cstring>

#include "util/errors.h"
#include "util/files.h"

namespace gptforge {

namespace {

// Bounds-checked little-endian reads over the file's bytes.
class Cursor {
 public:
  Cursor(const std::string& bytes, const std::string& path) : b_(bytes), path_(path) {}

  template <class T>
  T get() {
    need(sizeof(T), "a value");
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string get_string(const char* what) {
    const uint64_t n = get<uint64_t>();
    need(n, what);
    std::string s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  GgufValue get_value(GgufType type, int depth = 0) {
    GgufValue v;
    v.type = type;
    switch (type) {
      case GgufType::U8: v.u = get<uint8_t>(); break;
      case GgufType::I8: v.i = get<int8_t>(); break;
      case GgufType::U16: v.u = get<uint16_t>(); break;
      case GgufType::I16: v.i = get<int16_t>(); break;
      case GgufType::U32: v.u = get<uint32_t>(); break;
      case GgufType::I32: v.i = get<int32_t>(); break;
      case GgufType::F32: v.f = get<float>(); break;
      case GgufType::Bool: {
        uint8_t x = get<uint8_t>();
        if (x > 1) fail("a bool value is neither 0 nor 1");
        v.b = x == 1;
        break;
      }
      case GgufType::String: v.s = get_string("a string value"); break;
      case GgufType::U64: v.u = get<uint64_t>(); break;
      case GgufType::I64: v.i = get<int64_t>(); break;
      case GgufType::F64: v.f = get<double>(); break;
      case GgufType::Array: {
        if (depth > 0) fail("nested arrays are not supported");
        v.elem = checked_type(get<uint32_t>());
        const uint64_t n = get<uint64_t>();
        if (n > b_.size() - pos_) fail("an array claims more elements than the file holds");
        // Reserve no more than a bounded start: a damaged count must fail as a truncated file, not
        // as an allocation of sizeof(GgufValue) times the file's size.
        v.array.reserve(std::min<uint64_t>(n, 4096));
        for (uint64_t i = 0; i < n; ++i) v.array.push_back(get_value(v.elem, depth + 1));
        break;
      }
    }
    return v;
  }
  GgufType checked_type(uint32_t t) {
    if (t > static_cast<uint32_t>(GgufType::F64)) fail("unknown metadata value type " + std::to_string(t));
    return static_cast<GgufType>(t);
  }
  uint64_t pos() const { return pos_; }
  [[noreturn]] void fail(const std::string& what) const {
    throw DataError(path_ + ": not a valid GGUF file: " + what + " (at byte " + std::to_string(pos_) + ")");
  }

 private:
  void need(uint64_t n, const char* what) const {
    if (n > b_.size() - pos_) fail(std::string("truncated while reading ") + what);
  }
  const std::string& b_;
  const std::string& path_;
  uint64_t pos_ = 0;
};

}  // namespace

const GgufValue* GgufFile::find(const std::string& key) const {
  for (const auto& [k, v] : kv) {
    if (k == key) return &v;
  }
  return nullptr;
}

namespace {
const GgufValue& need_key(const GgufFile& f, const std::string& key) {
  const GgufValue* v = f.find(key);
  if (!v) throw DataError(f.path + ": GGUF metadata has no key '" + key + "'");
  return *v;
}
}  // namespace

uint64_t GgufFile::get_uint(const std::string& key) const {
  const GgufValue& v = need_key(*this, key);
  if (v.type != GgufType::U8 && v.type != GgufType::U16 && v.type != GgufType::U32 && v.type != GgufType::U64) {
    throw DataError(path + ": GGUF key '" + key + "' is not an unsigned integer");
  }
  return v.u;
}

double GgufFile::get_float(const std::string& key) const {
  const GgufValue& v = need_key(*this, key);
  if (v.type != GgufType::F32 && v.type != GgufType::F64) {
    throw DataError(path + ": GGUF key '" + key + "' is not a float");
  }
  return v.f;
}

const std::string& GgufFile::get_string(const std::string& key) const {
  const GgufValue& v = need_key(*this, key);
  if (v.type != GgufType::String) throw DataError(path + ": GGUF key '" + key + "' is not a string");
  return v.s;
}

bool GgufFile::get_bool(const std::string& key) const {
  const GgufValue& v = need_key(*this, key);
  if (v.type != GgufType::Bool) throw DataError(path + ": GGUF key '" + key + "' is not a bool");
  return v.b;
}

const GgufTensorInfo* GgufFile::tensor_info(const std::string& name) const {
  for (const auto& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

torch::Tensor GgufFile::tensor(const std::string& name) const {
  const GgufTensorInfo* info = tensor_info(name);
  if (!info) throw DataError(path + ": GGUF file has no tensor '" + name + "'");
  std::vector<int64_t> shape(info->dims.rbegin(), info->dims.rend());
  auto t = torch::empty(shape, torch::TensorOptions().dtype(torch_type_for(info->type)));
  std::memcpy(t.data_ptr(), bytes.data() + data_start + info->offset, info->nbytes);
  return t;
}

GgufFile read_gguf(const std::string& path) {
  GgufFile f;
  f.path = path;
  f.bytes = read_file(path);
  Cursor c(f.bytes, f.path);
  if (f.bytes.size() < 4 || f.bytes.compare(0, 4, "GGUF") != 0) c.fail("no GGUF magic");
  c.get<uint32_t>();  // the magic
  f.version = c.get<uint32_t>();
  if (f.version != kGgufVersion) c.fail("version " + std::to_string(f.version) + ", gptforge reads version 3");
  const uint64_t n_tensors = c.get<uint64_t>();
  const uint64_t n_kv = c.get<uint64_t>();
  if (n_tensors > f.bytes.size() || n_kv > f.bytes.size()) c.fail("impossible tensor or metadata count");
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.get_string("a metadata key");
    GgufType type = c.checked_type(c.get<uint32_t>());
    if (f.find(key)) c.fail("metadata key '" + key + "' appears twice");
    f.kv.emplace_back(std::move(key), c.get_value(type));
  }
  if (const GgufValue* a = f.find("general.alignment")) {
    if (a->type != GgufType::U32 || a->u == 0 || (a->u & (a->u - 1)) != 0) {
      c.fail("general.alignment must be a power-of-two u32");
    }
    f.alignment = a->u;
  }
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    t.name = c.get_string("a tensor name");
    const uint32_t n_dims = c.get<uint32_t>();
    if (n_dims == 0 || n_dims > 4) c.fail("tensor '" + t.name + "' has " + std::to_string(n_dims) + " dimensions");
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t n = c.get<uint64_t>();
      if (n == 0 || n > f.bytes.size()) c.fail("tensor '" + t.name + "' has an impossible dimension");
      t.dims.push_back(static_cast<int64_t>(n));
      numel *= n;
    }
    const uint32_t type = c.get<uint32_t>();
    if (type != static_cast<uint32_t>(GgmlType::F32) && type != static_cast<uint32_t>(GgmlType::F16) &&
        type != static_cast<uint32_t>(GgmlType::BF16)) {
      c.fail("tensor '" + t.name + "' has ggml type " + std::to_string(type) + " (gptforge reads F32, F16, BF16)");
    }
    t.type = static_cast<GgmlType>(type);
    t.offset = c.get<uint64_t>();
    t.nbytes = numel * ggml_type_size(t.type);
    if (f.tensor_info(t.name)) c.fail("tensor '" + t.name + "' appears twice");
    f.tensors.push_back(std::move(t));
  }
  f.data_start = (c.pos() + f.alignment - 1) / f.alignment * f.alignment;
  if (f.data_start > f.bytes.size()) c.fail("truncated before the tensor data");
  for (uint64_t p = c.pos(); p < f.data_start; ++p) {
    if (f.bytes[p] != '\0') c.fail("non-zero padding before the tensor data");
  }
  // Tensor data: aligned, inside the file, no overlaps.
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  const uint64_t data_size = f.bytes.size() - f.data_start;
  for (const auto& t : f.tensors) {
    if (t.offset % f.alignment != 0) c.fail("tensor '" + t.name + "' data is not aligned to " + std::to_string(f.alignment));
    if (t.offset > data_size || t.nbytes > data_size - t.offset) c.fail("tensor '" + t.name + "' data runs past the end");
    ranges.emplace_back(t.offset, t.offset + t.nbytes);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second) c.fail("tensor data ranges overlap");
  }
  return f;
}

}  // namespace gptforge
