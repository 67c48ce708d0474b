#include "export/export.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint.h"
#include "checkpoint/loaded_model.h"
#include "export/gguf_export.h"
#include "export/hf_export.h"
#include "export/tensor_mapping.h"
#include "model/gpt.h"
#include "tokenizer/tokenizer.h"
#include "util/errors.h"
#include "util/files.h"
#include "util/staging.h"

namespace fs = std::filesystem;

namespace gptforge {

namespace {

// The sentence behind --reference-logits: words, digits and punctuation.
constexpr const char* kReferenceText = "The quick brown fox jumps over the lazy dog. 1, 2, 3: \"export\" works!";
constexpr int64_t kReferenceMaxTokens = 64;
constexpr int64_t kGreedyTokens = 16;

// Input ids, gptforge's fp32 logits for them, and a greedy continuation, as JSON.
void write_reference_logits(GPT& model, const Tokenizer& tok, const std::string& path, const std::string& checkpoint) {
  torch::NoGradGuard no_grad;
  model->eval();
  std::vector<int32_t> ids = reference_input_ids(tok.serialized(), model->config().block_size);
  auto idx = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kInt64).unsqueeze(0);
  torch::Tensor logits = model->forward(idx)[0].to(torch::kFloat32).contiguous();  // (T, V)
  // Greedy continuation within the context (what llama.cpp / transformers should reproduce).
  std::vector<int64_t> seq(ids.begin(), ids.end());
  std::vector<int64_t> greedy;
  for (int64_t i = 0; i < kGreedyTokens && static_cast<int64_t>(seq.size()) < model->config().block_size; ++i) {
    auto out = model->forward(torch::tensor(seq, torch::kInt64).unsqueeze(0));
    int64_t next = out[0][-1].argmax().item<int64_t>();
    greedy.push_back(next);
    seq.push_back(next);
  }
  nlohmann::json j;
  j["format"] = "gptforge-reference-logits";
  j["checkpoint"] = checkpoint;
  j["text"] = kReferenceText;  // input_ids = encode(text), cut to fit
  j["input_ids"] = ids;
  j["greedy_ids"] = greedy;
  j["vocab_size"] = logits.size(1);
  std::vector<std::vector<float>> rows;
  for (int64_t t = 0; t < logits.size(0); ++t) {
    const float* p = logits[t].data_ptr<float>();
    rows.emplace_back(p, p + logits.size(1));
  }
  j["logits"] = rows;
  write_file_atomic(path, j.dump() + "\n");
}

// The run's name for a checkpoint directory: RUN/step_0000200 and RUN/latest both give RUN.
std::string run_name(const std::string& checkpoint_dir) {
  fs::path p = fs::weakly_canonical(fs::path(checkpoint_dir));
  if (p.filename().empty()) p = p.parent_path();
  const std::string leaf = p.filename().string();
  return leaf.rfind("step_", 0) == 0 && p.has_parent_path() ? p.parent_path().filename().string() : leaf;
}

}  // namespace

std::vector<int32_t> reference_input_ids(const std::string& tokenizer_model, int64_t block_size) {
  Tokenizer tok = Tokenizer::from_serialized(tokenizer_model, "checkpoint tokenizer.model");
  // What a client's default path feeds the model: the text's ids, no <s> (add_bos_token is false).
  std::vector<int32_t> ids = tok.encode(kReferenceText);
  // Leave room in the context for the greedy continuation.
  const int64_t room = block_size >= 2 * kGreedyTokens ? block_size - kGreedyTokens : block_size;
  const int64_t n = std::min<int64_t>({static_cast<int64_t>(ids.size()), room, kReferenceMaxTokens});
  ids.resize(static_cast<size_t>(n));
  return ids;
}

ExportResult export_checkpoint(const std::string& checkpoint, const ExportOptions& opts) {
  const torch::ScalarType dtype = export_dtype(opts.dtype);
  if (opts.out.empty()) throw UsageError("export needs an output path (--out or export.out)");

  LoadedModel ck = load_model(checkpoint, torch::kCPU);
  const Tokenizer& tok = ck.tokenizer;
  const ModelConfig& m = ck.config.model;

  // Refusals come before anything is written.
  const Family family = expressible_family(m, opts.format.name());
  StagedOutput out(opts.out, /*is_directory=*/opts.format == ExportFormat::Hf, opts.force, "export.out");
  GPT& model = ck.model;
  NamedTensors params = model_tensors(*model);

  ExportResult r;
  if (opts.format == ExportFormat::Hf) {
    r.bytes = write_hf_directory(out.path(), m, family, params, tok, dtype);
    r.architecture = hf_architecture(family);
    r.tensors = static_cast<int64_t>(gptforge_to_hf(m, family, params).size());
  } else {
    GgufWriter w;
    fill_gguf(w, m, params, tok, dtype, run_name(ck.dir));
    r.bytes = w.write(out.path());
    r.architecture = std::string("gguf:") + family_name(family);
    r.tensors = static_cast<int64_t>(gptforge_to_gguf(m, family, params).size());
  }
  if (!opts.reference_logits.empty()) write_reference_logits(model, tok, opts.reference_logits, ck.dir);
  r.path = out.commit();
  return r;
}

}  // namespace gptforge
