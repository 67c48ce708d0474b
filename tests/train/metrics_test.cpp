#include "train/metrics.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "test_helpers.h"
#include "util/files.h"

namespace metrics_test {

using namespace gptforge;
using gptforge::testing::TempDir;

TEST(MetricsLog, AFreshRunKeepsTheOldFileAsideNamed) {
  // A run killed before its first checkpoint, then started again (not resumed): the new run's
  // records must not follow the old run's steps in the same file.
  TempDir dir;
  const std::string path = dir.write("metrics.jsonl", "{\"step\":1}\n{\"step\":2}\n");
  dir.write("metrics.jsonl.1", "{\"step\":9}\n");  // an earlier run's, kept before
  {
    MetricsLog log(path);
    EXPECT_EQ(log.aside(), path + ".2");
    log.write({{"step", 1}});
  }
  EXPECT_EQ(read_file(path), "{\"step\":1}\n");
  EXPECT_EQ(read_file(path + ".2"), "{\"step\":1}\n{\"step\":2}\n");
  EXPECT_EQ(read_file(path + ".1"), "{\"step\":9}\n");
}

TEST(MetricsLog, AResumedRunKeepsTheRecordsUpToItsCheckpoint) {
  TempDir dir;
  const std::string path = dir.write("metrics.jsonl", "{\"step\":1}\n{\"step\":2}\n{\"step\":3}\n");
  {
    MetricsLog log(path, 2);
    EXPECT_EQ(log.aside(), "");
    log.write({{"step", 3}});
  }
  EXPECT_EQ(read_file(path), "{\"step\":1}\n{\"step\":2}\n{\"step\":3}\n");
  EXPECT_FALSE(std::filesystem::exists(path + ".1"));
}

}  // namespace metrics_test
