#include "export/export.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "export/gguf_reader.h"
#include "export/hf_import.h"
#include "export/tensor_mapping.h"
#include "export_test_helpers.h"
#include "util/errors.h"
#include "util/safetensors.h"

namespace export_test {

using namespace gptforge;
using namespace gptforge::testing;
namespace fs = std::filesystem;

namespace {

nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(read_file(path)); }

ExportOptions options(const std::string& format, const std::string& out, const std::string& dtype = "f32") {
  ExportOptions o;
  o.format = format;
  o.out = out;
  o.dtype = dtype;
  return o;
}

// The raw safetensors header of a file: checks the framing itself, independently of our reader.
nlohmann::ordered_json safetensors_header(const std::string& path, uint64_t* data_start, uint64_t* file_size) {
  std::string b = read_file(path);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(static_cast<unsigned char>(b[i])) << (8 * i);
  *data_start = 8 + n;
  *file_size = b.size();
  return nlohmann::ordered_json::parse(b.substr(8, n));
}

// Files next to `path` other than the expected ones: temporary leftovers.
std::vector<std::string> leftovers(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string n = e.path().filename().string();
    if (n.find(".tmp") != std::string::npos || n.find(".old") != std::string::npos) out.push_back(n);
  }
  return out;
}

template <class E>
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error)";
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

}  // namespace

