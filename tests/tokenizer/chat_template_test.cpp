#include "tokenizer/chat_template.h"

#include <gtest/gtest.h>

#include "test_helpers.h"
#include "tiny_corpus.h"
#include "util/errors.h"

using namespace gptforge;
using gptforge::testing::TempDir;

namespace {
Tokenizer small_tokenizer(const TempDir& dir) {
  return gptforge::testing::tokenizer_from_lines(
      dir, [](int i) { return "hello world, the answer is " + std::to_string(i) + "."; });
}
}  // namespace

TEST(ChatTemplate, RendersAKnownConversationToKnownIds) {
  TempDir dir;
  Tokenizer tok = small_tokenizer(dir);
  auto hello = tok.encode("hello"), answer = tok.encode("the answer is 4"), sys = tok.encode("be brief");
  RenderedChat r = render_chat(tok, {{"system", "be brief"}, {"user", "hello"}, {"assistant", "the answer is 4"}}, false);
  std::vector<int32_t> expect = {kBosId, kSystemId};
  expect.insert(expect.end(), sys.begin(), sys.end());
  expect.push_back(kEndId);
  expect.push_back(kUserId);
  expect.insert(expect.end(), hello.begin(), hello.end());
  expect.push_back(kEndId);
  expect.push_back(kAssistantId);
  size_t answer_start = expect.size();
  expect.insert(expect.end(), answer.begin(), answer.end());
  expect.push_back(kEndId);
  EXPECT_EQ(r.ids, expect);
  ASSERT_EQ(r.loss_mask.size(), expect.size());
  for (size_t i = 0; i < expect.size(); ++i) EXPECT_EQ(r.loss_mask[i], i >= answer_start ? 1 : 0) << i;

  RenderedChat prompt = render_chat(tok, {{"user", "hello"}}, true);
  EXPECT_EQ(prompt.ids.back(), kAssistantId);
  EXPECT_EQ(prompt.ids.front(), kBosId);
}

TEST(ChatTemplate, RejectsUnknownRolesAndEmptyContent) {
  TempDir dir;
  Tokenizer tok = small_tokenizer(dir);
  EXPECT_THROW(render_chat(tok, {{"robot", "hi"}}, false), DataError);
  EXPECT_THROW(render_chat(tok, {{"user", ""}}, false), DataError);
}

TEST(ChatTemplate, JinjaFormMatchesTheMarkers) {
  std::string j = chat_template_jinja();
  EXPECT_NE(j.find("bos_token"), std::string::npos);
  EXPECT_NE(j.find("<|end|>"), std::string::npos);
  EXPECT_NE(j.find("<|assistant|>"), std::string::npos);
}
