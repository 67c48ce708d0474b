#include "generate/probe_report.h"

#include <algorithm>
#include <cmath>

#include "util/log.h"

namespace gptforge {
namespace {

nlohmann::json candidates_json(const std::vector<TokenCandidate>& cands) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : cands) out.push_back({{"id", c.id}, {"text", c.text}, {"prob", c.prob}});
  return out;
}

double round4(double x) { return std::round(x * 1e4) / 1e4; }

// Number of code points (the terminal width of the text, near enough).
size_t display_width(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// `s` quoted, cut to `width` code points with "…", padded on the right.
std::string cell(const std::string& s, size_t width, bool quote = true) {
  std::string text = quote ? "\"" + s + "\"" : s;
  if (display_width(text) > width) {
    std::string cut;
    size_t n = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      const bool starts = (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
      if (starts && ++n > width - 1) break;
      cut += text[i];
    }
    text = cut + "…";
  }
  return text + std::string(width - std::min(width, display_width(text)), ' ');
}

// Background colour for a probability: white -> deep blue (lens) or white -> deep orange (attention).
std::string heat(double p) {
  const double l = 97.0 - 55.0 * std::clamp(p, 0.0, 1.0);
  return strprintf("hsl(214, 80%%, %.0f%%)", l);
}

// JSON for a <script type="application/json"> block: '<', '>' and '&' only occur inside strings,
// where \u escapes mean the same, and "</script>" can no longer end the block.
std::string script_safe_json(const nlohmann::json& j) {
  std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '<') out += "\\u003c";
    else if (c == '>') out += "\\u003e";
    else if (c == '&') out += "\\u0026";
    else out += c;
  }
  return out;
}

// A token's text for a chip: escaped, spaces shown as a grey middle dot (so " the" and "the" differ).
std::string chip(const std::string& text) {
  std::string out;
  for (char c : html_escape(text)) {
    if (c == ' ') out += "<span class=\"sp\">&middot;</span>";
    else out += c;
  }
  return out;
}

std::string candidates_title(const std::string& head, const std::vector<TokenCandidate>& cands) {
  std::string t = head;
  for (const auto& c : cands) t += strprintf("\n%6.2f%%  ", 100 * c.prob) + c.text;
  return t;
}