TEST(HfExport, Gpt2DirectoryHasThePublicLayout) {
  TempDir dir;
  Config cfg = tiny_export_config(gpt2_overrides());
  GPT model = tiny_model(cfg.model);
  std::string ck = save_tiny_checkpoint(dir.file("run"), model, cfg);
  ExportResult r = export_checkpoint(ck, options("hf", dir.file("hf")));
  EXPECT_EQ(r.architecture, "GPT2LMHeadModel");
  for (const char* f : {"model.safetensors", "config.json", "generation_config.json", "tokenizer.model",
                        "tokenizer_config.json", "special_tokens_map.json"}) {
    EXPECT_TRUE(fs::exists(dir.file("hf/") + f)) << f;
  }
  EXPECT_TRUE(leftovers(dir.path()).empty());

  uint64_t data_start = 0, size = 0;
  auto header = safetensors_header(dir.file("hf/model.safetensors"), &data_start, &size);
  EXPECT_EQ(data_start % 8, 0u);
  EXPECT_EQ(header["__metadata__"]["format"], "pt");
  uint64_t end = 0;
  int tensors = 0;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    ++tensors;
    EXPECT_EQ(it.value()["dtype"], "F32") << it.key();
    auto offs = it.value()["data_offsets"].get<std::vector<uint64_t>>();
    EXPECT_EQ(offs[0], end) << it.key();  // contiguous, in order
    end = offs[1];
  }
  EXPECT_EQ(data_start + end, size);
  EXPECT_EQ(tensors, 28);
  EXPECT_EQ(header["transformer.wte.weight"]["shape"].get<std::vector<int64_t>>(), (std::vector<int64_t>{400, 32}));
  EXPECT_EQ(header["transformer.wpe.weight"]["shape"].get<std::vector<int64_t>>(), (std::vector<int64_t>{32, 32}));
  EXPECT_EQ(header["transformer.h.0.attn.c_attn.weight"]["shape"].get<std::vector<int64_t>>(), (std::vector<int64_t>{32, 96}));
  EXPECT_EQ(header["transformer.h.0.attn.c_attn.bias"]["shape"].get<std::vector<int64_t>>(), (std::vector<int64_t>{96}));
  EXPECT_EQ(header["transformer.h.1.mlp.c_fc.weight"]["shape"].get<std::vector<int64_t>>(), (std::vector<int64_t>{32, 128}));
  EXPECT_EQ(header["transformer.h.1.mlp.c_proj.weight"]["shape"].get<std::vector<int64_t>>(), (std::vector<int64_t>{128, 32}));
  EXPECT_FALSE(header.contains("lm_head.weight"));
  // The values: c_proj of layer 1 is o_proj transposed.
  SafetensorsFile st = load_safetensors(dir.file("hf/model.safetensors"));
  EXPECT_TRUE(torch::equal(*st.find("transformer.h.1.attn.c_proj.weight"),
                           model->named_parameters()["h.1.attn.o_proj.weight"].t()));

  auto c = read_json(dir.file("hf/config.json"));
  EXPECT_EQ(c["architectures"], nlohmann::json({"GPT2LMHeadModel"}));
  EXPECT_EQ(c["model_type"], "gpt2");
  EXPECT_EQ(c["n_embd"], 32);
  EXPECT_EQ(c["n_head"], 4);
  EXPECT_EQ(c["n_layer"], 2);
  EXPECT_EQ(c["n_positions"], 32);
  EXPECT_EQ(c["n_ctx"], 32);
  EXPECT_EQ(c["vocab_size"], 400);
  EXPECT_TRUE(c["n_inner"].is_null());
  EXPECT_EQ(c["activation_function"], "gelu_new");
  EXPECT_EQ(c["layer_norm_epsilon"], 1e-5);
  EXPECT_EQ(c["tie_word_embeddings"], true);
  EXPECT_EQ(c["torch_dtype"], "float32");
  EXPECT_EQ(c["bos_token_id"], 2);
  EXPECT_EQ(c["eos_token_id"], 3);

  auto t = read_json(dir.file("hf/tokenizer_config.json"));
  EXPECT_EQ(t["tokenizer_class"], "LlamaTokenizer");
  EXPECT_EQ(t["bos_token"], "<s>");
  EXPECT_EQ(t["eos_token"], "</s>");
  EXPECT_EQ(t["unk_token"], "<unk>");
  EXPECT_EQ(t["pad_token"], "<pad>");
  EXPECT_EQ(t["add_bos_token"], false);  // gptforge neither trains nor samples with <s>
  EXPECT_EQ(t["added_tokens_decoder"]["5"]["content"], "<|user|>");
  EXPECT_EQ(t["added_tokens_decoder"]["5"]["special"], true);
  EXPECT_EQ(t["added_tokens_decoder"].size(), static_cast<size_t>(kNumReservedIds));
  EXPECT_EQ(t["added_tokens_decoder"]["8"]["content"], "<|tool_call|>");
  EXPECT_EQ(t["additional_special_tokens"], nlohmann::json({"<|system|>", "<|user|>", "<|assistant|>", "<|end|>",
                                                             "<|tool_call|>", "<|tool_result|>", "<|tool_end|>"}));
  EXPECT_NE(t["chat_template"].get<std::string>().find("<|tool_call|>"), std::string::npos);
  EXPECT_NE(t["chat_template"].get<std::string>().find("<|assistant|>"), std::string::npos);
  auto g = read_json(dir.file("hf/generation_config.json"));
  EXPECT_EQ(g["eos_token_id"], nlohmann::json({3, 7}));
  auto s = read_json(dir.file("hf/special_tokens_map.json"));
  EXPECT_EQ(s["bos_token"], "<s>");
  EXPECT_EQ(read_file(dir.file("hf/tokenizer.model")), read_file(tiny_tokenizer()));
}

