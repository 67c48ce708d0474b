#include "tokenizer/tokenizer.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <filesystem>

#include "util/errors.h"
#include "util/files.h"
#include "util/utf8.h"

namespace gptforge {

namespace {

constexpr const char* kSpace = "\xE2\x96\x81";  // "▁", sentencepiece's visible space

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

const char* special_piece(Special s) {
  switch (s) {
    case Special::Pad: return "<pad>";
    case Special::Unk: return "<unk>";
    case Special::Bos: return "<s>";
    case Special::Eos: return "</s>";
    case Special::System: return "<|system|>";
    case Special::User: return "<|user|>";
    case Special::Assistant: return "<|assistant|>";
    case Special::End: return "<|end|>";
    case Special::ToolCall: return "<|tool_call|>";
    case Special::ToolResult: return "<|tool_result|>";
    case Special::ToolEnd: return "<|tool_end|>";
  }
  return "";
}

Tokenizer Tokenizer::load(const std::string& path) {
  if (!std::filesystem::exists(path) && std::filesystem::exists(path + ".model")) return load(path + ".model");
  if (!std::filesystem::exists(path)) {
    throw DataError(path + ": no such tokenizer model (train one with `gptforge tokenizer train`)");
  }
  return from_serialized(read_file(path), path);
}

Tokenizer Tokenizer::from_serialized(std::string bytes, const std::string& origin) {
  auto sp = std::make_shared<sentencepiece::SentencePieceProcessor>();
  auto status = sp->LoadFromSerializedProto(bytes);
  if (bytes.empty() || !status.ok() || sp->GetPieceSize() <= 0) {
    throw DataError(origin + ": not a sentencepiece model" +
                    (status.ok() ? std::string(" (empty)") : " (" + std::string(status.message()) + ")"));
  }
  Tokenizer tok;
  tok.bytes_ = std::make_shared<const std::string>(std::move(bytes));
  tok.sp_ = std::move(sp);
  tok.origin_ = origin;
  return tok;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int> ids;
  auto status = sp_->Encode(text, &ids);
  if (!status.ok()) throw DataError(origin_ + ": cannot encode text (" + std::string(status.message()) + ")");
  return std::vector<int32_t>(ids.begin(), ids.end());
}

void Tokenizer::check_id(int32_t id) const {
  if (id < 0 || id >= vocab_size()) {
    throw DataError("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                    std::to_string(vocab_size()) + ") of " + origin_);
  }
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  for (int32_t id : ids) check_id(id);
  std::vector<int> in(ids.begin(), ids.end());
  std::string text;
  auto status = sp_->Decode(in, &text);
  if (!status.ok()) throw DataError(origin_ + ": cannot decode ids (" + std::string(status.message()) + ")");
  return text;
}

std::string Tokenizer::piece(int32_t id) const {
  check_id(id);
  return sp_->IdToPiece(id);
}

std::string Tokenizer::token_bytes(int32_t id) const {
  check_id(id);
  if (sp_->IsControl(id)) return "";
  if (sp_->IsUnknown(id)) return decode({id});
  const std::string& p = sp_->IdToPiece(id);
  if (sp_->IsByte(id)) {  // "<0xAB>"
    int hi = p.size() == 6 ? hex_digit(p[3]) : -1, lo = p.size() == 6 ? hex_digit(p[4]) : -1;
    if (hi >= 0 && lo >= 0) return std::string(1, static_cast<char>(hi * 16 + lo));
  }
  std::string out;
  out.reserve(p.size());
  for (size_t i = 0; i < p.size();) {
    if (p.compare(i, 3, kSpace) == 0) {
      out += ' ';
      i += 3;
    } else {
      out += p[i++];
    }
  }
  return out;
}

int32_t Tokenizer::piece_to_id(const std::string& piece) const {
  int id = sp_->PieceToId(piece);
  // sentencepiece answers unk_id for unknown pieces.
  if (id == sp_->unk_id() && piece != sp_->IdToPiece(id)) return -1;
  return id;
}

int64_t Tokenizer::vocab_size() const { return sp_->GetPieceSize(); }
int32_t Tokenizer::pad_id() const { return sp_->pad_id(); }
int32_t Tokenizer::unk_id() const { return sp_->unk_id(); }
int32_t Tokenizer::bos_id() const { return sp_->bos_id(); }
int32_t Tokenizer::eos_id() const { return sp_->eos_id(); }

int32_t Tokenizer::special_id(Special s) const {
  switch (s) {
    case Special::Pad: return pad_id();
    case Special::Unk: return unk_id();
    case Special::Bos: return bos_id();
    case Special::Eos: return eos_id();
    default: break;
  }
  int32_t id = piece_to_id(special_piece(s));
  return id >= 0 && sp_->IsControl(id) ? id : -1;
}

bool Tokenizer::has_chat_tokens() const {
  for (Special s : {Special::System, Special::User, Special::Assistant, Special::End}) {
    if (special_id(s) < 0) return false;
  }
  return true;
}

bool Tokenizer::has_tool_tokens() const {
  for (Special s : {Special::ToolCall, Special::ToolResult, Special::ToolEnd}) {
    if (special_id(s) < 0) return false;
  }
  return true;
}

bool Tokenizer::is_special(int32_t id) const {
  check_id(id);
  return sp_->IsControl(id) || sp_->IsUnknown(id);
}

bool Tokenizer::is_byte(int32_t id) const {
  check_id(id);
  return sp_->IsByte(id);
}

TokenStreamer::TokenStreamer(const Tokenizer& tok, bool show_tool_markers) : tok_(tok) {
  if (!show_tool_markers) return;
  for (Special s : {Special::ToolCall, Special::ToolResult, Special::ToolEnd}) {
    if (tok.special_id(s) >= 0) shown_.push_back(tok.special_id(s));
  }
}

std::string TokenStreamer::push(int32_t id) {
  if (std::find(shown_.begin(), shown_.end(), id) != shown_.end()) {
    pending_ += tok_.piece(id);
  } else {
    pending_ += tok_.token_bytes(id);
  }
  size_t n = complete_utf8_prefix(pending_);
  std::string out = pending_.substr(0, n);
  pending_.erase(0, n);
  replace_invalid_utf8(out);
  return out;
}

std::string TokenStreamer::flush() {
  std::string out;
  out.swap(pending_);
  replace_invalid_utf8(out);
  return out;
}

}  // namespace gptforge
