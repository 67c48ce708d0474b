#include "export/hf_export.h"

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "tokenizer/chat_template.h"
#include "util/errors.h"
#include "util/safetensors.h"

namespace fs = std::filesystem;

namespace gptforge {

namespace {

void write_text(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.flush();
  if (!out) throw DataError(path.string() + ": write failed (disk full?)");
}

// A special token's piece, or null when the tokenizer lacks it.
nlohmann::ordered_json piece_or_null(const Tokenizer& tok, int32_t id) {
  if (id < 0 || id >= tok.vocab_size()) return nullptr;
  return tok.piece(id);
}
nlohmann::ordered_json id_or_null(const Tokenizer& tok, int32_t id) {
  if (id < 0 || id >= tok.vocab_size()) return nullptr;
  return id;
}

std::vector<std::string> chat_pieces(const Tokenizer& tok) {
  std::vector<std::string> out;
  if (!tok.has_chat_tokens()) return out;
  for (Special s : {Special::System, Special::User, Special::Assistant, Special::End}) out.push_back(special_piece(s));
  if (tok.has_tool_tokens()) {
    for (Special s : {Special::ToolCall, Special::ToolResult, Special::ToolEnd}) out.push_back(special_piece(s));
  }
  return out;
}

}  // namespace

torch::ScalarType export_dtype(ExportDtype dtype) {
  switch (dtype) {
    case ExportDtype::F32: return torch::kFloat32;
    case ExportDtype::F16: return torch::kFloat16;
    case ExportDtype::Bf16: return torch::kBFloat16;
  }
  throw std::logic_error("export_dtype: no such ExportDtype");
}

std::string hf_dtype_name(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return "float32";
    case torch::kFloat16: return "float16";
    case torch::kBFloat16: return "bfloat16";
    default: throw std::invalid_argument(std::string("no transformers dtype for ") + c10::toString(t));
  }
}

nlohmann::ordered_json hf_config_json(const ModelConfig& m, Family f, torch::ScalarType dtype, const Tokenizer& tok) {
  nlohmann::ordered_json j;
  j["architectures"] = {hf_architecture(f)};
  j["model_type"] = family_name(f);
  j["vocab_size"] = m.vocab_size;
  if (f == Family::Gpt2) {
    j["n_positions"] = m.block_size;
    j["n_ctx"] = m.block_size;
    j["n_embd"] = m.d_model;
    j["n_layer"] = m.n_layer;
    j["n_head"] = m.n_head;
    // HF's default inner width is 4 * n_embd; say so explicitly only when it differs.
    j["n_inner"] = m.hidden_size() == 4 * m.d_model ? nlohmann::ordered_json(nullptr)
                                                     : nlohmann::ordered_json(m.hidden_size());
    j["activation_function"] = "gelu_new";  // the tanh approximation, as gptforge's gelu
    j["layer_norm_epsilon"] = m.norm_eps;
    j["resid_pdrop"] = m.dropout;
    j["embd_pdrop"] = m.dropout;
    j["attn_pdrop"] = m.dropout;
    j["initializer_range"] = m.init_std;
    j["scale_attn_weights"] = true;  // 1 / sqrt(head_dim)
    j["scale_attn_by_inverse_layer_idx"] = false;
    j["reorder_and_upcast_attn"] = false;
  } else {
    j["hidden_size"] = m.d_model;
    j["intermediate_size"] = m.hidden_size();
    j["num_hidden_layers"] = m.n_layer;
    j["num_attention_heads"] = m.n_head;
    j["num_key_value_heads"] = m.kv_heads();
    j["head_dim"] = m.head_dim();
    j["hidden_act"] = "silu";
    j["max_position_embeddings"] = m.block_size;
    j["rms_norm_eps"] = m.norm_eps;
    j["rope_theta"] = m.rope_theta;
    j["rope_scaling"] = nullptr;
    j["attention_bias"] = false;
    j["mlp_bias"] = false;
    j["attention_dropout"] = m.dropout;
    j["initializer_range"] = m.init_std;
    j["pretraining_tp"] = 1;
  }
  j["tie_word_embeddings"] = m.tie_embeddings;
  j["bos_token_id"] = id_or_null(tok, tok.bos_id());
  j["eos_token_id"] = id_or_null(tok, tok.eos_id());
  j["pad_token_id"] = id_or_null(tok, tok.pad_id());
  j["use_cache"] = true;
  j["torch_dtype"] = hf_dtype_name(dtype);
  return j;
}