TEST(HfExport, LlamaDirectoryHasThePublicLayout) {
  TempDir dir;
  Config cfg = tiny_export_config(llama_overrides());
  GPT model = tiny_model(cfg.model);
  std::string ck = save_tiny_checkpoint(dir.file("run"), model, cfg);
  ExportResult r = export_checkpoint(ck, options("hf", dir.file("hf")));
  EXPECT_EQ(r.architecture, "LlamaForCausalLM");
  SafetensorsFile st = load_safetensors(dir.file("hf/model.safetensors"));
  EXPECT_EQ(st.tensors.size(), 21u);
  EXPECT_EQ(st.find("model.embed_tokens.weight")->sizes(), (std::vector<int64_t>{400, 32}));
  EXPECT_EQ(st.find("model.layers.1.self_attn.q_proj.weight")->sizes(), (std::vector<int64_t>{32, 32}));
  EXPECT_EQ(st.find("model.layers.1.self_attn.v_proj.weight")->sizes(), (std::vector<int64_t>{16, 32}));
  EXPECT_EQ(st.find("model.layers.0.mlp.gate_proj.weight")->sizes(), (std::vector<int64_t>{88, 32}));
  EXPECT_EQ(st.find("model.layers.0.mlp.down_proj.weight")->sizes(), (std::vector<int64_t>{32, 88}));
  EXPECT_TRUE(torch::equal(*st.find("lm_head.weight"), model->named_parameters()["lm_head.weight"]));
  EXPECT_TRUE(torch::equal(*st.find("model.layers.0.self_attn.k_proj.weight"),
                           model->named_parameters()["h.0.attn.k_proj.weight"]));  // no permutation for HF
  EXPECT_TRUE(torch::equal(*st.find("model.norm.weight"), model->named_parameters()["ln_f.weight"]));

  auto c = read_json(dir.file("hf/config.json"));
  EXPECT_EQ(c["architectures"], nlohmann::json({"LlamaForCausalLM"}));
  EXPECT_EQ(c["model_type"], "llama");
  EXPECT_EQ(c["hidden_size"], 32);
  EXPECT_EQ(c["intermediate_size"], 88);
  EXPECT_EQ(c["num_attention_heads"], 4);
  EXPECT_EQ(c["num_key_value_heads"], 2);
  EXPECT_EQ(c["head_dim"], 8);
  EXPECT_EQ(c["max_position_embeddings"], 32);
  EXPECT_EQ(c["rope_theta"], 500.0);
  EXPECT_EQ(c["rms_norm_eps"], 1e-5);
  EXPECT_EQ(c["hidden_act"], "silu");
  EXPECT_EQ(c["attention_bias"], false);
  EXPECT_EQ(c["mlp_bias"], false);
  EXPECT_EQ(c["tie_word_embeddings"], false);
}

// Export, import, and compare: the two independent directions of the mapping must compose to the
// identity, bit for bit, for every family shape.
class HfRoundTrip : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(HfRoundTrip, ImportOfTheExportGivesIdenticalWeightsAndLogits) {
  TempDir dir;
  Config cfg = tiny_export_config(GetParam());
  GPT model = tiny_model(cfg.model);
  std::string ck = save_tiny_checkpoint(dir.file("run"), model, cfg);
  export_checkpoint(ck, options("hf", dir.file("hf")));
  ImportResult r = import_hf(dir.file("hf"), dir.file("imported"), false);
  EXPECT_TRUE(fs::exists(dir.file("imported/latest/manifest.json")));

  LoadedCheckpoint back = load_checkpoint(dir.file("imported"));
  EXPECT_TRUE(config_differences(cfg, back.config, "model").empty())
      << config_differences(cfg, back.config, "model").front();
  EXPECT_EQ(back.tokenizer_model, read_file(tiny_tokenizer()));
  GPT imported = load_model(dir.file("imported"));
  auto params = imported->named_parameters();
  for (const auto& p : model->named_parameters()) {
    ASSERT_TRUE(params.contains(p.key())) << p.key();
    EXPECT_TRUE(torch::equal(params[p.key()], p.value())) << p.key();
  }
  EXPECT_TRUE(torch::equal(probe_logits(imported), probe_logits(model)));
}

namespace {
std::string family_case_name(const ::testing::TestParamInfo<std::vector<std::string>>& info) {
  static const std::vector<std::string> names = {"Gpt2", "LlamaGqaUntied", "LlamaTied", "Gpt2CustomWidthAndEps"};
  return names.at(info.index);
}
}  // namespace

INSTANTIATE_TEST_SUITE_P(Families, HfRoundTrip,
                         ::testing::Values(gpt2_overrides(), llama_overrides(), llama_tied_overrides(),
                                           std::vector<std::string>{"model.family=gpt2", "model.mlp_hidden=48",
                                                                    "model.norm_eps=1e-6"}),
                         family_case_name);

TEST(HfExport, HalfPrecisionExportsStayWithinTheirTolerance) {
  TempDir dir;
  Config cfg = tiny_export_config(llama_overrides());
  GPT model = tiny_model(cfg.model);
  std::string ck = save_tiny_checkpoint(dir.file("run"), model, cfg);
  const auto ref = probe_logits(model);
  for (const auto& [dtype, st_name, tol] : {std::make_tuple("f16", "F16", 2e-2), std::make_tuple("bf16", "BF16", 1.5e-1)}) {
    const std::string out = dir.file(std::string("hf-") + dtype), run = dir.file(std::string("imp-") + dtype);
    export_checkpoint(ck, options("hf", out, dtype));
    uint64_t start = 0, size = 0;
    auto header = safetensors_header(out + "/model.safetensors", &start, &size);
    EXPECT_EQ(header["model.norm.weight"]["dtype"], st_name);
    EXPECT_EQ(read_json(out + "/config.json")["torch_dtype"], dtype == std::string("f16") ? "float16" : "bfloat16");
    import_hf(out, run, false);
    GPT imported = load_model(run);
    const double d = max_diff(probe_logits(imported), ref);
    EXPECT_GT(d, 0.0) << dtype;  // rounded...
    EXPECT_LT(d, tol) << dtype;  // ...but only by the dtype's precision
  }
}

