// The tokenizer every stage shares: a sentencepiece model (BPE, unigram or char) with byte fallback,
// so any UTF-8 text round-trips byte for byte, and special tokens reserved at fixed ids:
//
//   0 <pad>   1 <unk>   2 <s> (bos)   3 </s> (eos)
//   4 <|system|>   5 <|user|>   6 <|assistant|>   7 <|end|>     (chat roles, for sft and chat)
//   8 <|tool_call|>   9 <|tool_result|>   10 <|tool_end|>          (tool calls, generate/tool_calls.h)
//   11..266 <0x00>..<0xFF>  byte-fallback pieces, then the learned pieces
//
// Tokenizers trained before the tool tokens were reserved have their byte pieces at 8..263 and no
// tool tokens. They load and work as before: every special is found by its piece, not its id
// (special_id answers -1 for one a tokenizer lacks, has_tool_tokens() false), and asking such a
// tokenizer for tools is an error that says so (require_tool_tokens, chat_template.h).
//
// The specials are sentencepiece control symbols: ordinary text never encodes to them (the text
// "<|user|>" becomes several ordinary pieces), and decode() drops them. Build a chat prompt by
// concatenating ids: {special_id(Special::User)} + encode(text) + {special_id(Special::End)}.
//
// Streaming: decode() of the growing id sequence is always correct; TokenStreamer (below) does it in
// O(1) per token by concatenating token_bytes() and holding back an incomplete UTF-8 character.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace gptforge {

enum class Special { Pad, Unk, Bos, Eos, System, User, Assistant, End, ToolCall, ToolResult, ToolEnd };

// The fixed ids of tokenizers trained by gptforge.
constexpr int32_t kPadId = 0;
constexpr int32_t kUnkId = 1;
constexpr int32_t kBosId = 2;
constexpr int32_t kEosId = 3;
constexpr int32_t kSystemId = 4;
constexpr int32_t kUserId = 5;
constexpr int32_t kAssistantId = 6;
constexpr int32_t kEndId = 7;
constexpr int32_t kToolCallId = 8;
constexpr int32_t kToolResultId = 9;
constexpr int32_t kToolEndId = 10;
constexpr int32_t kNumReservedIds = 11;

// The piece text of a special token: "<pad>", "<unk>", "<s>", "</s>", "<|system|>", ...
const char* special_piece(Special s);

class Tokenizer {
 public:
  // Loads PREFIX.model (PREFIX alone works too). Throws DataError naming the file when it is missing or
  // not a model.
  static Tokenizer load(const std::string& path);
  // From the bytes of a .model file (checkpoints carry them). `origin` names the source in errors.
  static Tokenizer from_serialized(std::string bytes, const std::string& origin = "serialized tokenizer");

  // The .model file's bytes: from_serialized(serialized()) gives the same tokenizer.
  const std::string& serialized() const { return *bytes_; }

  std::vector<int32_t> encode(std::string_view text) const;
  // Special tokens decode to nothing. Throws DataError for an id outside [0, vocab_size()).
  std::string decode(const std::vector<int32_t>& ids) const;
  // The piece as sentencepiece stores it: "▁the", "<0x0A>", "<|user|>".
  std::string piece(int32_t id) const;
  // The bytes `id` contributes to decode(): "▁" becomes a space, <0xNN> the byte NN, specials "".
  // Concatenating token_bytes of a sequence gives decode() of it (before UTF-8 repair).
  std::string token_bytes(int32_t id) const;
  // Piece id, or -1 when `piece` is not in the vocabulary.
  int32_t piece_to_id(const std::string& piece) const;

  int64_t vocab_size() const;
  int32_t pad_id() const;
  int32_t unk_id() const;
  int32_t bos_id() const;
  int32_t eos_id() const;
  // The id of a special token, or -1 when this model lacks it (a model gptforge did not train).
  int32_t special_id(Special s) const;
  // All four chat role tokens are present as control symbols.
  bool has_chat_tokens() const;
  // <|tool_call|>, <|tool_result|> and <|tool_end|> are present as control symbols (tokenizers
  // trained before they were reserved lack them).
  bool has_tool_tokens() const;
  // A control or unknown token (never produced by text, decodes to nothing or "⁇").
  bool is_special(int32_t id) const;
  bool is_byte(int32_t id) const;

 private:
  Tokenizer() = default;
  void check_id(int32_t id) const;

  std::shared_ptr<const std::string> bytes_;
  std::shared_ptr<const sentencepiece::SentencePieceProcessor> sp_;
  std::string origin_;
};

// Turns generated ids into text as they come: push() returns the text that is final so far,
// holding back the bytes of a character whose remaining bytes have not been generated yet.
// With show_tool_markers, the tool tokens (<|tool_call|>, <|tool_result|>, <|tool_end|>) appear as
// their piece text instead of nothing, so that a reply that called a tool shows where it did.
class TokenStreamer {
 public:
  explicit TokenStreamer(const Tokenizer& tok, bool show_tool_markers = false);
  std::string push(int32_t id);
  // Whatever is still held back (an incomplete character becomes U+FFFD).
  std::string flush();
  // True while the bytes of an incomplete character are held back.
  bool holding() const { return !pending_.empty(); }

 private:
  const Tokenizer& tok_;
  std::vector<int32_t> shown_;  // ids that decode to their piece (the tool markers, when shown)
  std::string pending_;
};

}  // namespace gptforge
