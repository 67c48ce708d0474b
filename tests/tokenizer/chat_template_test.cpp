#include "tokenizer/chat_template.h"

#include <gtest/gtest.h>

#include "test_helpers.h"
#include "tiny_corpus.h"
#include "util/errors.h"

namespace chat_template_test {

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

// A tool call stays inside the assistant's turn: the call carries loss, the result (forced by the
// decoder) none and is marked from_tool, the continuation needs no <|assistant|>.
TEST(ChatTemplate, ToolCallsRenderInsideTheTurnWithLossOnTheCallOnly) {
  TempDir dir;
  Tokenizer tok = small_tokenizer(dir);
  ASSERT_TRUE(tok.has_tool_tokens());
  auto q = tok.encode("hello"), call = tok.encode("4*5"), result = tok.encode("20"), pre = tok.encode("the"),
       answer = tok.encode("the answer is 20");
  RenderedChat r = render_chat(
      tok, {{"user", "hello"}, {"assistant", "the", "4*5"}, {"tool", "20"}, {"assistant", "the answer is 20"}}, false);
  std::vector<int32_t> expect = {kBosId, kUserId};
  std::vector<uint8_t> loss = {0, 0}, tool = {0, 0};
  auto add = [&](const std::vector<int32_t>& ids, uint8_t l, uint8_t t) {
    for (int32_t id : ids) {
      expect.push_back(id);
      loss.push_back(l);
      tool.push_back(t);
    }
  };
  add(q, 0, 0);
  add({kEndId, kAssistantId}, 0, 0);
  add(pre, 1, 0);
  add({kToolCallId}, 1, 0);
  add(call, 1, 0);
  add({kToolEndId}, 1, 0);
  add({kToolResultId}, 0, 1);
  add(result, 0, 1);
  add({kToolEndId}, 0, 1);
  add(answer, 1, 0);
  add({kEndId}, 1, 0);
  EXPECT_EQ(r.ids, expect);
  EXPECT_EQ(r.loss_mask, loss);
  EXPECT_EQ(r.from_tool, tool);
  // A prompt that ends with the tool's result continues the open turn: no <|assistant|> is added.
  RenderedChat open = render_chat(tok, {{"user", "hello"}, {"assistant", "", "4*5"}, {"tool", "20"}}, true);
  EXPECT_EQ(open.ids.back(), kToolEndId);
}

TEST(ChatTemplate, ToolMessagesOutOfPlaceAreRejectedNamingTheMessage) {
  TempDir dir;
  Tokenizer tok = small_tokenizer(dir);
  auto error = [&](const std::vector<ChatMessage>& m) {
    try {
      render_chat(tok, m, false);
    } catch (const DataError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error({{"user", "hi"}, {"tool", "20"}}).find("message 2 (tool): a tool message must follow"), std::string::npos);
  EXPECT_NE(error({{"user", "hi"}, {"assistant", "", "1+1"}, {"assistant", "2"}}).find("message 3 (assistant): an assistant tool_call must be followed"), std::string::npos);
  EXPECT_NE(error({{"user", "hi"}, {"assistant", "", "1+1"}}).find("has no tool message after it"), std::string::npos);
  EXPECT_NE(error({{"user", "hi", "1+1"}}).find("only an assistant message makes tool calls"), std::string::npos);
}

TEST(ChatTemplate, JinjaFormWithToolsHasTheToolMarkers) {
  const std::string plain = chat_template_jinja(), tools = chat_template_jinja(true);
  EXPECT_EQ(plain.find("tool"), std::string::npos);
  for (const char* marker : {"<|tool_call|>", "<|tool_result|>", "<|tool_end|>", "<|end|>", "<|assistant|>"}) {
    EXPECT_NE(tools.find(marker), std::string::npos) << marker;
  }
}

}  // namespace chat_template_test