TEST(HfExport, ExistingOutputIsRefusedUnlessForced) {
  TempDir dir;
  Config cfg = tiny_export_config(gpt2_overrides());
  GPT model = tiny_model(cfg.model);
  std::string ck = save_tiny_checkpoint(dir.file("run"), model, cfg);
  dir.write("hf/keep.txt", "mine");
  std::string e = error_of<UsageError>([&] { export_checkpoint(ck, options("hf", dir.file("hf"))); });
  EXPECT_NE(e.find("already exists: pass --force"), std::string::npos) << e;
  EXPECT_TRUE(fs::exists(dir.file("hf/keep.txt")));
  ExportOptions forced = options("hf", dir.file("hf"));
  forced.force = true;
  export_checkpoint(ck, forced);
  EXPECT_FALSE(fs::exists(dir.file("hf/keep.txt")));
  EXPECT_TRUE(fs::exists(dir.file("hf/model.safetensors")));
  EXPECT_TRUE(leftovers(dir.path()).empty());
  // Even forced, "." is never replaced.
  ExportOptions dot = options("hf", dir.file("hf/."));
  dot.force = true;
  e = error_of<UsageError>([&] { export_checkpoint(ck, dot); });
  EXPECT_NE(e.find("must name a file or directory of its own"), std::string::npos) << e;
  EXPECT_TRUE(fs::exists(dir.file("hf/model.safetensors")));
}

TEST(HfExport, RefusalsAreClearAndLeaveNothingBehind) {
  TempDir dir;
  Config cfg = tiny_export_config({"model.family=custom", "model.position=sinusoidal"});
  GPT model = tiny_model(cfg.model);
  std::string ck = save_tiny_checkpoint(dir.file("run"), model, cfg);
  std::string e = error_of<CheckpointError>([&] { export_checkpoint(ck, options("hf", dir.file("out"))); });
  EXPECT_EQ(e, "hf export needs model.position=learned (gpt2) or rope (llama); this model has sinusoidal");
  e = error_of<CheckpointError>([&] { export_checkpoint(ck, options("gguf", dir.file("out.gguf"))); });
  EXPECT_EQ(e, "gguf export needs model.position=learned (gpt2) or rope (llama); this model has sinusoidal");
  // An unknown dtype cannot be represented: the name is refused where it is assigned.
  e = error_of<ConfigError>([&] { export_checkpoint(ck, options("hf", dir.file("out"), "f8")); });
  EXPECT_NE(e.find("'f8' is not one of f32, f16, bf16"), std::string::npos) << e;
  e = error_of<CheckpointError>([&] { export_checkpoint(dir.file("nope"), options("hf", dir.file("out"))); });
  EXPECT_NE(e.find("nope: no such checkpoint"), std::string::npos) << e;
  // A partial checkpoint (its weights truncated) is caught by the manifest.
  std::string weights = ck + "/model.safetensors";
  std::string bytes = read_file(weights);
  std::ofstream(weights, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 2);
  e = error_of<CheckpointError>([&] { export_checkpoint(ck, options("hf", dir.file("out"))); });
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(dir.file("out")));
  EXPECT_FALSE(fs::exists(dir.file("out.gguf")));
  EXPECT_TRUE(leftovers(dir.path()).empty());
}

