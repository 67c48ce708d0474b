#include <gtest/gtest.h>

#include <fstream>

#include "export/gguf_reader.h"
#include "export/gguf_writer.h"
#include "test_helpers.h"
#include "util/errors.h"
#include "util/files.h"

namespace gguf_test {

using namespace gptforge;
using gptforge::testing::TempDir;

namespace {

std::string read_error(const std::string& path) {
  try {
    read_gguf(path);
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

uint64_t le64(const std::string& b, size_t at) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t(static_cast<unsigned char>(b[at + i])) << (8 * i);
  return v;
}

}  // namespace

TEST(Gguf, WriterAndReaderRoundTripMetadataAndTensors) {
  TempDir dir;
  GgufWriter w;
  w.set("general.architecture", GgufValue::str("llama"));
  w.set("general.alignment", GgufValue::u32(32));
  w.set("a.u32", GgufValue::u32(4000000000u));
  w.set("a.i32", GgufValue::i32(-7));
  w.set("a.u64", GgufValue::u64(1ull << 40));
  w.set("a.f32", GgufValue::f32(0.25f));
  w.set("a.bool", GgufValue::boolean(true));
  w.set("a.strings", GgufValue::strings({"<s>", "\xE2\x96\x81the", ""}));
  w.set("a.floats", GgufValue::f32s({1.5f, -2.0f}));
  w.set("a.ints", GgufValue::i32s({1, 6, 3}));
  EXPECT_THROW(w.set("a.u32", GgufValue::u32(1)), std::invalid_argument);
  auto m = torch::randn({3, 5});  // odd sizes: the next tensor needs padding
  auto v = torch::randn({7});
  auto h = torch::randn({4, 2, 3});
  w.add_tensor("m", m, GgmlType::F32);
  w.add_tensor("v", v, GgmlType::F16);
  w.add_tensor("h", h, GgmlType::BF16);
  const std::string path = dir.file("x.gguf");
  const uint64_t size = w.write(path);

  std::string bytes = read_file(path);
  EXPECT_EQ(bytes.size(), size);
  EXPECT_EQ(bytes.substr(0, 4), "GGUF");
  EXPECT_EQ(bytes[4], 3);  // version 3, little-endian
  EXPECT_EQ(le64(bytes, 8), 3u);   // tensors
  EXPECT_EQ(le64(bytes, 16), 10u);  // metadata

  GgufFile f = read_gguf(path);
  EXPECT_EQ(f.version, 3u);
  EXPECT_EQ(f.alignment, 32u);
  EXPECT_EQ(f.data_start % 32, 0u);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_uint("a.u32"), 4000000000u);
  EXPECT_EQ(f.find("a.i32")->i, -7);
  EXPECT_EQ(f.get_uint("a.u64"), 1ull << 40);
  EXPECT_EQ(f.get_float("a.f32"), 0.25);
  EXPECT_TRUE(f.get_bool("a.bool"));
  const GgufValue* s = f.find("a.strings");
  ASSERT_EQ(s->array.size(), 3u);
  EXPECT_EQ(s->elem, GgufType::String);
  EXPECT_EQ(s->array[1].s, "\xE2\x96\x81the");
  EXPECT_EQ(f.find("a.floats")->array[1].f, -2.0);
  EXPECT_EQ(f.find("a.ints")->array[1].i, 6);
  EXPECT_THROW(f.get_string("a.u32"), DataError);
  EXPECT_THROW(f.get_uint("missing"), DataError);

  // dims innermost first; offsets aligned; data exact in its dtype.
  ASSERT_EQ(f.tensors.size(), 3u);
  EXPECT_EQ(f.tensor_info("m")->dims, (std::vector<int64_t>{5, 3}));
  EXPECT_EQ(f.tensor_info("h")->dims, (std::vector<int64_t>{3, 2, 4}));
  for (const auto& t : f.tensors) EXPECT_EQ(t.offset % 32, 0u) << t.name;
  EXPECT_EQ(f.tensor_info("v")->offset, 64u);  // 60 bytes of m, padded to 64
  EXPECT_TRUE(torch::equal(f.tensor("m"), m));
  EXPECT_TRUE(torch::equal(f.tensor("v"), v.to(torch::kHalf)));
  EXPECT_TRUE(torch::equal(f.tensor("h"), h.to(torch::kBFloat16)));
  EXPECT_EQ(f.tensor("h").sizes(), h.sizes());
}

TEST(Gguf, ReaderRejectsDamagedFilesByName) {
  TempDir dir;
  GgufWriter w;
  w.set("general.architecture", GgufValue::str("llama"));
  w.add_tensor("t", torch::ones({16, 16}), GgmlType::F32);
  const std::string good = dir.file("good.gguf");
  w.write(good);
  const std::string bytes = read_file(good);

  std::string e = read_error(dir.write("magic.gguf", "GGML" + bytes.substr(4)));
  EXPECT_NE(e.find("magic.gguf: not a valid GGUF file: no GGUF magic"), std::string::npos) << e;
  std::string v2 = bytes;
  v2[4] = 2;
  e = read_error(dir.write("v2.gguf", v2));
  EXPECT_NE(e.find("version 2"), std::string::npos) << e;
  e = read_error(dir.write("short.gguf", bytes.substr(0, bytes.size() - 10)));
  EXPECT_NE(e.find("runs past the end"), std::string::npos) << e;
  e = read_error(dir.write("header.gguf", bytes.substr(0, 30)));
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  e = read_error(dir.file("absent.gguf"));
  EXPECT_NE(e.find("absent.gguf"), std::string::npos) << e;
}

}  // namespace gguf_test
