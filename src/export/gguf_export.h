// The GGUF export for llama.cpp (llama-family models only; tensor_mapping.h lists the tensors).
//
// Metadata written:
//   general.architecture = "llama", general.name, general.alignment (32), general.file_type
//   llama.context_length (block_size), llama.embedding_length (d_model), llama.block_count,
//   llama.feed_forward_length, llama.rope.dimension_count (head_dim), llama.rope.freq_base,
//   llama.attention.head_count, .head_count_kv, .key_length, .value_length,
//   llama.attention.layer_norm_rms_epsilon, llama.vocab_size
//   tokenizer.ggml.model = "llama" (sentencepiece), .tokens, .scores, .token_type (1 normal,
//   2 unknown, 3 control, 5 unused, 6 byte), .bos/.eos/.unknown/.padding_token_id,
//   .add_bos_token = true, .add_eos_token = false, .add_space_prefix = false (gptforge's models add
//   no dummy prefix), tokenizer.chat_template (when the tokenizer has the chat tokens)
// Matrices are stored in the requested dtype, norm weights always in f32 (as llama.cpp's own
// converter does).
#pragma once
#include <torch/torch.h>

#include <string>

#include "export/gguf_writer.h"
#include "export/tensor_mapping.h"
#include "tokenizer/tokenizer.h"
#include "util/config.h"

namespace gptforge {

// Adds the metadata and tensors of a llama-family model to `w`. Throws CheckpointError when the
// model is not expressible or the tokenizer has more pieces than model.vocab_size.
void fill_gguf(GgufWriter& w, const ModelConfig& m, const NamedTensors& params, const Tokenizer& tok,
               torch::ScalarType dtype, const std::string& name);

}  // namespace gptforge
