#include "export/gguf_export.h"

#include <sentencepiece_processor.h>

#include "tokenizer/chat_template.h"
#include "util/errors.h"

namespace gptforge {

namespace {

uint32_t file_type_for(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat16: return kFileTypeMostlyF16;
    case torch::kBFloat16: return kFileTypeMostlyBF16;
    default: return kFileTypeAllF32;
  }
}

uint32_t u32(int64_t v) { return static_cast<uint32_t>(v); }

// The vocabulary as llama.cpp's sentencepiece ("llama") tokenizer reads it, padded to vocab_size
// with unused pieces when the model has more rows than the tokenizer has pieces.
void add_vocabulary(GgufWriter& w, const Tokenizer& tok, int64_t vocab_size) {
  sentencepiece::SentencePieceProcessor sp;
  if (!sp.LoadFromSerializedProto(tok.serialized()).ok()) {
    throw CheckpointError("checkpoint tokenizer.model is not a sentencepiece model");
  }
  const int64_t n = sp.GetPieceSize();
  if (n > vocab_size) {
    throw CheckpointError("the tokenizer has " + std::to_string(n) + " pieces but model.vocab_size is " +
                          std::to_string(vocab_size));
  }
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  for (int id = 0; id < vocab_size; ++id) {
    if (id >= n) {
      tokens.push_back("[PAD" + std::to_string(id) + "]");
      scores.push_back(-10000.0f);
      types.push_back(static_cast<int32_t>(GgufTokenType::Unused));
      continue;
    }
    GgufTokenType type = GgufTokenType::Normal;
    if (sp.IsUnknown(id)) type = GgufTokenType::Unknown;
    else if (sp.IsControl(id)) type = GgufTokenType::Control;
    else if (sp.IsUnused(id)) type = GgufTokenType::Unused;
    else if (sp.IsByte(id)) type = GgufTokenType::Byte;
    tokens.push_back(sp.IdToPiece(id));
    scores.push_back(sp.GetScore(id));
    types.push_back(static_cast<int32_t>(type));
  }
  w.set("tokenizer.ggml.model", GgufValue::str("llama"));
  w.set("tokenizer.ggml.tokens", GgufValue::strings(tokens));
  w.set("tokenizer.ggml.scores", GgufValue::f32s(scores));
  w.set("tokenizer.ggml.token_type", GgufValue::i32s(types));
  auto set_id = [&](const char* key, int32_t id) {
    if (id >= 0) w.set(key, GgufValue::u32(u32(id)));
  };
  set_id("tokenizer.ggml.bos_token_id", tok.bos_id());
  set_id("tokenizer.ggml.eos_token_id", tok.eos_id());
  set_id("tokenizer.ggml.unknown_token_id", tok.unk_id());
  set_id("tokenizer.ggml.padding_token_id", tok.pad_id());
  // As in the HF export: no <s> before a prompt, which is how gptforge trains and samples.
  w.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(false));
  w.set("tokenizer.ggml.add_eos_token", GgufValue::boolean(false));
  w.set("tokenizer.ggml.add_space_prefix", GgufValue::boolean(false));
  if (tok.has_chat_tokens()) {
    // <|end|> closes every turn: llama.cpp stops a reply on the end-of-turn token.
    set_id("tokenizer.ggml.eot_token_id", tok.special_id(Special::End));
    w.set("tokenizer.chat_template", GgufValue::str(chat_template_jinja(tok.has_tool_tokens())));
  }
}

}  // namespace

Family fill_gguf(GgufWriter& w, const ModelConfig& m, const NamedTensors& params, const Tokenizer& tok,
                 torch::ScalarType dtype, const std::string& name) {
  const Family f = expressible_family(m, "gguf");
  const std::string a = family_name(f);  // llama.cpp's architecture names are the same
  w.set("general.architecture", GgufValue::str(a));
  w.set("general.name", GgufValue::str(name));
  w.set("general.alignment", GgufValue::u32(u32(w.alignment())));
  w.set("general.file_type", GgufValue::u32(file_type_for(dtype)));
  w.set(a + ".vocab_size", GgufValue::u32(u32(m.vocab_size)));
  w.set(a + ".context_length", GgufValue::u32(u32(m.block_size)));
  w.set(a + ".embedding_length", GgufValue::u32(u32(m.d_model)));
  w.set(a + ".block_count", GgufValue::u32(u32(m.n_layer)));
  w.set(a + ".feed_forward_length", GgufValue::u32(u32(m.hidden_size())));
  w.set(a + ".attention.head_count", GgufValue::u32(u32(m.n_head)));
  if (f == Family::Gpt2) {
    w.set(a + ".attention.layer_norm_epsilon", GgufValue::f32(static_cast<float>(m.norm_eps)));
  } else {
    w.set(a + ".rope.dimension_count", GgufValue::u32(u32(m.head_dim())));
    w.set(a + ".rope.freq_base", GgufValue::f32(static_cast<float>(m.rope_theta)));
    w.set(a + ".attention.head_count_kv", GgufValue::u32(u32(m.kv_heads())));
    w.set(a + ".attention.key_length", GgufValue::u32(u32(m.head_dim())));
    w.set(a + ".attention.value_length", GgufValue::u32(u32(m.head_dim())));
    w.set(a + ".attention.layer_norm_rms_epsilon", GgufValue::f32(static_cast<float>(m.norm_eps)));
  }
  add_vocabulary(w, tok, m.vocab_size);

  const GgmlType matrix_type = ggml_type_for(dtype);
  for (const auto& [n, t] : gptforge_to_gguf(m, f, params)) {
    // Norm weights and biases (1-D) stay f32, as llama.cpp's converter stores them.
    w.add_tensor(n, t, t.dim() == 1 ? GgmlType::F32 : matrix_type);
  }
  return f;
}

}  // namespace gptforge