TEST(HfExport, ReferenceLogitsAreTheModelsLogits) {
  TempDir dir;
  Config cfg = tiny_export_config(llama_overrides());
  GPT model = tiny_model(cfg.model);
  std::string ck = save_tiny_checkpoint(dir.file("run"), model, cfg);
  ExportOptions o = options("hf", dir.file("hf"));
  o.reference_logits = dir.file("ref.json");
  export_checkpoint(ck, o);
  auto j = read_json(dir.file("ref.json"));
  auto ids = j["input_ids"].get<std::vector<int64_t>>();
  ASSERT_GT(ids.size(), 5u);
  // The reference text's own ids, no <s>: what a client's default path feeds the model.
  Tokenizer tok = Tokenizer::load(tiny_tokenizer());
  std::vector<int32_t> text_ids = tok.encode(j["text"].get<std::string>());
  EXPECT_EQ(ids, std::vector<int64_t>(text_ids.begin(), text_ids.begin() + static_cast<std::ptrdiff_t>(ids.size())));
  auto rows = j["logits"].get<std::vector<std::vector<float>>>();
  ASSERT_EQ(rows.size(), ids.size());
  torch::NoGradGuard no_grad;
  auto logits = model->forward(torch::tensor(ids).unsqueeze(0))[0];
  for (size_t t = 0; t < rows.size(); ++t) {
    EXPECT_LT(max_diff(torch::tensor(rows[t]), logits[t]), 1e-6);
  }
  EXPECT_EQ(j["greedy_ids"].size(), 16u);
}

