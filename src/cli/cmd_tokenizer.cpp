// `gptforge tokenizer train|encode|decode|show`: train a sentencepiece model and look at what it does.
#include <cstdio>
#include <iostream>
#include <iterator>

#include "cli/app.h"
#include "data/instruct.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "data/tokenizer_corpus.h"
#include "util/errors.h"
#include "util/log.h"
#include "util/runtime.h"

namespace gptforge::cli {

namespace {

// Options of the commands that use a trained model: --model, or data.tokenizer of --config.
struct ModelOptions {
  std::string model;
  std::string config;
};

void add_model_options(CLI::App* cmd, ModelOptions& opts) {
  cmd->add_option("-m,--model", opts.model, "Tokenizer model (PREFIX.model); default: data.tokenizer of --config");
  cmd->add_option("-c,--config", opts.config, "Config whose data.tokenizer names the model");
}

Tokenizer load_model(const ModelOptions& opts) {
  std::string path = opts.model.empty() ? load_config(opts.config).data.tokenizer : opts.model;
  return Tokenizer::load(path);
}

// The text argument, or standard input when it is absent or "-".
std::string text_argument(const std::string& text, bool given) {
  if (given && text != "-") return text;
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

// A piece with control characters made visible ("\n" for a newline inside a piece).
std::string visible(const std::string& piece) {
  std::string out;
  for (unsigned char c : piece) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20) out += strprintf("\\x%02x", c);
    else out += static_cast<char>(c);
  }
  return out;
}

}  // namespace

void register_tokenizer(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenizer", "Train a sentencepiece tokenizer, encode, decode and inspect text");
  cmd->require_subcommand(1);

  auto train_opts = std::make_shared<CommonOptions>();
  auto* train = cmd->add_subcommand("train", "Train on data.inputs; writes tokenizer.model_prefix.{model,vocab}");
  add_common_options(train, *train_opts);
  train->callback([train_opts] {
    Config cfg = load_command_config(*train_opts);
    require_keys(cfg, {"data.inputs"}, "tokenizer train");
    TokenizerTrainStats s =
        train_tokenizer(cfg.tokenizer, cfg.data, effective_threads(cfg.run), static_cast<uint64_t>(cfg.run.seed));
    std::printf("trained %s tokenizer: %lld pieces (ids 0-%d special, %s)\n", cfg.tokenizer.model_type.name(),
                static_cast<long long>(s.vocab_size), kNumReservedIds - 1,
                cfg.tokenizer.byte_fallback ? "then 256 bytes" : "no byte fallback");
    std::printf("corpus: %lld file(s), %lld lines, %lld bytes, invalid UTF-8 %lld\n", static_cast<long long>(s.files),
                static_cast<long long>(s.sentences), static_cast<long long>(s.bytes),
                static_cast<long long>(s.invalid_utf8));
    std::printf("wrote %s and %s in %.1fs\n", s.model_path.c_str(), s.vocab_path.c_str(), s.seconds);
  });

  struct TextArgs {
    ModelOptions model;
    std::string text;
  };
  auto enc = std::make_shared<TextArgs>();
  auto* encode = cmd->add_subcommand("encode", "Print the token ids of TEXT (standard input when omitted)");
  add_model_options(encode, enc->model);
  auto* enc_text = encode->add_option("text", enc->text, "Text to encode; '-' or omitted reads standard input");
  auto chat = std::make_shared<bool>(false);
  encode->add_flag("--chat", *chat,
                   "TEXT is a conversation as JSON ([{\"role\": ..., \"content\": ...}, ...]): print its ids on the chat "
                   "template, with the assistant's opening when the last message is not the assistant's");
  encode->callback([enc, enc_text, chat] {
    Tokenizer tok = load_model(enc->model);
    const std::string text = text_argument(enc->text, enc_text->count() > 0);
    std::vector<int32_t> ids;
    if (*chat) {
      std::vector<ChatMessage> messages = parse_chat_messages(text, "--chat conversation");
      const bool open_reply = messages.empty() || messages.back().role != "assistant";
      ids = render_chat(tok, messages, open_reply).ids;
    } else {
      ids = tok.encode(text);
    }
    std::string line;
    for (size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
    std::printf("%s\n", line.c_str());
  });

  struct IdArgs {
    ModelOptions model;
    std::vector<int64_t> ids;
  };
  auto dec = std::make_shared<IdArgs>();
  auto* decode = cmd->add_subcommand("decode", "Print the text of token ids");
  add_model_options(decode, dec->model);
  decode->add_option("ids", dec->ids, "Token ids")->required();
  decode->callback([dec] {
    Tokenizer tok = load_model(dec->model);
    std::vector<int32_t> ids;
    for (int64_t id : dec->ids) {
      if (id < 0 || id >= tok.vocab_size()) {
        throw UsageError("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                         std::to_string(tok.vocab_size()) + ")");
      }
      ids.push_back(static_cast<int32_t>(id));
    }
    std::printf("%s\n", tok.decode(ids).c_str());
  });

  auto show_args = std::make_shared<TextArgs>();
  auto* show = cmd->add_subcommand("show", "Show how TEXT splits into pieces (or, without TEXT, the model's layout)");
  add_model_options(show, show_args->model);
  auto* show_text = show->add_option("text", show_args->text, "Text to split; '-' reads standard input");
  show->callback([show_args, show_text] {
    Tokenizer tok = load_model(show_args->model);
    if (show_text->count() == 0) {
      std::printf("vocab size  %lld\n", static_cast<long long>(tok.vocab_size()));
      for (Special s : {Special::Pad, Special::Unk, Special::Bos, Special::Eos, Special::System, Special::User,
                        Special::Assistant, Special::End, Special::ToolCall, Special::ToolResult, Special::ToolEnd}) {
        std::printf("%-16s %d\n", special_piece(s), tok.special_id(s));
      }
      return;
    }
    std::string text = text_argument(show_args->text, true);
    std::vector<int32_t> ids = tok.encode(text);
    for (int32_t id : ids) {
      std::printf("%7d  %s%s\n", id, visible(tok.piece(id)).c_str(), tok.is_byte(id) ? "  (byte)" : "");
    }
    std::printf("%zu tokens for %zu bytes (%.2f bytes/token)\n", ids.size(), text.size(),
                ids.empty() ? 0.0 : static_cast<double>(text.size()) / ids.size());
  });
}

}  // namespace gptforge::cli