const char* kStyle = R"CSS(
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #1d2430; background: #fafbfc; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 8px; border-bottom: 1px solid #d8dee6; padding-bottom: 4px; }
.meta { color: #5a6472; margin-bottom: 8px; }
.prompt { background: #fff; border: 1px solid #d8dee6; border-radius: 6px; padding: 8px 12px; white-space: pre-wrap; font-family: ui-monospace, Menlo, Consolas, monospace; }
.note { color: #5a6472; font-size: 12px; margin: 4px 0 8px; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; }
table.tokens td, table.tokens th { padding: 3px 8px; border-bottom: 1px solid #e6eaf0; text-align: left; vertical-align: middle; }
table.tokens th { font-weight: 600; color: #3b4452; background: #f0f3f7; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.tok { font-family: ui-monospace, Menlo, Consolas, monospace; white-space: pre; background: #eef2f7; border-radius: 3px; padding: 0 3px; }
.cand { display: inline-block; margin: 1px 6px 1px 0; }
.cand .bar { display: inline-block; height: 8px; background: #5b8def; vertical-align: middle; margin-left: 3px; border-radius: 2px; }
.cand .p { color: #5a6472; font-size: 12px; margin-left: 2px; }
.ent { display: inline-block; height: 8px; background: #e8a33d; border-radius: 2px; vertical-align: middle; margin-left: 4px; }
.sp { opacity: 0.5; }
.rank1 { color: #1a7f37; font-weight: 600; }
tr.model td { background: #f4f9f4; }
tr.tool td { background: #fdf3e1; }
.rankbad { color: #b42318; }
table.heat td, table.heat th { padding: 0; }
table.heat td.c { width: 58px; min-width: 58px; max-width: 58px; height: 22px; font: 11px ui-monospace, Menlo, Consolas, monospace; text-align: center; overflow: hidden; white-space: pre; text-overflow: ellipsis; border: 1px solid #fff; cursor: default; }
table.heat td.hit { outline: 2px solid #1a7f37; outline-offset: -2px; font-weight: 700; }
table.heat th.row { text-align: right; padding-right: 8px; font-weight: 500; color: #3b4452; white-space: nowrap; font-size: 12px; }
table.heat th.col { font: 11px ui-monospace, Menlo, Consolas, monospace; font-weight: 500; max-width: 58px; overflow: hidden; text-overflow: ellipsis; white-space: pre; padding: 2px 1px; color: #3b4452; }
table.heat tr.target th.col { color: #1a7f37; }
.controls { margin: 6px 0 10px; }
.controls label { margin-right: 14px; }
.controls select { font: inherit; padding: 1px 4px; }
#att td.a { width: 18px; height: 18px; min-width: 18px; border: 1px solid #fff; }
#att th.q { text-align: right; padding-right: 6px; font: 11px ui-monospace, Menlo, Consolas, monospace; font-weight: 500; white-space: pre; max-width: 120px; overflow: hidden; text-overflow: ellipsis; }
#att th.k { font: 11px ui-monospace, Menlo, Consolas, monospace; font-weight: 500; white-space: pre; writing-mode: vertical-rl; transform: rotate(180deg); text-align: left; max-height: 90px; overflow: hidden; padding: 2px 0; }
.legend { display: inline-block; width: 160px; height: 10px; vertical-align: middle; border: 1px solid #d8dee6; margin: 0 6px; }
)CSS";

const char* kScript = R"JS(
(function () {
  var data = JSON.parse(document.getElementById('probe-data').textContent);
  var layerSel = document.getElementById('att-layer'), headSel = document.getElementById('att-head');
  var L = data.n_layer, H = data.n_head, T = data.tokens.length;
  for (var l = 0; l < L; l++) layerSel.add(new Option('layer ' + l, l));
  headSel.add(new Option('mean of heads', -1));
  for (var h = 0; h < H; h++) headSel.add(new Option('head ' + h, h));
  headSel.value = '0';
  function shown(t) { return t.replace(/ /g, '\u00b7'); }
  function colour(p) { return 'hsl(24, 90%, ' + (97 - 52 * Math.min(1, Math.max(0, p))) + '%)'; }
  function weights(l, h) {
    if (h >= 0) return data.attention[l][h];
    var m = [];
    for (var q = 0; q < T; q++) {
      m.push([]);
      for (var k = 0; k < T; k++) {
        var s = 0;
        for (var hh = 0; hh < H; hh++) s += data.attention[l][hh][q][k];
        m[q].push(s / H);
      }
    }
    return m;
  }
  function draw() {
    var l = +layerSel.value, h = +headSel.value, w = weights(l, h);
    var table = document.getElementById('att');
    while (table.firstChild) table.removeChild(table.firstChild);
    var head = table.insertRow();
    var corner = document.createElement('th');
    corner.textContent = 'query \u2193  key \u2192';
    corner.className = 'q';
    head.appendChild(corner);
    for (var k = 0; k < T; k++) {
      var th = document.createElement('th');
      th.className = 'k';
      th.textContent = shown(data.tokens[k].text);
      th.title = k + ': ' + data.tokens[k].text;
      head.appendChild(th);
    }
    for (var q = 0; q < T; q++) {
      var row = table.insertRow();
      var qh = document.createElement('th');
      qh.className = 'q';
      qh.textContent = q + ' ' + shown(data.tokens[q].text);
      row.appendChild(qh);
      for (var k2 = 0; k2 < T; k2++) {
        var c = row.insertCell();
        c.className = 'a';
        if (k2 <= q) {
          var p = w[q][k2];
          c.style.background = colour(p);
          c.title = 'query ' + q + ' "' + data.tokens[q].text + '"  \u2192  key ' + k2 + ' "' + data.tokens[k2].text +
                    '": ' + p.toFixed(3);
        } else {
          c.style.background = '#f3f4f6';
        }
      }
    }
  }
  layerSel.onchange = draw;
  headSel.onchange = draw;
  draw();
})();
)JS";

}  // namespace

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

nlohmann::json probe_json(const ProbeResult& r) {
  nlohmann::json j;
  j["source"] = r.source;
  j["prompt"] = r.prompt;
  j["top_k"] = r.top_k;
  j["entropy_unit"] = "bits";
  j["n_layer"] = r.attention.defined() ? r.attention.size(0) : 0;
  j["n_head"] = r.attention.defined() ? r.attention.size(1) : 0;
  nlohmann::json tokens = nlohmann::json::array();
  for (size_t i = 0; i < r.positions.size(); ++i) {
    const ProbePosition& p = r.positions[i];
    nlohmann::json t = {{"position", i}, {"id", p.id}, {"text", p.text}, {"origin", p.origin},
                        {"entropy", p.entropy_bits}, {"top", candidates_json(p.top)}};
    t["next_rank"] = p.next_rank > 0 ? nlohmann::json(p.next_rank) : nlohmann::json(nullptr);
    t["next_prob"] = p.next_rank > 0 ? nlohmann::json(p.next_prob) : nlohmann::json(nullptr);
    tokens.push_back(std::move(t));
  }
  j["tokens"] = std::move(tokens);
  nlohmann::json layers = nlohmann::json::array(), lens_top = nlohmann::json::array();
  for (const auto& layer : r.lens) {
    layers.push_back(layer.name);
    nlohmann::json per_pos = nlohmann::json::array();
    for (const auto& cands : layer.top) per_pos.push_back(candidates_json(cands));
    lens_top.push_back(std::move(per_pos));
  }
  j["logit_lens"] = {{"layers", layers}, {"top", lens_top}};
  nlohmann::json att = nlohmann::json::array();
  if (r.attention.defined()) {
    auto a = r.attention.to(torch::kCPU, torch::kFloat).contiguous();
    auto acc = a.accessor<float, 4>();
    for (int64_t l = 0; l < a.size(0); ++l) {
      nlohmann::json heads = nlohmann::json::array();
      for (int64_t h = 0; h < a.size(1); ++h) {
        nlohmann::json rows = nlohmann::json::array();
        for (int64_t q = 0; q < a.size(2); ++q) {
          nlohmann::json row = nlohmann::json::array();
          for (int64_t k = 0; k < a.size(3); ++k) row.push_back(round4(acc[l][h][q][k]));
          rows.push_back(std::move(row));
        }
        heads.push_back(std::move(rows));
      }
      att.push_back(std::move(heads));
    }
  }
  j["attention"] = std::move(att);
  return j;
}

std::string probe_table(const ProbeResult& r) {
  std::string out = strprintf("%4s  %-6s %-14s %7s %8s  %-16s  %s\n", "pos", "from", "token", "id", "entropy",
                              "next: rank (p)", "top candidates for the next token");
  for (size_t i = 0; i < r.positions.size(); ++i) {
    const ProbePosition& p = r.positions[i];
    std::string rank = p.next_rank > 0 ? strprintf("%lld (%.3f)", (long long)p.next_rank, p.next_prob) : "-";
    std::string cands;
    for (size_t c = 0; c < p.top.size(); ++c) {
      if (c) cands += "  ";
      cands += "\"" + p.top[c].text + "\" " + strprintf("%.3f", p.top[c].prob);
    }
    out += strprintf("%4zu  %-6s ", i, p.origin.c_str()) + cell(p.text, 14) + strprintf(" %7d %8.3f  ", p.id, p.entropy_bits) +
           cell(rank, 16, false) + "  " + cands + "\n";
  }
  out += "entropy in bits; rank 1 = the model's top guess was the token that follows; from: prompt, model "
         "(generated) or tool (a tool's result, forced: not the model's choice)\n";
  if (!r.lens.empty()) {
    out += "\nlogit lens: top-1 token of each layer's residual (* = the token that follows)\n";
    out += strprintf("%4s  ", "pos") + cell("token", 12, false);
    for (const auto& layer : r.lens) out += " " + cell(layer.name, 12, false);
    out += "\n";
    for (size_t i = 0; i < r.positions.size(); ++i) {
      out += strprintf("%4zu  ", i) + cell(r.positions[i].text, 12);
      const bool has_next = i + 1 < r.positions.size();
      for (const auto& layer : r.lens) {
        const TokenCandidate& top = layer.top[i].front();
        const bool hit = has_next && top.id == r.positions[i + 1].id;
        out += " " + cell((hit ? "*\"" : "\"") + top.text + "\"", 12, false);
      }
      out += "\n";
    }
  }
  return out;
}

std::string probe_html(const ProbeResult& r) {
  const int64_t T = static_cast<int64_t>(r.positions.size());
  const int64_t n_layer = r.attention.defined() ? r.attention.size(0) : 0;
  const int64_t n_head = r.attention.defined() ? r.attention.size(1) : 0;
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  h += "<title>gptforge probe: " + html_escape(r.source) + "</title>\n<style>" + std::string(kStyle) + "</style>\n";
  h += "</head>\n<body>\n<h1>gptforge token probe</h1>\n";
  h += "<div class=\"meta\">" + html_escape(r.source) +
       strprintf(" &middot; %lld tokens &middot; %lld layers &middot; %lld heads &middot; top %lld</div>\n",
                 (long long)T, (long long)n_layer, (long long)n_head, (long long)r.top_k);
  h += "<div class=\"prompt\">" + html_escape(r.prompt) + "</div>\n";

  // ---- Tokens: prediction at every position ----
  double max_entropy = 1e-9;
  for (const auto& p : r.positions) max_entropy = std::max(max_entropy, p.entropy_bits);
  h += "<h2>Next-token predictions</h2>\n";
  h += "<div class=\"note\">At each position: the candidates for the next token, the entropy of the distribution "
       "(bits), and the rank (1 = top guess) and probability the model gave the token that actually follows. "
       "Rows on green: tokens the model generated; on amber: a tool's result, forced by the decoder (the model "
       "read it but did not choose it).</div>\n";
  h += "<div class=\"scroll\"><table class=\"tokens\">\n<tr><th>pos</th><th>token</th><th>id</th><th>entropy "
       "(bits)</th><th>next token</th><th>rank (p)</th><th>top candidates</th></tr>\n";
  for (int64_t i = 0; i < T; ++i) {
    const ProbePosition& p = r.positions[static_cast<size_t>(i)];
    h += strprintf("<tr class=\"%s\" title=\"%s\"><td class=\"num\">%lld</td><td><span class=\"tok\">", p.origin.c_str(),
                   p.origin.c_str(), (long long)i) + chip(p.text) +
         strprintf("</span></td><td class=\"num\">%d</td>", p.id);
    h += strprintf("<td class=\"num\">%.3f<span class=\"ent\" style=\"width:%.0fpx\"></span></td>", p.entropy_bits,
                   40.0 * p.entropy_bits / max_entropy);
    if (p.next_rank > 0) {
      const std::string cls = p.next_rank == 1 ? "rank1" : p.next_rank > 10 ? "rankbad" : "";
      h += "<td><span class=\"tok\">" + chip(r.positions[static_cast<size_t>(i) + 1].text) + "</span></td>";
      h += strprintf("<td class=\"num %s\">%lld (%.3f)</td>", cls.c_str(), (long long)p.next_rank, p.next_prob);
    } else {
      h += "<td>&ndash;</td><td class=\"num\">&ndash;</td>";
    }
    h += "<td>";
    for (const auto& c : p.top) {
      h += "<span class=\"cand\" title=\"" + html_escape(strprintf("id %d, p = %.4f", c.id, c.prob)) +
           "\"><span class=\"tok\">" + chip(c.text) + "</span>" +
           strprintf("<span class=\"bar\" style=\"width:%.0fpx\"></span><span class=\"p\">%.3f</span></span>",
                     std::max(1.0, 40.0 * c.prob), c.prob);
    }
    h += "</td></tr>\n";
  }
  h += "</table></div>\n";

  // ---- Logit lens: layers x positions ----
  h += "<h2>Logit lens</h2>\n";
  h += "<div class=\"note\">Each layer's residual stream through the final norm and LM head. Cell: the top token "
       "and, as colour, its probability <span class=\"legend\" style=\"background:linear-gradient(to right," +
       heat(0) + "," + heat(1) + ")\"></span> (0 &rarr; 1). Outlined: the top token is the one that actually "
       "follows. Hover a cell for its candidates.</div>\n";
  h += "<div class=\"scroll\"><table class=\"heat\">\n<tr><th class=\"row\">input</th>";
  for (int64_t i = 0; i < T; ++i) {
    const std::string& t = r.positions[static_cast<size_t>(i)].text;
    h += "<th class=\"col\" title=\"" + html_escape(strprintf("%lld: ", (long long)i) + t) + "\">" + chip(t) + "</th>";
  }
  h += "</tr>\n";
  for (size_t li = r.lens.size(); li-- > 0;) {  // the output layer on top
    const LensLayer& layer = r.lens[li];
    const std::string name = li + 1 == r.lens.size() ? layer.name + " (output)" : layer.name;
    h += "<tr><th class=\"row\">" + html_escape(name) + "</th>";
    for (int64_t i = 0; i < T; ++i) {
      const auto& cands = layer.top[static_cast<size_t>(i)];
      const TokenCandidate& top = cands.front();
      const bool hit = i + 1 < T && top.id == r.positions[static_cast<size_t>(i) + 1].id;
      const std::string title = candidates_title(layer.name + " @ position " + std::to_string(i) + " (\"" +
                                                     r.positions[static_cast<size_t>(i)].text + "\")", cands);
      h += "<td class=\"c" + std::string(hit ? " hit" : "") + "\" style=\"background:" + heat(top.prob) +
           (top.prob > 0.6 ? ";color:#fff" : "") + "\" title=\"" + html_escape(title) + "\">" + chip(top.text) + "</td>";
    }
    h += "</tr>\n";
  }
  h += "<tr class=\"target\"><th class=\"row\">actual next</th>";
  for (int64_t i = 0; i < T; ++i) {
    const std::string t = i + 1 < T ? r.positions[static_cast<size_t>(i) + 1].text : "";
    h += "<th class=\"col\">" + chip(t) + "</th>";
  }
  h += "</tr>\n</table></div>\n";

  // ---- Attention: drawn by the script from the embedded data ----
  h += "<h2>Attention</h2>\n";
  h += "<div class=\"note\">Attention probabilities: row = query position, column = key position (causal: only "
       "earlier keys). Colour 0 <span class=\"legend\" style=\"background:linear-gradient(to right,hsl(24,90%,97%),"
       "hsl(24,90%,45%))\"></span> 1. Hover a cell for its value.</div>\n";
  h += "<div class=\"controls\"><label>Layer <select id=\"att-layer\"></select></label><label>Head <select "
       "id=\"att-head\"></select></label></div>\n";
  h += "<div class=\"scroll\"><table class=\"heat\" id=\"att\"></table></div>\n";
  h += "<noscript><p>The attention maps need JavaScript; the data is in the JSON report.</p></noscript>\n";
  h += "<script id=\"probe-data\" type=\"application/json\">" + script_safe_json(probe_json(r)) + "</script>\n";
  h += "<script>" + std::string(kScript) + "</script>\n</body>\n</html>\n";
  return h;
}

}  // namespace gptforge
