// UTF-8 checks shared by every stage that handles text: the corpus reader (count or reject invalid
// input), the tokenizer's streaming decoder and the generators (hold back a character whose bytes
// have not all been generated yet).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace gptforge {

// Invalid UTF-8 sequences in `text` (each maximal invalid subpart counts once, as in the Unicode
// standard's "U+FFFD substitution of maximal subparts"). `first_offset` receives the byte offset of
// the first one, or -1.
int64_t count_invalid_utf8(std::string_view text, int64_t* first_offset = nullptr);
// Replaces every invalid sequence with U+FFFD; returns how many there were.
int64_t replace_invalid_utf8(std::string& text);
// Length of the longest prefix of `text` that does not end inside an incomplete multi-byte
// character (used to stream decoded bytes without cutting a character in half).
size_t complete_utf8_prefix(std::string_view text);
// True when `text` is well-formed UTF-8.
inline bool is_valid_utf8(std::string_view text) { return count_invalid_utf8(text) == 0; }

}  // namespace gptforge
