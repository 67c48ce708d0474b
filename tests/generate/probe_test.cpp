#include "generate/probe.h"

#include <gtest/gtest.h>

#include <cmath>

#include "generate/probe_report.h"
#include "generate_test_helpers.h"
#include "tokenizer/tiny_corpus.h"
#include "util/errors.h"

namespace probe_test {

using namespace gptforge;
using gptforge::testing::random_gpt;

TEST(Probe, LastLayerLensEqualsTheModelsLogits) {
  for (const char* position : {"learned", "rope"}) {
    GPT model = random_gpt(64, position);
    auto idx = torch::tensor({{5, 9, 13, 2, 40}}, torch::kLong);
    torch::NoGradGuard no_grad;
    ForwardResult fr = model->forward_inspect(idx, true, true);
    ASSERT_EQ(fr.residuals.size(), 3u);
    EXPECT_TRUE(torch::allclose(model->lens(fr.residuals.back()), fr.logits, 1e-5, 1e-5)) << position;

    ProbeResult r = probe(model, {5, 9, 13, 2, 40}, 3, nullptr);
    ASSERT_EQ(r.lens.size(), 3u);
    EXPECT_EQ(r.lens.front().name, "embed");
    EXPECT_EQ(r.lens.back().name, "block 1");
    for (size_t t = 0; t < r.positions.size(); ++t) {
      for (size_t k = 0; k < 3; ++k) {
        EXPECT_EQ(r.lens.back().top[t][k].id, r.positions[t].top[k].id);
        EXPECT_NEAR(r.lens.back().top[t][k].prob, r.positions[t].top[k].prob, 1e-6);
      }
    }
  }
}

TEST(Probe, RanksAndEntropyOnAHandExample) {
  // Position 0: p = 0.5, 0.25, 0.125, 0.125 -> H = 1.75 bits; the next token is id 2 (p 0.125):
  // two tokens are more probable, so its rank is 3 (the tie with id 3 does not count).
  // Position 1: uniform over 4 -> H = 2 bits; the next token, id 0, ties with all: rank 1.
  // Position 2: the last: no rank.
  auto logits = torch::tensor({{std::log(0.5), std::log(0.25), std::log(0.125), std::log(0.125)},
                               {0.0, 0.0, 0.0, 0.0},
                               {5.0, 0.0, 0.0, 0.0}},
                              torch::kDouble);
  auto pos = position_stats(logits, {1, 2, 0}, 2, nullptr);
  ASSERT_EQ(pos.size(), 3u);
  EXPECT_NEAR(pos[0].entropy_bits, 1.75, 1e-12);
  EXPECT_EQ(pos[0].next_rank, 3);
  EXPECT_NEAR(pos[0].next_prob, 0.125, 1e-12);
  ASSERT_EQ(pos[0].top.size(), 2u);
  EXPECT_EQ(pos[0].top[0].id, 0);
  EXPECT_NEAR(pos[0].top[0].prob, 0.5, 1e-12);
  EXPECT_EQ(pos[0].top[1].id, 1);
  EXPECT_NEAR(pos[1].entropy_bits, 2.0, 1e-12);
  EXPECT_EQ(pos[1].next_rank, 1);
  EXPECT_EQ(pos[2].next_rank, 0);
  EXPECT_EQ(pos[1].id, 2);
  EXPECT_EQ(pos[1].text, "#2");
}

TEST(Probe, AttentionIsCausalAndRowsSumToOne) {
  GPT model = random_gpt();
  ProbeResult r = probe(model, {1, 2, 3, 4, 5, 6}, 5, nullptr);
  ASSERT_EQ(r.attention.sizes(), (std::vector<int64_t>{2, 4, 6, 6}));
  EXPECT_TRUE(torch::allclose(r.attention.sum(-1), torch::ones({2, 4, 6}), 1e-5, 1e-5));
  EXPECT_EQ(r.attention.triu(1).abs().sum().item<float>(), 0.0f);
  EXPECT_THROW(probe(model, std::vector<int32_t>(17, 1), 5, nullptr), RunError);
  EXPECT_THROW(probe(model, {}, 5, nullptr), RunError);
}

TEST(ProbeReport, JsonHoldsEveryPositionLayerAndHead) {
  GPT model = random_gpt();
  ProbeResult r = probe(model, {1, 2, 3}, 4, nullptr);
  nlohmann::json j = probe_json(r);
  EXPECT_EQ(j["entropy_unit"], "bits");
  ASSERT_EQ(j["tokens"].size(), 3u);
  EXPECT_EQ(j["tokens"][0]["top"].size(), 4u);
  EXPECT_EQ(j["tokens"][0]["next_rank"], r.positions[0].next_rank);
  EXPECT_TRUE(j["tokens"][2]["next_rank"].is_null());
  EXPECT_EQ(j["logit_lens"]["layers"].size(), 3u);
  EXPECT_EQ(j["logit_lens"]["top"][2][1].size(), 4u);
  EXPECT_EQ(j["attention"].size(), 2u);
  EXPECT_EQ(j["attention"][1].size(), 4u);
  EXPECT_EQ(j["attention"][1][3][2].size(), 3u);
  EXPECT_EQ(j["n_head"], 4);
}

TEST(ProbeReport, HtmlEscapesPromptAndTokenText) {
  GPT model = random_gpt();
  ProbeResult r = probe(model, {1, 2, 3}, 2, nullptr);
  r.prompt = "<script>alert('x')</script> & \"quotes\"";
  r.source = "run/<b>";
  r.positions[1].text = "</script><img src=x>";
  std::string html = probe_html(r);
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("run/<b>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quotes&quot;"), std::string::npos);
  // The embedded data cannot close its script block either.
  EXPECT_NE(html.find("\\u003c/script\\u003e\\u003cimg"), std::string::npos);
  // Two script blocks: the data and the code.
  size_t scripts = 0;
  for (size_t p = html.find("</script>"); p != std::string::npos; p = html.find("</script>", p + 1)) ++scripts;
  EXPECT_EQ(scripts, 2u);
  EXPECT_EQ(html_escape("a<b>&'\""), "a&lt;b&gt;&amp;&#39;&quot;");
}

TEST(ProbeReport, TableHasOneLinePerPosition) {
  GPT model = random_gpt();
  ProbeResult r = probe(model, {1, 2, 3, 4}, 3, nullptr);
  std::string table = probe_table(r);
  EXPECT_NE(table.find("entropy"), std::string::npos);
  EXPECT_NE(table.find("logit lens"), std::string::npos);
  EXPECT_NE(table.find("\"#4\""), std::string::npos);
}

TEST(Probe, TokenDisplayShowsSpecialsBytesAndWhitespace) {
  Tokenizer tok = Tokenizer::load(gptforge::testing::tiny_tokenizer());
  EXPECT_EQ(token_display(&tok, kUserId), "<|user|>");
  EXPECT_EQ(token_display(&tok, kEosId), "</s>");
  EXPECT_EQ(token_display(&tok, kNumReservedIds + '\n'), "\\n");
  EXPECT_EQ(token_display(&tok, kNumReservedIds + 'A'), "A");
  EXPECT_EQ(token_display(&tok, kNumReservedIds + 0xE2), "<0xE2>");  // a lone UTF-8 lead byte
  EXPECT_EQ(token_display(&tok, tok.encode("the")[0]), tok.token_bytes(tok.encode("the")[0]));
  EXPECT_EQ(token_display(nullptr, 42), "#42");
}

}  // namespace probe_test
