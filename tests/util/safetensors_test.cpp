#include "util/safetensors.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_helpers.h"
#include "util/errors.h"
#include "util/files.h"

namespace safetensors_test {

using namespace gptforge;
using gptforge::testing::TempDir;

TEST(Safetensors, RoundTripsDtypesShapesAndMetadata) {
  TempDir dir;
  std::vector<std::pair<std::string, torch::Tensor>> tensors = {
      {"a", torch::randn({3, 5})},
      {"b.half", torch::randn({7}).to(torch::kFloat16)},
      {"c.bf16", torch::randn({2, 2, 2}).to(torch::kBFloat16)},
      {"ids", torch::arange(10, torch::kInt64)},
      {"empty", torch::zeros({0, 4})}};
  save_safetensors(dir.file("x.safetensors"), tensors, {{"format", "pt"}});
  SafetensorsFile back = load_safetensors(dir.file("x.safetensors"));
  ASSERT_EQ(back.tensors.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(back.tensors[i].first, tensors[i].first);
    EXPECT_EQ(back.tensors[i].second.scalar_type(), tensors[i].second.scalar_type());
    EXPECT_TRUE(torch::equal(back.tensors[i].second, tensors[i].second)) << tensors[i].first;
  }
  EXPECT_EQ(back.metadata.at("format"), "pt");
}

TEST(Safetensors, LayoutFollowsTheSpec) {
  std::string bytes = safetensors_bytes({{"w", torch::ones({2, 3})}, {"v", torch::ones({4}, torch::kFloat16)}});
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(static_cast<unsigned char>(bytes[i])) << (8 * i);
  EXPECT_EQ(n % 8, 0u);  // data starts 8-byte aligned
  auto header = nlohmann::json::parse(bytes.substr(8, n));
  EXPECT_EQ(header["w"]["dtype"], "F32");
  EXPECT_EQ(header["w"]["shape"], nlohmann::json({2, 3}));
  EXPECT_EQ(header["w"]["data_offsets"], nlohmann::json({0, 24}));
  EXPECT_EQ(header["v"]["dtype"], "F16");
  EXPECT_EQ(header["v"]["data_offsets"], nlohmann::json({24, 32}));
  EXPECT_EQ(bytes.size(), 8 + n + 32);
  float first;
  std::memcpy(&first, bytes.data() + 8 + n, 4);
  EXPECT_EQ(first, 1.0f);  // little-endian raw data
}

TEST(Safetensors, RejectsTruncatedAndMalformedFilesNamingThem) {
  TempDir dir;
  std::string good = safetensors_bytes({{"w", torch::randn({16, 16})}});
  auto expect_error = [&](const std::string& bytes, const std::string& fragment) {
    std::string path = dir.write("bad.safetensors", bytes);
    try {
      load_safetensors(path);
      ADD_FAILURE() << "accepted: " << fragment;
    } catch (const CheckpointError& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_error(good.substr(0, 5), "shorter than");
  expect_error(good.substr(0, good.size() - 10), "outside the file");
  expect_error(good + "xx", "trailing bytes");
  std::string broken = good;
  broken[8] = '!';  // the header's opening brace
  expect_error(broken, "not JSON");
  // A shape whose element count overflows 64 bits (2^32 x 2^32 wraps to 0 elements, which would
  // match empty data offsets) is refused by name, never handed to the allocator.
  std::string header = R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})";
  std::string overflow(8, '\0');
  for (int i = 0; i < 8; ++i) overflow[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  expect_error(overflow + header, "tensor 'w' has a shape too large");
}

}  // namespace safetensors_test
