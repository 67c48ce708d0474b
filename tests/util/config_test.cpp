#include "util/config.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "test_helpers.h"
#include "util/errors.h"

namespace config_test {

using gptforge::Config;
using gptforge::ConfigError;
using gptforge::load_config;
using gptforge::testing::TempDir;

namespace {

// The ConfigError message of loading `path` with `overrides`; fails the test when none is thrown.
std::string config_error(const std::string& path, const std::vector<std::string>& overrides = {}) {
  try {
    load_config(path, overrides);
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.exit_code(), 2);
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError for " << path;
  return "";
}

}  // namespace

TEST(Config, DefaultsValidate) {
  Config cfg = load_config("");
  EXPECT_EQ(cfg.model.family, "gpt2");
  EXPECT_EQ(cfg.model.position, "learned");
  EXPECT_EQ(cfg.run.threads, 0);
}

TEST(Config, FileValuesAndTypes) {
  TempDir dir;
  auto path = dir.write("c.yaml",
                        "model:\n  n_layer: 3\n  dropout: 0.25\n  bias: false\n"
                        "train:\n  max_tokens: 1e6\n  no_decay: [bias]\ndata:\n  inputs: a.txt\n");
  Config cfg = load_config(path);
  EXPECT_EQ(cfg.model.n_layer, 3);
  EXPECT_DOUBLE_EQ(cfg.model.dropout, 0.25);
  EXPECT_FALSE(cfg.model.bias);
  EXPECT_EQ(cfg.train.max_tokens, 1000000);
  EXPECT_EQ(cfg.train.no_decay, std::vector<std::string>{"bias"});
  EXPECT_EQ(cfg.data.inputs, std::vector<std::string>{"a.txt"});
}

TEST(Config, UnknownKeyNamesFileLineAndSuggests) {
  TempDir dir;
  auto path = dir.write("c.yaml", "model:\n  n_layer: 2\n  n_layr: 3\n");
  std::string msg = config_error(path);
  EXPECT_NE(msg.find(path + ":3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown key 'model.n_layr'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'model.n_layer'"), std::string::npos) << msg;
}

TEST(Config, KeyInWrongSectionSuggestsTheRightOne) {
  TempDir dir;
  auto path = dir.write("c.yaml", "train:\n  block_size: 64\n");
  std::string msg = config_error(path);
  EXPECT_NE(msg.find("did you mean 'model.block_size'"), std::string::npos) << msg;
}

TEST(Config, UnknownSectionSuggests) {
  TempDir dir;
  auto path = dir.write("c.yaml", "modle:\n  n_layer: 2\n");
  std::string msg = config_error(path);
  EXPECT_NE(msg.find(path + ":1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown section 'modle'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'model'"), std::string::npos) << msg;
}

TEST(Config, WrongTypeNamesKeyAndExpectation) {
  TempDir dir;
  auto path = dir.write("c.yaml", "run:\n  seed: 1\nmodel:\n  n_layer: many\n");
  std::string msg = config_error(path);
  EXPECT_NE(msg.find(path + ":4"), std::string::npos) << msg;
  EXPECT_NE(msg.find("model.n_layer: expected an integer, got 'many'"), std::string::npos) << msg;
  EXPECT_NE(config_error(dir.write("b.yaml", "model:\n  bias: maybe\n")).find("expected true or false"),
            std::string::npos);
  EXPECT_NE(config_error(dir.write("l.yaml", "data:\n  inputs: {a: 1}\n")).find("expected a list of strings"),
            std::string::npos);
}

TEST(Config, OutOfRangeAndBadChoice) {
  TempDir dir;
  std::string msg = config_error(dir.write("r.yaml", "model:\n  n_layer: 0\n"));
  EXPECT_NE(msg.find("model.n_layer: 0 is out of range [1, 1024]"), std::string::npos) << msg;
  msg = config_error(dir.write("c.yaml", "model:\n  norm: batchnorm\n"));
  EXPECT_NE(msg.find("model.norm: 'batchnorm' is not one of layernorm, rmsnorm"), std::string::npos) << msg;
  msg = config_error(dir.write("i.yaml", "train:\n  no_decay: [bias, weights]\n"));
  EXPECT_NE(msg.find("'weights' is not one of"), std::string::npos) << msg;
  msg = config_error("", {"sample.top_p=0"});
  EXPECT_NE(msg.find("sample.top_p"), std::string::npos) << msg;
}

TEST(Config, InvalidYamlNamesLine) {
  TempDir dir;
  auto path = dir.write("bad.yaml", "model:\n  n_layer: [1, 2\n");
  std::string msg = config_error(path);
  EXPECT_NE(msg.find(path + ":"), std::string::npos) << msg;
  EXPECT_NE(msg.find("invalid YAML"), std::string::npos) << msg;
}

TEST(Config, MissingFile) {
  std::string msg = config_error("/nonexistent/x.yaml");
  EXPECT_NE(msg.find("/nonexistent/x.yaml: config file not found"), std::string::npos) << msg;
}

TEST(Config, MissingRequiredKey) {
  Config cfg = load_config("");
  try {
    gptforge::require_keys(cfg, {"data.inputs"}, "gptforge prepare");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("missing required key data.inputs"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("gptforge prepare"), std::string::npos) << e.what();
  }
  cfg.data.inputs = {"x"};
  EXPECT_NO_THROW(gptforge::require_keys(cfg, {"data.inputs"}, "gptforge prepare"));
}

TEST(Config, CrossFieldChecksNameKeys) {
  std::string msg = config_error("", {"model.d_model=100", "model.n_head=3"});
  EXPECT_NE(msg.find("model.d_model (100) must be divisible by model.n_head (3)"), std::string::npos) << msg;
  msg = config_error("", {"model.n_head=6", "model.n_kv_head=4"});
  EXPECT_NE(msg.find("model.n_kv_head"), std::string::npos) << msg;
  msg = config_error("", {"model.family=llama", "model.d_model=30", "model.n_head=2"});
  EXPECT_NE(msg.find("even head size"), std::string::npos) << msg;
  msg = config_error("", {"train.min_lr=1", "train.learning_rate=0.1"});
  EXPECT_NE(msg.find("train.min_lr"), std::string::npos) << msg;
}

TEST(Config, OverridesWinAndAreChecked) {
  TempDir dir;
  auto path = dir.write("c.yaml", "model:\n  n_layer: 3\n");
  Config cfg = load_config(path, {"model.n_layer=5", "data.inputs=[a, b]", "sample.stop=END"});
  EXPECT_EQ(cfg.model.n_layer, 5);
  EXPECT_EQ(cfg.data.inputs, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(cfg.sample.stop, std::vector<std::string>{"END"});
  std::string msg = config_error(path, {"model.n_layr=5"});
  EXPECT_NE(msg.find("override 'model.n_layr=5'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'model.n_layer'"), std::string::npos) << msg;
  msg = config_error(path, {"n_layer"});
  EXPECT_NE(msg.find("expected key.path=value"), std::string::npos) << msg;
}

TEST(Config, BaseChainComposes) {
  TempDir dir;
  dir.write("base.yaml", "model:\n  n_layer: 2\n  d_model: 64\n  n_head: 4\ntrain:\n  batch_size: 8\n");
  dir.write("sub/mid.yaml", "base: ../base.yaml\nmodel:\n  n_layer: 3\n");
  auto top = dir.write("sub/top.yaml", "base: mid.yaml\ntrain:\n  batch_size: 4\n");
  Config cfg = load_config(top);
  EXPECT_EQ(cfg.model.n_layer, 3);  // mid overrides base
  EXPECT_EQ(cfg.model.d_model, 64);  // from base
  EXPECT_EQ(cfg.train.batch_size, 4);  // top overrides base
  EXPECT_EQ(load_config(top, {"model.n_layer=7"}).model.n_layer, 7);
}

TEST(Config, BaseLoopAndMissingBaseAreErrors) {
  TempDir dir;
  dir.write("a.yaml", "base: b.yaml\n");
  auto b = dir.write("b.yaml", "base: a.yaml\n");
  EXPECT_NE(config_error(b).find("loops back"), std::string::npos);
  auto c = dir.write("c.yaml", "base: nothere.yaml\n");
  EXPECT_NE(config_error(c).find("base config 'nothere.yaml' not found"), std::string::npos);
}

TEST(Config, FamilyPresetFillsStyleKeysButExplicitKeysWin) {
  Config llama = load_config("", {"model.family=llama", "model.d_model=64", "model.n_head=4"});
  EXPECT_EQ(llama.model.position, "rope");
  EXPECT_EQ(llama.model.norm, "rmsnorm");
  EXPECT_EQ(llama.model.activation, "swiglu");
  EXPECT_FALSE(llama.model.bias);
  EXPECT_FALSE(llama.model.tie_embeddings);
  TempDir dir;
  // The style key comes before the family in the file, and still wins over the preset.
  auto path = dir.write("c.yaml", "model:\n  norm: layernorm\n  family: llama\n  d_model: 64\n  n_head: 4\n");
  EXPECT_EQ(load_config(path).model.norm, "layernorm");
}

TEST(Config, ShowRoundTrips) {
  Config cfg = load_config("", {"model.family=llama", "model.d_model=96", "model.n_head=4", "model.norm=layernorm",
                                "train.learning_rate=0.0003", "sample.stop=[\"a b\", \"\\n\"]",
                                "sample.prompt=true", "train.no_decay=[]"});
  TempDir dir;
  std::string text = gptforge::config_to_yaml(cfg);
  auto path = dir.write("shown.yaml", text);
  Config back = load_config(path);
  EXPECT_EQ(gptforge::config_to_yaml(back), text);
  EXPECT_EQ(back.sample.prompt, "true");
  EXPECT_EQ(back.sample.stop, (std::vector<std::string>{"a b", "\n"}));
  EXPECT_DOUBLE_EQ(back.train.learning_rate, 0.0003);
  EXPECT_TRUE(back.train.no_decay.empty());
  EXPECT_EQ(back.model.norm, "layernorm");
}

TEST(Config, SchemaListsEveryKey) {
  std::string schema = gptforge::config_schema_text();
  for (const auto& path : gptforge::config_key_paths()) {
    std::string leaf = path.substr(path.find('.') + 1);
    EXPECT_NE(schema.find("  " + leaf + " ("), std::string::npos) << path;
  }
  EXPECT_GT(gptforge::config_key_paths().size(), 80u);
}

TEST(Config, DuplicateKeysAreRefusedNamingBothLines) {
  TempDir dir;
  auto path = dir.write("d.yaml", "model:\n  n_layer: 2\n  d_model: 64\n  n_layer: 4\n");
  std::string msg = config_error(path);
  EXPECT_NE(msg.find(path + ":4: key 'n_layer' is already set at line 2"), std::string::npos) << msg;
  path = dir.write("s.yaml", "model:\n  n_layer: 2\nrun:\n  seed: 1\nmodel:\n  d_model: 64\n");
  msg = config_error(path);
  EXPECT_NE(msg.find(path + ":5: key 'model' is already set at line 1"), std::string::npos) << msg;
}

TEST(Config, ASecondYamlDocumentIsRefusedNamingItsLine) {
  TempDir dir;
  auto path = dir.write("two.yaml", "---\nmodel:\n  n_layer: 2\n---\nmodel:\n  n_layer: 4\n");
  std::string msg = config_error(path);
  EXPECT_NE(msg.find(path + ":4: a second YAML document"), std::string::npos) << msg;
  path = dir.write("empty_second.yaml", "model:\n  n_layer: 2\n---\n");
  msg = config_error(path);
  EXPECT_NE(msg.find(path + ":3: a second YAML document"), std::string::npos) << msg;
  // One document that starts with '---' is fine.
  EXPECT_EQ(load_config(dir.write("one.yaml", "---\nmodel:\n  n_layer: 3\n")).model.n_layer, 3);
}

TEST(Config, ADirectoryAsConfigOrBaseIsAConfigErrorNamingIt) {
  TempDir dir;
  std::filesystem::create_directories(dir.file("configs"));
  std::string msg = config_error(dir.file("configs"));
  EXPECT_NE(msg.find(dir.file("configs") + ": is a directory, not a config file"), std::string::npos) << msg;
  auto path = dir.write("c.yaml", "base: configs\n");
  msg = config_error(path);
  EXPECT_NE(msg.find(path + ":1: base config 'configs' is a directory"), std::string::npos) << msg;
}

TEST(Config, AnEmptyOverrideValueIsReportedAsEmpty) {
  std::string msg = config_error("", {"model.n_layer="});
  EXPECT_NE(msg.find("model.n_layer: expected an integer, got an empty value"), std::string::npos) << msg;
}

}  // namespace config_test