TEST(HfImport, UnsupportedOrIncompleteDirectoriesAreClearErrors) {
  TempDir dir;
  Config cfg = tiny_export_config(gpt2_overrides());
  GPT model = tiny_model(cfg.model);
  std::string ck = save_tiny_checkpoint(dir.file("run"), model, cfg);
  export_checkpoint(ck, options("hf", dir.file("hf")));
  auto import_error = [&](const std::string& from) {
    return error_of<DataError>([&] { import_hf(from, dir.file("out"), false); });
  };
  std::string e = import_error(dir.file("absent"));
  EXPECT_NE(e.find("absent: no such directory"), std::string::npos) << e;

  fs::create_directories(dir.file("bert"));
  dir.write("bert/config.json", R"({"architectures": ["BertForMaskedLM"], "model_type": "bert"})");
  e = import_error(dir.file("bert"));
  EXPECT_NE(e.find("architectures [BertForMaskedLM] (model_type 'bert') is not supported"), std::string::npos) << e;

  fs::copy(dir.file("hf"), dir.file("nomodel"));
  fs::remove(dir.file("nomodel/model.safetensors"));
  e = import_error(dir.file("nomodel"));
  EXPECT_NE(e.find("no model.safetensors"), std::string::npos) << e;

  fs::copy(dir.file("hf"), dir.file("notok"));
  fs::remove(dir.file("notok/tokenizer.model"));
  e = import_error(dir.file("notok"));
  EXPECT_NE(e.find("tokenizer.model: missing"), std::string::npos) << e;

  fs::copy(dir.file("hf"), dir.file("exact"));
  auto c = read_json(dir.file("hf/config.json"));
  c["activation_function"] = "gelu";
  dir.write("exact/config.json", c.dump());
  e = import_error(dir.file("exact"));
  EXPECT_NE(e.find("activation_function=\"gelu\""), std::string::npos) << e;

  fs::copy(dir.file("hf"), dir.file("cut"));
  std::string bytes = read_file(dir.file("hf/model.safetensors"));
  dir.write("cut/model.safetensors", bytes.substr(0, bytes.size() - 100));
  e = import_error(dir.file("cut"));
  EXPECT_NE(e.find("cut/model.safetensors"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(dir.file("out")));  // nothing written by any failed import

  dir.write("busy/file.txt", "x");
  e = error_of<UsageError>([&] { import_hf(dir.file("hf"), dir.file("busy"), false); });
  EXPECT_NE(e.find("pass --force"), std::string::npos) << e;
  import_hf(dir.file("hf"), dir.file("busy"), true);
  EXPECT_TRUE(fs::exists(dir.file("busy/latest/manifest.json")));
}

TEST(HfImport, ForceNeverWritesOverATrainingRun) {
  // A run saved with keep_last=1 would lose its checkpoints to the import's pruning.
  TempDir dir;
  Config cfg = tiny_export_config(gpt2_overrides());
  GPT model = tiny_model(cfg.model);
  std::string ck = save_tiny_checkpoint(dir.file("run"), model, cfg);
  export_checkpoint(ck, options("hf", dir.file("hf")));
  const auto before = fs::read_symlink(dir.file("run/latest"));
  std::string e = error_of<UsageError>([&] { import_hf(dir.file("hf"), dir.file("run"), true); });
  EXPECT_NE(e.find("holds a training run"), std::string::npos) << e;
  EXPECT_EQ(fs::read_symlink(dir.file("run/latest")), before);
  EXPECT_TRUE(fs::exists(ck + "/manifest.json"));
}

TEST(HfImport, ConfigValuesOutsideTheSchemaRangesAreRefused) {
  // validate_config checks combinations; the ranges are the schema's, as for a YAML config.
  TempDir dir;
  Config cfg = tiny_export_config(gpt2_overrides());
  GPT model = tiny_model(cfg.model);
  export_checkpoint(save_tiny_checkpoint(dir.file("run"), model, cfg), options("hf", dir.file("hf")));
  auto c = read_json(dir.file("hf/config.json"));
  for (auto [key, value] : {std::pair<const char*, double>{"layer_norm_epsilon", -1.0}, {"resid_pdrop", 1.5}}) {
    auto bad = c;
    bad[key] = value;
    EXPECT_THROW(hf_model_spec(bad, "config.json"), DataError) << key;
    try {
      hf_model_spec(bad, "config.json");
    } catch (const DataError& err) {
      EXPECT_NE(std::string(err.what()).find("out of range"), std::string::npos) << err.what();
    }
  }
  EXPECT_NO_THROW(hf_model_spec(c, "config.json"));
}

TEST(GgufExport, LlamaFileReadsBackWithItsMetadataAndExactWeights) {
  TempDir dir;
  Config cfg = tiny_export_config(llama_overrides());
  GPT model = tiny_model(cfg.model);
  std::string ck = save_tiny_checkpoint(dir.file("run"), model, cfg);
  ExportResult r = export_checkpoint(ck, options("gguf", dir.file("model.gguf")));
  EXPECT_EQ(r.architecture, "gguf:llama");
  EXPECT_TRUE(leftovers(dir.path()).empty());

  GgufFile f = read_gguf(dir.file("model.gguf"));
  EXPECT_EQ(f.version, 3u);
  EXPECT_EQ(f.alignment, 32u);
  EXPECT_EQ(f.data_start % 32, 0u);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_string("general.name"), "run");  // the run's name, not its `latest` link's
  EXPECT_EQ(f.get_uint("general.file_type"), 0u);
  EXPECT_EQ(f.get_uint("llama.context_length"), 32u);
  EXPECT_EQ(f.get_uint("llama.embedding_length"), 32u);
  EXPECT_EQ(f.get_uint("llama.block_count"), 2u);
  EXPECT_EQ(f.get_uint("llama.feed_forward_length"), 88u);
  EXPECT_EQ(f.get_uint("llama.rope.dimension_count"), 8u);
  EXPECT_EQ(f.get_uint("llama.attention.head_count"), 4u);
  EXPECT_EQ(f.get_uint("llama.attention.head_count_kv"), 2u);
  EXPECT_FLOAT_EQ(f.get_float("llama.attention.layer_norm_rms_epsilon"), 1e-5f);
  EXPECT_FLOAT_EQ(f.get_float("llama.rope.freq_base"), 500.0f);
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(f.get_uint("tokenizer.ggml.bos_token_id"), 2u);
  EXPECT_EQ(f.get_uint("tokenizer.ggml.eos_token_id"), 3u);
  EXPECT_EQ(f.get_uint("tokenizer.ggml.unknown_token_id"), 1u);
  EXPECT_EQ(f.get_uint("tokenizer.ggml.padding_token_id"), 0u);
  EXPECT_EQ(f.get_uint("tokenizer.ggml.eot_token_id"), 7u);  // <|end|>
  EXPECT_FALSE(f.get_bool("tokenizer.ggml.add_bos_token"));
  EXPECT_FALSE(f.get_bool("tokenizer.ggml.add_space_prefix"));
  const auto& tokens = f.find("tokenizer.ggml.tokens")->array;
  const auto& types = f.find("tokenizer.ggml.token_type")->array;
  const auto& scores = f.find("tokenizer.ggml.scores")->array;
  ASSERT_EQ(tokens.size(), 400u);
  ASSERT_EQ(types.size(), 400u);
  ASSERT_EQ(scores.size(), 400u);
  Tokenizer tok = Tokenizer::load(tiny_tokenizer());
  EXPECT_EQ(tokens[5].s, "<|user|>");
  EXPECT_EQ(tokens[kNumReservedIds].s, "<0x00>");
  EXPECT_EQ(tokens[10].s, "<|tool_end|>");
  EXPECT_EQ(tokens[300].s, tok.piece(300));
  EXPECT_EQ(types[0].i, 3);  // <pad>: control
  EXPECT_EQ(types[1].i, 2);  // <unk>: unknown
  EXPECT_EQ(types[2].i, 3);
  EXPECT_EQ(types[7].i, 3);  // <|end|>
  EXPECT_EQ(types[8].i, 3);   // <|tool_call|>
  EXPECT_EQ(types[kNumReservedIds].i, 6);  // byte
  EXPECT_EQ(types[300].i, 1);
  EXPECT_GT(scores[300].f, scores[399].f);  // BPE merges score by rank

  // Tensor infos: llama.cpp names, dims reversed, f32, aligned; weights exact after un-permuting.
  EXPECT_EQ(f.tensors.size(), 21u);
  EXPECT_EQ(f.tensor_info("token_embd.weight")->dims, (std::vector<int64_t>{32, 400}));
  EXPECT_EQ(f.tensor_info("blk.0.attn_k.weight")->dims, (std::vector<int64_t>{32, 16}));
  EXPECT_EQ(f.tensor_info("blk.1.ffn_down.weight")->dims, (std::vector<int64_t>{88, 32}));
  EXPECT_NE(f.tensor_info("output.weight"), nullptr);
  NamedTensors gguf;
  for (const auto& t : f.tensors) {
    EXPECT_EQ(t.type, GgmlType::F32) << t.name;
    EXPECT_EQ(t.offset % 32, 0u) << t.name;
    gguf.emplace_back(t.name, f.tensor(t.name));
  }
  NamedTensors back = gguf_to_gptforge(cfg.model, Family::Llama, gguf);
  for (const auto& p : model->named_parameters()) {
    EXPECT_TRUE(torch::equal(*find_tensor(back, p.key()), p.value())) << p.key();
  }
  // q is stored permuted, not as gptforge holds it.
  EXPECT_FALSE(torch::equal(f.tensor("blk.0.attn_q.weight"), model->named_parameters()["h.0.attn.q_proj.weight"]));
}

