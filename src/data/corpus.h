// Reading raw corpora: plain text or JSONL files, split into documents, with invalid UTF-8 counted
// and replaced (or rejected). Shared by tokenizer training and `gptforge prepare`, so both stages see
// exactly the same text.
#pragma once
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "data/data_config.h"

namespace gptforge {

// How one file is read: data.format (TextFormat) resolved for its path.
enum class InputFormat { Text, Jsonl };

// TextFormat::Auto picks JSONL for *.jsonl / *.ndjson and plain text otherwise.
InputFormat resolve_input_format(TextFormat format, const std::string& path);

struct CorpusOptions {
  Choice<TextFormat> format = TextFormat::Auto;
  std::string jsonl_field = "text";
  DocumentMode documents = DocumentMode::Paragraph;  // plain text only; JSONL has one document a line
  bool reject_invalid_utf8 = false;  // false: replace with U+FFFD and count
  size_t chunk_bytes = 1 << 20;      // longest piece of a file/paragraph document handed out at once
};

// A document, or a piece of a long one. Pieces of one document always end right after a newline,
// so encoding them one by one gives the same tokens as encoding the whole document (no token of a
// sentencepiece model trained by gptforge spans a newline).
struct TextChunk {
  std::string text;
  int file = 0;           // index into CorpusReader::files()
  int64_t line = 0;       // 1-based line where the chunk starts
  bool doc_start = false;  // first chunk of its document
  bool doc_end = false;    // last chunk of its document
};

// Streams the documents of a list of files in order. Documents:
//   file       the whole file, bytes as they are (empty files are skipped);
//   paragraph  runs of non-blank lines, joined by "\n" (blank = only spaces, tabs or CR);
//   line       every non-blank line, without its newline;
//   JSONL      the string field `jsonl_field` of every non-blank line (empty strings are skipped).
// Throws DataError naming file:line for unreadable files, bad JSON, a missing field, or invalid
// UTF-8 under reject.
class CorpusReader {
 public:
  CorpusReader(std::vector<std::string> files, CorpusOptions opts);
  ~CorpusReader();
  CorpusReader(const CorpusReader&) = delete;
  CorpusReader& operator=(const CorpusReader&) = delete;

  // Fills `chunk` with the next document piece; false at the end of the corpus.
  bool next(TextChunk& chunk);

  const std::vector<std::string>& files() const { return files_; }
  int64_t bytes_read() const { return bytes_done_ + next_offset_; }  // file bytes consumed so far
  int64_t invalid_utf8() const { return invalid_utf8_; }
  int64_t documents() const { return documents_; }  // documents completed so far

 private:
  bool open_next_file();
  void close_file();
  bool read_line(std::string& line, bool& newline);  // false at end of file
  bool more_in_file();
  void check_utf8(std::string& line);
  bool next_text(TextChunk& chunk);
  bool next_jsonl(TextChunk& chunk);
  void emit(TextChunk& chunk, std::string&& text, int64_t line, bool start, bool end);

  std::vector<std::string> files_;
  CorpusOptions opts_;
  int file_ = -1;
  std::FILE* fp_ = nullptr;
  InputFormat format_ = InputFormat::Text;
  // Buffered reading of the current file.
  std::vector<char> buf_;
  size_t buf_pos_ = 0, buf_len_ = 0;
  bool eof_ = false;
  int64_t line_no_ = 0, line_offset_ = 0, next_offset_ = 0;
  int64_t bytes_done_ = 0;
  // A document being assembled across calls.
  std::string doc_;
  bool in_doc_ = false;
  int64_t doc_line_ = 0;
  bool doc_started_ = false;
  int64_t invalid_utf8_ = 0;
  int64_t documents_ = 0;
};

}  // namespace gptforge
