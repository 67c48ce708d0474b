// The web chat page served at `/`: src/serve/chat_page.html, one self-contained file (no external
// script, style or font: it works without a network), compiled into the binary as a string by
// CMake (a generated header). The page talks to /v1/chat/completions with "stream": true.
#pragma once
#include <string>

namespace gptforge {

const std::string& chat_page_html();

}  // namespace gptforge