TEST(GgufExport, HalfPrecisionKeepsNormsInF32AndTiedModelsHaveNoOutput) {
  TempDir dir;
  Config cfg = tiny_export_config(llama_tied_overrides());
  GPT model = tiny_model(cfg.model);
  std::string ck = save_tiny_checkpoint(dir.file("run"), model, cfg);
  export_checkpoint(ck, options("gguf", dir.file("m16.gguf"), "f16"));
  GgufFile f = read_gguf(dir.file("m16.gguf"));
  EXPECT_EQ(f.get_uint("general.file_type"), 1u);
  EXPECT_EQ(f.tensor_info("output.weight"), nullptr);  // llama.cpp reuses token_embd
  EXPECT_EQ(f.tensor_info("blk.0.attn_norm.weight")->type, GgmlType::F32);
  EXPECT_EQ(f.tensor_info("blk.0.ffn_up.weight")->type, GgmlType::F16);
  EXPECT_EQ(f.tensor_info("token_embd.weight")->type, GgmlType::F16);
  auto up = f.tensor("blk.0.ffn_up.weight").to(torch::kFloat);
  EXPECT_LT(max_diff(up, model->named_parameters()["h.0.mlp.up.weight"]), 1e-3);
  export_checkpoint(ck, options("gguf", dir.file("mbf16.gguf"), "bf16"));
  EXPECT_EQ(read_gguf(dir.file("mbf16.gguf")).get_uint("general.file_type"), 32u);
}