nlohmann::ordered_json hf_generation_config_json(const Tokenizer& tok) {
  nlohmann::ordered_json j;
  j["bos_token_id"] = id_or_null(tok, tok.bos_id());
  // A chat model ends its reply with <|end|>; a base model with </s>.
  nlohmann::ordered_json eos = nlohmann::ordered_json::array();
  if (tok.eos_id() >= 0) eos.push_back(tok.eos_id());
  if (tok.has_chat_tokens()) eos.push_back(tok.special_id(Special::End));
  j["eos_token_id"] = eos.size() == 1 ? eos[0] : eos;
  j["pad_token_id"] = id_or_null(tok, tok.pad_id());
  return j;
}

nlohmann::ordered_json hf_tokenizer_config_json(const Tokenizer& tok, int64_t max_length) {
  nlohmann::ordered_json j;
  j["tokenizer_class"] = "LlamaTokenizer";  // transformers' sentencepiece tokenizer
  j["bos_token"] = piece_or_null(tok, tok.bos_id());
  j["eos_token"] = piece_or_null(tok, tok.eos_id());
  j["unk_token"] = piece_or_null(tok, tok.unk_id());
  j["pad_token"] = piece_or_null(tok, tok.pad_id());
  // gptforge trains without <s> at document starts and samples without it: a client that added one
  // would continue a text the model never saw. (The chat template writes its own <s>.)
  j["add_bos_token"] = false;
  j["add_eos_token"] = false;
  // gptforge's sentencepiece models add no dummy prefix and keep whitespace: plain sentencepiece.
  j["add_prefix_space"] = false;
  j["legacy"] = false;
  j["clean_up_tokenization_spaces"] = false;
  j["spaces_between_special_tokens"] = false;
  j["sp_model_kwargs"] = nlohmann::ordered_json::object();
  j["model_max_length"] = max_length;
  j["additional_special_tokens"] = chat_pieces(tok);
  // Every control / unknown piece as a special added token, so text such as "<|user|>" in a
  // rendered chat template maps to its id.
  nlohmann::ordered_json added = nlohmann::ordered_json::object();
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    if (!tok.is_special(id)) continue;
    added[std::to_string(id)] = {{"content", tok.piece(id)}, {"lstrip", false}, {"normalized", false},
                                 {"rstrip", false},          {"single_word", false}, {"special", true}};
  }
  j["added_tokens_decoder"] = added;
  if (tok.has_chat_tokens()) j["chat_template"] = chat_template_jinja(tok.has_tool_tokens());
  return j;
}

nlohmann::ordered_json hf_special_tokens_map_json(const Tokenizer& tok) {
  nlohmann::ordered_json j;
  j["bos_token"] = piece_or_null(tok, tok.bos_id());
  j["eos_token"] = piece_or_null(tok, tok.eos_id());
  j["unk_token"] = piece_or_null(tok, tok.unk_id());
  j["pad_token"] = piece_or_null(tok, tok.pad_id());
  j["additional_special_tokens"] = chat_pieces(tok);
  return j;
}

uint64_t write_hf_directory(const std::string& dir, const ModelConfig& m, Family f, const NamedTensors& params,
                            const Tokenizer& tok, torch::ScalarType dtype) {
  fs::path d(dir);
  NamedTensors hf = gptforge_to_hf(m, f, params);
  for (auto& [name, t] : hf) t = t.to(torch::kCPU).to(dtype).contiguous();
  // transformers refuses safetensors files whose metadata lacks format=pt.
  std::string bytes = safetensors_bytes(hf, {{"format", "pt"}});
  write_text(d / "model.safetensors", bytes);
  write_text(d / "config.json", hf_config_json(m, f, dtype, tok).dump(2) + "\n");
  write_text(d / "generation_config.json", hf_generation_config_json(tok).dump(2) + "\n");
  write_text(d / "tokenizer.model", tok.serialized());
  write_text(d / "tokenizer_config.json", hf_tokenizer_config_json(tok, m.block_size).dump(2) + "\n");
  write_text(d / "special_tokens_map.json", hf_special_tokens_map_json(tok).dump(2) + "\n");
  return bytes.size();
}

}  // namespace gptforge
