// The GGUF export for llama.cpp: llama-family models as the `llama` architecture, gpt2-family
// models as `gpt2` (tensor_mapping.h lists the tensors).
//
// Metadata written (ARCH = llama | gpt2):
//   general.architecture, general.name, general.alignment (32), general.file_type (0 f32, 1 f16, 32 bf16)
//   ARCH.vocab_size, ARCH.context_length (block_size), ARCH.embedding_length (d_model), ARCH.block_count,
//   ARCH.feed_forward_length, ARCH.attention.head_count
//   llama: llama.rope.dimension_count (head_dim), llama.rope.freq_base, llama.attention.head_count_kv,
//          .key_length, .value_length, llama.attention.layer_norm_rms_epsilon
//   gpt2:  gpt2.attention.layer_norm_epsilon
//   tokenizer.ggml.model = "llama" (sentencepiece), .tokens, .scores, .token_type (1 normal,
//   2 unknown, 3 control, 5 unused, 6 byte), .bos/.eos/.unknown/.padding_token_id,
//   .add_bos_token = true, .add_eos_token = false, .add_space_prefix = false (gptforge's models add
//   no dummy prefix), tokenizer.chat_template (when the tokenizer has the chat tokens)
// Matrices are stored in the requested dtype, norm weights and biases always in f32 (as llama.cpp's
// own converter does).
#pragma once
#include <torch/torch.h>

#include <string>

#include "export/gguf_writer.h"
#include "export/tensor_mapping.h"
#include "tokenizer/tokenizer.h"
#include "model/model_config.h"

namespace gptforge {

// Adds the metadata and tensors of the model to `w` and returns its family. Throws CheckpointError
// when the model is not expressible or the tokenizer has more pieces than model.vocab_size.
Family fill_gguf(GgufWriter& w, const ModelConfig& m, const NamedTensors& params, const Tokenizer& tok,
               torch::ScalarType dtype, const std::string& name);

}  // namespace gptforge