TEST(GgufExport, Gpt2FileReadsBackWithItsMetadataAndExactWeights) {
  TempDir dir;
  Config cfg = tiny_export_config(gpt2_overrides());
  GPT model = tiny_model(cfg.model);
  std::string ck = save_tiny_checkpoint(dir.file("run"), model, cfg);
  ExportResult r = export_checkpoint(ck, options("gguf", dir.file("gpt2.gguf"), "f16"));
  EXPECT_EQ(r.architecture, "gguf:gpt2");
  GgufFile f = read_gguf(dir.file("gpt2.gguf"));
  EXPECT_EQ(f.get_string("general.architecture"), "gpt2");
  EXPECT_EQ(f.get_uint("general.file_type"), 1u);
  EXPECT_EQ(f.get_uint("gpt2.context_length"), 32u);
  EXPECT_EQ(f.get_uint("gpt2.embedding_length"), 32u);
  EXPECT_EQ(f.get_uint("gpt2.feed_forward_length"), 128u);
  EXPECT_EQ(f.get_uint("gpt2.block_count"), 2u);
  EXPECT_EQ(f.get_uint("gpt2.attention.head_count"), 4u);
  EXPECT_FLOAT_EQ(f.get_float("gpt2.attention.layer_norm_epsilon"), 1e-5f);
  EXPECT_EQ(f.find("llama.rope.freq_base"), nullptr);
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(f.tensors.size(), 28u);
  EXPECT_EQ(f.tensor_info("output.weight"), nullptr);
  EXPECT_EQ(f.tensor_info("position_embd.weight")->dims, (std::vector<int64_t>{32, 32}));
  EXPECT_EQ(f.tensor_info("blk.0.attn_qkv.weight")->dims, (std::vector<int64_t>{32, 96}));
  EXPECT_EQ(f.tensor_info("blk.0.attn_qkv.weight")->type, GgmlType::F16);
  EXPECT_EQ(f.tensor_info("blk.0.attn_qkv.bias")->type, GgmlType::F32);
  NamedTensors gguf;
  for (const auto& t : f.tensors) gguf.emplace_back(t.name, f.tensor(t.name).to(torch::kFloat));
  NamedTensors back = gguf_to_gptforge(cfg.model, Family::Gpt2, gguf);
  for (const auto& p : model->named_parameters()) {
    const double tol = p.value().dim() == 1 ? 0.0 : 1e-3;  // biases and norms f32: exact
    EXPECT_LE(max_diff(*find_tensor(back, p.key()), p.value()), tol) << p.key();
  }
}

TEST(HfImport, ShardedSafetensorsWithAnIndexImportLikeOneFile) {
  TempDir dir;
  Config cfg = tiny_export_config(llama_overrides());
  GPT model = tiny_model(cfg.model);
  std::string ck = save_tiny_checkpoint(dir.file("run"), model, cfg);
  export_checkpoint(ck, options("hf", dir.file("hf")));
  // Split model.safetensors into two shards, as save_pretrained does for large models.
  SafetensorsFile st = load_safetensors(dir.file("hf/model.safetensors"));
  NamedTensors a(st.tensors.begin(), st.tensors.begin() + 7), b(st.tensors.begin() + 7, st.tensors.end());
  save_safetensors(dir.file("hf/model-00001-of-00002.safetensors"), a, {{"format", "pt"}});
  save_safetensors(dir.file("hf/model-00002-of-00002.safetensors"), b, {{"format", "pt"}});
  nlohmann::json index;
  for (const auto& [n, t] : a) index["weight_map"][n] = "model-00001-of-00002.safetensors";
  for (const auto& [n, t] : b) index["weight_map"][n] = "model-00002-of-00002.safetensors";
  dir.write("hf/model.safetensors.index.json", index.dump());
  fs::remove(dir.file("hf/model.safetensors"));
  import_hf(dir.file("hf"), dir.file("imported"), false);
  GPT imported = load_model(dir.file("imported"));
  EXPECT_TRUE(torch::equal(probe_logits(imported), probe_logits(model)));
  // A shard the index names but the directory lacks is an error naming it.
  fs::remove(dir.file("hf/model-00002-of-00002.safetensors"));
  std::string e = error_of<DataError>([&] { import_hf(dir.file("hf"), dir.file("again"), false); });
  EXPECT_NE(e.find("model-00002-of-00002.safetensors: missing"), std::string::npos) << e;
}

}  // namespace export_test
