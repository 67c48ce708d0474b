// Keys merged into one: the old name is refused with exit 2, naming the key that replaced it.
#include <gtest/gtest.h>

#include <algorithm>

#include "test_helpers.h"
#include "util/config.h"
#include "util/errors.h"

namespace config_merge_test {

using namespace gptforge;
using gptforge::testing::TempDir;

namespace {

std::string error_of(const std::string& path, const std::vector<std::string>& overrides = {}) {
  try {
    load_config(path, overrides);
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.exit_code(), 2);
    return e.what();
  }
  ADD_FAILURE() << "accepted";
  return "";
}

}  // namespace

TEST(ConfigMerge, OldKeysNameTheKeyThatReplacedThem) {
  const std::vector<std::pair<std::string, std::string>> merged = {
      {"tokenizer.inputs=a.txt", "tokenizer.inputs is now data.inputs"},
      {"tokenizer.format=jsonl", "tokenizer.format is now data.format"},
      {"tokenizer.jsonl_field=body", "tokenizer.jsonl_field is now data.jsonl_field"},
      {"tokenizer.threads=2", "tokenizer.threads is now data.threads"},
      {"train.sample_prompt=Once", "train.sample_prompt is now sample.prompt"},
      {"train.sample_tokens=8", "train.sample_tokens is now sample.max_new_tokens"}};
  for (const auto& [override_text, want] : merged) {
    const std::string msg = error_of("", {override_text});
    EXPECT_NE(msg.find("override '" + override_text + "': " + want), std::string::npos) << msg;
  }
  TempDir dir;
  const std::string path = dir.write("old.yaml", "tokenizer:\n  vocab_size: 300\n  inputs: [corpus]\n");
  EXPECT_NE(error_of(path).find(path + ":3: tokenizer.inputs is now data.inputs"), std::string::npos);
}

TEST(ConfigMerge, TheMergedKeysServeBothCommands) {
  Config cfg = load_config("", {"data.inputs=[a.txt, b.txt]", "data.threads=3", "sample.prompt=Once upon",
                                "sample.max_new_tokens=12"});
  EXPECT_EQ(cfg.data.inputs, (std::vector<std::string>{"a.txt", "b.txt"}));
  EXPECT_EQ(cfg.data.threads, 3);
  EXPECT_EQ(cfg.sample.prompt, "Once upon");
  EXPECT_EQ(cfg.sample.max_new_tokens, 12);
  const std::vector<std::string> keys = config_key_paths();
  for (const char* gone : {"tokenizer.inputs", "tokenizer.format", "tokenizer.jsonl_field", "tokenizer.threads",
                           "train.sample_prompt", "train.sample_tokens"}) {
    EXPECT_EQ(std::count(keys.begin(), keys.end(), gone), 0) << gone;
  }
}

}  // namespace config_merge_test
