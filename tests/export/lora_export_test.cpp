// LoRA adapters through checkpoints and export: saved under PEFT's names beside the frozen base,
// read back exactly, and merged (W + (alpha / r) B A) by everything that loads a model: load_model,
// `gptforge lora merge` and `gptforge export`.
#include <gtest/gtest.h>

#include <filesystem>

#include "checkpoint/adapters.h"
#include "checkpoint/loaded_model.h"
#include "export/export.h"
#include "export/export_test_helpers.h"
#include "export/tensor_mapping.h"
#include "model/lora.h"
#include "util/errors.h"

namespace lora_export_test {

using namespace gptforge;
using namespace gptforge::testing;
namespace fs = std::filesystem;

namespace {

Config lora_config(std::vector<std::string> overrides, const std::string& targets) {
  overrides.push_back("lora.rank=4");
  overrides.push_back("lora.alpha=8");
  overrides.push_back("lora.targets=" + targets);
  return tiny_export_config(overrides);
}

// tiny_model with adapters as training leaves them: A as initialised, B random (at init it is zero
// and the update vanishes), of the size of tiny_model's perturbation of the base weights.
GPT adapted_model(const Config& cfg) {
  GPT model = tiny_model(cfg.model);
  model->add_lora(cfg.lora);
  torch::NoGradGuard no_grad;
  for (auto& [name, p] : model->lora_parameters()) {
    if (name.find("lora_B") != std::string::npos) p.normal_(0.0, 0.1);
  }
  model->eval();
  return model;
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

}  // namespace

TEST(LoraCheckpoint, AdaptersHaveTheirOwnFileUnderPeftNamesAndRoundTripExactly) {
  TempDir dir;
  Config cfg = lora_config(llama_overrides(), "[q, v, down]");
  GPT model = adapted_model(cfg);
  const std::string ck = save_tiny_checkpoint(dir.file("run"), model, cfg);

  SafetensorsFile base = load_safetensors(ck + "/model.safetensors");
  for (const auto& [name, t] : base.tensors) EXPECT_FALSE(is_lora_parameter(name)) << name;
  SafetensorsFile adapters = load_safetensors(ck + "/" + kAdapterFile);
  EXPECT_EQ(adapters.tensors.size(), 2u * 3u * 2u);  // A and B, 3 targets, 2 layers
  const torch::Tensor* a = adapters.find("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->sizes(), (std::vector<int64_t>{4, 32}));
  ASSERT_NE(adapters.find("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"), nullptr);
  EXPECT_EQ(adapters.metadata.at("rank"), "4");

  // Back into a fresh adapted model: base weights, then adapters.
  LoadedCheckpoint back = load_checkpoint(ck);
  GPT loaded(back.config.model);
  loaded->add_lora(back.config.lora);
  load_weights(*loaded, back.weights, ck);
  load_adapters(loaded, back.adapters, ck);
  auto params = loaded->named_parameters();
  for (const auto& p : model->named_parameters()) EXPECT_TRUE(torch::equal(params[p.key()], p.value())) << p.key();
}

TEST(LoraCheckpoint, Gpt2AdaptersUseHuggingFaceNamesWhereTheLayerHasOne) {
  Config cfg = lora_config(gpt2_overrides(), "[q, o, fc, proj]");
  EXPECT_EQ(adapter_file_name("h.1.attn.o_proj_lora.lora_A", cfg.model),
            "base_model.model.transformer.h.1.attn.c_proj.lora_A.weight");
  EXPECT_EQ(adapter_file_name("h.0.mlp.fc_lora.lora_B", cfg.model), "base_model.model.transformer.h.0.mlp.c_fc.lora_B.weight");
  // GPT-2 fuses q, k and v into c_attn: no PEFT name, gptforge's.
  EXPECT_EQ(adapter_file_name("h.0.attn.q_proj_lora.lora_A", cfg.model), "h.0.attn.q_proj.lora_A.weight");
  for (const char* p : {"h.1.attn.o_proj_lora.lora_A", "h.0.mlp.fc_lora.lora_B", "h.0.attn.q_proj_lora.lora_A"}) {
    EXPECT_EQ(adapter_parameter_name(adapter_file_name(p, cfg.model), cfg.model, "f"), p);
  }
}

// The PEFT module names are the Hugging Face tensor names of export's tables without ".weight".
TEST(LoraCheckpoint, PeftNamesAgreeWithTheExportTables) {
  for (const auto& overrides : {gpt2_overrides(), llama_overrides()}) {
    Config cfg = lora_config(overrides, "[o]");
    const Family f = expressible_family(cfg.model, "hf");
    for (const auto& row : tensor_names(f)) {
      std::string name = row.gptforge;
      if (name.find("{}") == std::string::npos || name.size() < 7 || name.substr(name.size() - 7) != ".weight") continue;
      name.replace(name.find("{}"), 2, "1");
      const std::string module = name.substr(0, name.size() - 7);
      if (module.find("ln_") != std::string::npos) continue;
      std::string hf = row.hf;
      hf.replace(hf.find("{}"), 2, "1");
      const std::string file = adapter_file_name(module + "_lora.lora_A", cfg.model);
      if (row.parts > 1) {  // fused in Hugging Face: no PEFT name
        EXPECT_EQ(file, module + ".lora_A.weight");
      } else {
        EXPECT_EQ(file, "base_model.model." + hf.substr(0, hf.size() - 7) + ".lora_A.weight") << name;
      }
    }
  }
}

class LoraMerge : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(LoraMerge, LoadModelLoraMergeAndExportAllGiveTheAdaptedLogits) {
  TempDir dir;
  const bool gated = GetParam() == llama_overrides();
  Config cfg = lora_config(GetParam(), gated ? "[q, k, v, o, gate, up, down]" : "[q, k, v, o, fc, proj]");
  GPT model = adapted_model(cfg);
  const torch::Tensor want = probe_logits(model);
  GPT base = tiny_model(cfg.model);  // the same seeded base, without adapters
  EXPECT_GT(max_diff(probe_logits(base), want), 1e-2);  // the adapters do change the logits
  const std::string ck = save_tiny_checkpoint(dir.file("run"), model, cfg);

  LoadedModel loaded = gptforge::load_model(ck, torch::kCPU);
  EXPECT_EQ(loaded.config.lora.rank, 0);
  EXPECT_LE(max_diff(probe_logits(loaded.model), want), 1e-5);

  // gptforge lora merge: a plain checkpoint, no adapters, loadable as any other.
  const std::string merged = merge_lora_checkpoint(ck, dir.file("merged"), false);
  EXPECT_FALSE(fs::exists(merged + "/" + kAdapterFile));
  LoadedCheckpoint plain = load_checkpoint(dir.file("merged"));
  EXPECT_EQ(plain.config.lora.rank, 0);
  EXPECT_TRUE(plain.adapters.tensors.empty());
  GPT merged_model = gptforge::testing::load_model(dir.file("merged"));
  EXPECT_LE(max_diff(probe_logits(merged_model), want), 1e-5);
  EXPECT_THROW(merge_lora_checkpoint(ck, dir.file("merged"), false), UsageError);
  EXPECT_THROW(merge_lora_checkpoint(dir.file("merged"), dir.file("again"), false), CheckpointError);

  // gptforge export merges too: the exported model, imported back, gives the adapted logits.
  ExportOptions o;
  o.format = "hf";
  o.out = dir.file("hf");
  o.dtype = "f32";
  export_checkpoint(ck, o);
  import_hf(dir.file("hf"), dir.file("imported"), false);
  GPT imported = gptforge::testing::load_model(dir.file("imported"));
  EXPECT_LE(max_diff(probe_logits(imported), want), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Families, LoraMerge, ::testing::Values(gpt2_overrides(), llama_overrides()));

TEST(LoraCheckpoint, MissingOrForeignAdaptersAreRejectedByName) {
  TempDir dir;
  Config cfg = lora_config(llama_overrides(), "[q, v]");
  GPT model = adapted_model(cfg);
  const std::string ck = save_tiny_checkpoint(dir.file("run"), model, cfg);
  LoadedCheckpoint back = load_checkpoint(ck);
  LoraConfig other = cfg.lora;
  other.targets = {"q", "k"};
  GPT wrong(cfg.model);
  wrong->add_lora(other);
  try {
    load_adapters(wrong, back.adapters, "adapters");
    FAIL() << "expected CheckpointError";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("k_proj.lora_A.weight' is missing"), std::string::npos) << e.what();
  }
}

}  // namespace lora_export_test
