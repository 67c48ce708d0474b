#include "data/corpus.h"

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "util/errors.h"
#include "util/strings.h"
#include "util/utf8.h"

namespace gptforge {

namespace {

bool is_blank(const std::string& line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\f' && c != '\v') return false;
  }
  return true;
}

}  // namespace

InputFormat resolve_input_format(TextFormat format, const std::string& path) {
  switch (format) {
    case TextFormat::Jsonl: return InputFormat::Jsonl;
    case TextFormat::Text: return InputFormat::Text;
    case TextFormat::Auto: break;
  }
  return ends_with(path, ".jsonl") || ends_with(path, ".ndjson") ? InputFormat::Jsonl : InputFormat::Text;
}

CorpusReader::CorpusReader(std::vector<std::string> files, CorpusOptions opts)
    : files_(std::move(files)), opts_(std::move(opts)), buf_(1 << 20) {
  if (opts_.chunk_bytes == 0) opts_.chunk_bytes = 1;
}

CorpusReader::~CorpusReader() { close_file(); }

bool CorpusReader::open_next_file() {
  if (++file_ >= static_cast<int>(files_.size())) return false;
  const std::string& path = files_[file_];
  fp_ = std::fopen(path.c_str(), "rb");
  if (!fp_) throw DataError(path + ": cannot open (" + std::strerror(errno) + ")");
  format_ = resolve_input_format(opts_.format, path);
  buf_pos_ = buf_len_ = 0;
  eof_ = false;
  line_no_ = line_offset_ = next_offset_ = 0;
  in_doc_ = false;
  doc_.clear();
  return true;
}

void CorpusReader::close_file() {
  if (!fp_) return;
  std::fclose(fp_);
  fp_ = nullptr;
  bytes_done_ += next_offset_;
  next_offset_ = 0;
}

bool CorpusReader::more_in_file() {
  if (buf_pos_ < buf_len_) return true;
  if (eof_) return false;
  buf_len_ = std::fread(buf_.data(), 1, buf_.size(), fp_);
  buf_pos_ = 0;
  if (buf_len_ == 0) {
    if (std::ferror(fp_)) throw DataError(files_[file_] + ": read error (" + std::strerror(errno) + ")");
    eof_ = true;
  }
  return buf_len_ > 0;
}

bool CorpusReader::read_line(std::string& line, bool& newline) {
  line.clear();
  newline = false;
  while (more_in_file()) {
    const char* start = buf_.data() + buf_pos_;
    size_t avail = buf_len_ - buf_pos_;
    const void* nl = std::memchr(start, '\n', avail);
    if (nl) {
      size_t n = static_cast<const char*>(nl) - start;
      line.append(start, n);
      buf_pos_ += n + 1;
      newline = true;
      break;
    }
    line.append(start, avail);
    buf_pos_ = buf_len_;
  }
  if (!newline && line.empty()) return false;
  ++line_no_;
  line_offset_ = next_offset_;
  next_offset_ += static_cast<int64_t>(line.size()) + (newline ? 1 : 0);
  // A UTF-8 byte order mark is an encoding marker, not text.
  if (line_no_ == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) {
    line.erase(0, 3);
    line_offset_ += 3;
  }
  return true;
}

void CorpusReader::check_utf8(std::string& line) {
  int64_t first = -1;
  int64_t bad = count_invalid_utf8(line, &first);
  if (bad == 0) return;
  if (opts_.reject_invalid_utf8) {
    throw DataError(files_[file_] + ":" + std::to_string(line_no_) + ": invalid UTF-8 at byte offset " +
                    std::to_string(line_offset_ + first) +
                    " (data.invalid_utf8=reject; set data.invalid_utf8=replace to substitute U+FFFD)");
  }
  replace_invalid_utf8(line);
  invalid_utf8_ += bad;
}

void CorpusReader::emit(TextChunk& chunk, std::string&& text, int64_t line, bool start, bool end) {
  chunk.text = std::move(text);
  chunk.file = file_;
  chunk.line = line;
  chunk.doc_start = start;
  chunk.doc_end = end;
  if (end) ++documents_;
}

bool CorpusReader::next(TextChunk& chunk) {
  for (;;) {
    if (!fp_ && !open_next_file()) return false;
    bool got = format_ == InputFormat::Jsonl ? next_jsonl(chunk) : next_text(chunk);
    if (got) return true;
    close_file();
  }
}

bool CorpusReader::next_text(TextChunk& chunk) {
  std::string line;
  bool newline = false;
  switch (opts_.documents) {
    case DocumentMode::Line:
      while (read_line(line, newline)) {
        check_utf8(line);
        if (is_blank(line)) continue;
        emit(chunk, std::move(line), line_no_, true, true);
        return true;
      }
      return false;

    case DocumentMode::Paragraph:
      while (read_line(line, newline)) {
        check_utf8(line);
        if (is_blank(line)) {
          if (!in_doc_) continue;
          in_doc_ = false;
          emit(chunk, std::move(doc_), doc_line_, !doc_started_, true);
          return true;
        }
        if (!in_doc_) {
          in_doc_ = true;
          doc_started_ = false;
          doc_ = std::move(line);
          doc_line_ = line_no_;
          continue;
        }
        doc_ += '\n';
        if (doc_.size() >= opts_.chunk_bytes) {
          // Hand out what we have; the chunk ends right after a newline.
          emit(chunk, std::move(doc_), doc_line_, !doc_started_, false);
          doc_started_ = true;
          doc_ = std::move(line);
          doc_line_ = line_no_;
          return true;
        }
        doc_ += line;
      }
      if (!in_doc_) return false;
      in_doc_ = false;
      emit(chunk, std::move(doc_), doc_line_, !doc_started_, true);
      return true;

    case DocumentMode::File:
      while (read_line(line, newline)) {
        check_utf8(line);
        if (!in_doc_) {
          in_doc_ = true;
          doc_started_ = false;
          doc_.clear();
          doc_line_ = line_no_;
        }
        doc_ += line;
        if (newline) doc_ += '\n';
        if (newline && doc_.size() >= opts_.chunk_bytes && more_in_file()) {
          emit(chunk, std::move(doc_), doc_line_, !doc_started_, false);
          doc_started_ = true;
          doc_.clear();
          doc_line_ = line_no_ + 1;
          return true;
        }
      }
      if (!in_doc_) return false;
      in_doc_ = false;
      emit(chunk, std::move(doc_), doc_line_, !doc_started_, true);
      return true;
  }
  return false;
}

bool CorpusReader::next_jsonl(TextChunk& chunk) {
  std::string line;
  bool newline = false;
  const std::string& path = files_[file_];
  while (read_line(line, newline)) {
    if (is_blank(line)) continue;
    // Replace (or reject) invalid bytes first: the JSON parser refuses them outright.
    check_utf8(line);
    std::string where = path + ":" + std::to_string(line_no_);
    nlohmann::json record;
    try {
      record = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      std::string msg = e.what();
      size_t cut = msg.find("] ");
      throw DataError(where + ": invalid JSON: " + (cut == std::string::npos ? msg : msg.substr(cut + 2)));
    }
    if (!record.is_object()) throw DataError(where + ": expected a JSON object on every line");
    auto it = record.find(opts_.jsonl_field);
    if (it == record.end() || !it->is_string()) {
      throw DataError(where + ": no string field '" + opts_.jsonl_field + "' (set data.jsonl_field to the field "
                      "holding the text)");
    }
    std::string text = it->get<std::string>();
    if (text.empty()) continue;
    emit(chunk, std::move(text), line_no_, true, true);
    return true;
  }
  return false;
}

}  // namespace gptforge
