// The text side of one generated sequence: decodes ids as they come (through a TokenStreamer: an
// incomplete character waits for its remaining bytes, invalid bytes become U+FFFD), watches for
// stop strings, and hands out only text that is final, so a stop string (or the start of one that
// may still complete) is never shown.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace gptforge {

class TextTracker {
 public:
  // `stops` must not contain empty strings. show_tool_markers: see TokenStreamer.
  TextTracker(const Tokenizer& tok, std::vector<std::string> stops, bool show_tool_markers = false);

  // Adds a generated id. Returns true when a stop string appeared: the text then ends just before
  // it and further pushes are ignored.
  bool push(int32_t id);
  // Final text not handed out yet: complete characters that cannot be part of a stop string.
  std::string take_ready();
  // Ends the sequence (no stop string can complete any more): the text not handed out yet, an
  // incomplete character as U+FFFD.
  std::string finish();

  // The text so far (cut before the stop string once stopped).
  const std::string& text() const { return text_; }
  bool stopped() const { return stopped_; }
  // How many of the pushed ids lie wholly before the stop string (all of them when not stopped).
  size_t tokens_before_cut() const;

 private:
  // Length of the longest end of the unreleased text that begins some stop string.
  size_t holdback() const;

  TokenStreamer streamer_;
  std::vector<std::string> stops_;
  size_t longest_stop_ = 0;
  std::string text_;
  size_t released_ = 0;            // bytes of text_ handed out
  // Per pushed id, the length of text_ once its bytes were all in it (npos while some are pending).
  std::vector<size_t> token_end_;
  size_t unresolved_ = 0;          // first id whose end is not known yet
  bool stopped_ = false, finished_ = false;
};

// The position of the earliest stop string in `text` at or after `from`, or npos.
size_t find_stop(const std::string& text, const std::vector<std::string>& stops, size_t from = 0);

}  // namespace gptforge
