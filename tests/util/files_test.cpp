#include "util/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "test_helpers.h"
#include "util/errors.h"

namespace files_test {

using namespace gptforge;
using gptforge::testing::TempDir;

namespace {
std::string input_error(const std::vector<std::string>& inputs) {
  try {
    expand_inputs(inputs);
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Files, SpecialFilesAreRefusedAsInputsNamingThem) {
  // A FIFO blocks in open() until a writer comes; /dev/zero never ends.
  TempDir dir;
  const std::string fifo = dir.file("pipe");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string text = dir.write("a.txt", "text\n");
  std::string msg = input_error({text, fifo});
  EXPECT_NE(msg.find(fifo + ": is a FIFO, not a regular file"), std::string::npos) << msg;
  msg = input_error({"/dev/zero"});
  EXPECT_NE(msg.find("/dev/zero: is a device, not a regular file"), std::string::npos) << msg;
  EXPECT_THROW(read_file("/dev/zero"), DataError);  // would read until memory runs out
  // Regular files and directories pass; a directory's special files are skipped as before.
  EXPECT_EQ(expand_inputs({text}), std::vector<std::string>{text});
  EXPECT_EQ(expand_inputs({dir.path()}), std::vector<std::string>{text});
}

TEST(Files, LargeFilesReadAndHashBlockByBlockAsOneBuffer) {
  // Over three of fnv1a64_file's 1 MiB blocks, ending mid-block, with every byte value.
  TempDir dir;
  std::string content(3 * (size_t(1) << 20) + 17, '\0');
  uint32_t x = 12345;
  for (auto& c : content) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  const std::string path = dir.write("big.bin", content);
  EXPECT_EQ(read_file(path), content);
  EXPECT_EQ(fnv1a64_file(path), fnv1a64(content.data(), content.size()));
  EXPECT_EQ(fnv1a64_file(dir.write("empty.bin", "")), kFnvOffset);
  EXPECT_NE(fnv1a64_file(path), fnv1a64(content.data(), content.size() - 1));
  try {
    fnv1a64_file(dir.file("missing.bin"));
    ADD_FAILURE() << "a missing file hashed";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("missing.bin: cannot open (no such file)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(fnv1a64_file("/dev/zero"), DataError);  // would never end
}

}  // namespace files_test
