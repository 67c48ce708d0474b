#include "generate/stop_strings.h"

#include <algorithm>

namespace gptforge {

size_t find_stop(const std::string& text, const std::vector<std::string>& stops, size_t from) {
  size_t best = std::string::npos;
  for (const auto& s : stops) {
    size_t pos = text.find(s, from);
    if (pos < best) best = pos;
  }
  return best;
}

TextTracker::TextTracker(const Tokenizer& tok, std::vector<std::string> stops, bool show_tool_markers)
    : streamer_(tok, show_tool_markers), stops_(std::move(stops)) {
  for (const auto& s : stops_) longest_stop_ = std::max(longest_stop_, s.size());
}

bool TextTracker::push(int32_t id) {
  if (stopped_ || finished_) return stopped_;
  const size_t before = text_.size();
  text_ += streamer_.push(id);
  token_end_.push_back(std::string::npos);
  if (!streamer_.holding()) {
    for (; unresolved_ < token_end_.size(); ++unresolved_) token_end_[unresolved_] = text_.size();
  }
  if (stops_.empty() || text_.size() == before) return false;
  // A new match must end in the new text, so it starts at most longest_stop_ - 1 bytes earlier.
  const size_t from = before >= longest_stop_ ? before - longest_stop_ + 1 : 0;
  const size_t pos = find_stop(text_, stops_, std::max(from, released_));
  if (pos == std::string::npos) return false;
  text_.resize(pos);
  stopped_ = true;
  return true;
}

size_t TextTracker::holdback() const {
  const size_t open = text_.size() - released_;
  for (size_t len = std::min(open, longest_stop_ > 0 ? longest_stop_ - 1 : 0); len > 0; --len) {
    for (const auto& s : stops_) {
      if (s.size() > len && text_.compare(text_.size() - len, len, s, 0, len) == 0) return len;
    }
  }
  return 0;
}

std::string TextTracker::take_ready() {
  const size_t end = (stopped_ || finished_) ? text_.size() : text_.size() - holdback();
  std::string out = text_.substr(released_, end - released_);
  released_ = end;
  return out;
}

std::string TextTracker::finish() {
  if (!stopped_ && !finished_) text_ += streamer_.flush();
  finished_ = true;
  return take_ready();
}

size_t TextTracker::tokens_before_cut() const {
  if (!stopped_) return token_end_.size();
  // Ends never decrease (npos last): count those at or before the cut.
  return static_cast<size_t>(std::upper_bound(token_end_.begin(), token_end_.end(), text_.size()) - token_end_.begin());
}

}  // namespace gptforge
