// The probe's outputs: a compact terminal table, a JSON document and a self-contained HTML report
// (inline CSS and JavaScript, no network) with the token table, the logit-lens heatmap and the
// attention maps (layer and head selectable).
//
// JSON layout (probabilities in [0, 1], entropy in bits):
//   { "source", "prompt", "top_k", "entropy_unit": "bits", "n_layer", "n_head",
//     "tokens": [ { "position", "id", "text", "origin" (prompt | model | tool), "entropy",
//                   "next_rank" (null at the last position),
//                   "next_prob" (null there too), "top": [ { "id", "text", "prob" } ] } ],
//     "logit_lens": { "layers": ["embed", "block 0", ...], "top": [layer][position] -> [ {id, text, prob} ] },
//     "attention": [layer][head][query][key] (rounded to 4 decimals) }
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "generate/probe.h"

namespace gptforge {

nlohmann::json probe_json(const ProbeResult& r);
// The HTML report; every text from the prompt or the vocabulary is escaped.
std::string probe_html(const ProbeResult& r);
// One line per position: token, id, entropy, rank of the next token, the top candidates; then the
// logit lens as the top-1 token of each layer per position.
std::string probe_table(const ProbeResult& r);

// & < > " ' as entities.
std::string html_escape(std::string_view s);

}  // namespace gptforge
