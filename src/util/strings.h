// String helpers that several layers need: one definition, so that no file keeps its own copy.
#pragma once

#include <string>
#include <vector>

namespace gptforge {

inline bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// join({"a", "b"}, ", ") == "a, b"
inline std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

}  // namespace gptforge
