#include "util/utf8.h"

namespace gptforge {

namespace {

// Length of the valid UTF-8 sequence at text[i], or 0 when the bytes there start an invalid
// sequence; `bad_len` then receives the length of its maximal invalid subpart (at least 1).
size_t utf8_sequence(std::string_view text, size_t i, size_t* bad_len) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;  // no overlong forms
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    *bad_len = 1;
    return 0;
  }
  for (size_t k = 1; k < len; ++k) {
    if (i + k >= text.size() || byte(i + k) < (k == 1 ? lo : 0x80) || byte(i + k) > (k == 1 ? hi : 0xBF)) {
      *bad_len = k;
      return 0;
    }
  }
  return len;
}

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace

int64_t count_invalid_utf8(std::string_view text, int64_t* first_offset) {
  int64_t count = 0;
  if (first_offset) *first_offset = -1;
  size_t i = 0;
  while (i < text.size()) {
    // Fast path over ASCII.
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t bad = 0;
    size_t len = utf8_sequence(text, i, &bad);
    if (len) {
      i += len;
      continue;
    }
    if (count == 0 && first_offset) *first_offset = static_cast<int64_t>(i);
    ++count;
    i += bad;
  }
  return count;
}

int64_t replace_invalid_utf8(std::string& text) {
  if (count_invalid_utf8(text) == 0) return 0;
  std::string out;
  out.reserve(text.size() + 16);
  int64_t count = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t bad = 0;
    size_t len = utf8_sequence(text, i, &bad);
    if (len) {
      out.append(text, i, len);
      i += len;
    } else {
      out += kReplacement;
      ++count;
      i += bad;
    }
  }
  text.swap(out);
  return count;
}

size_t complete_utf8_prefix(std::string_view text) {
  // Look back at most 3 bytes for the lead byte of a character that the text cuts short.
  size_t n = text.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    unsigned char c = static_cast<unsigned char>(text[n - back]);
    if (c < 0x80) return n;  // ASCII: nothing pending
    if (c >= 0xC0) {         // a lead byte: complete when its sequence fits
      size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
      return need > back ? n - back : n;
    }
  }
  return n;
}

}  // namespace gptforge
