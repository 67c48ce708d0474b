#include "data/corpus.h"

#include <gtest/gtest.h>

#include "test_helpers.h"
#include "util/errors.h"
#include "util/utf8.h"

namespace corpus_test {

using namespace gptforge;
using gptforge::testing::TempDir;

namespace {

// Every document of `files` read with `opts`, pieces joined back together.
std::vector<std::string> documents(const std::vector<std::string>& files, CorpusOptions opts) {
  CorpusReader reader(files, opts);
  std::vector<std::string> docs;
  TextChunk c;
  std::string doc;
  while (reader.next(c)) {
    EXPECT_EQ(c.doc_start, doc.empty());
    doc += c.text;
    if (c.doc_end) {
      docs.push_back(doc);
      doc.clear();
    }
  }
  EXPECT_EQ(reader.documents(), static_cast<int64_t>(docs.size()));
  return docs;
}

CorpusOptions with_mode(DocumentMode m) {
  CorpusOptions o;
  o.documents = m;
  return o;
}

std::string error_of(const std::vector<std::string>& files, CorpusOptions opts) {
  try {
    documents(files, opts);
  } catch (const DataError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no DataError";
  return "";
}

}  // namespace

TEST(Corpus, DocumentModesSplitAsDocumented) {
  TempDir dir;
  std::string a = dir.write("a.txt", "first para\nline two\n\n\n  \nsecond para\n");
  std::string b = dir.write("b.txt", "no trailing newline");
  std::string empty = dir.write("c.txt", "");
  std::vector<std::string> files = {a, b, empty};
  EXPECT_EQ(documents(files, with_mode(DocumentMode::File)),
            (std::vector<std::string>{"first para\nline two\n\n\n  \nsecond para\n", "no trailing newline"}));
  EXPECT_EQ(documents(files, with_mode(DocumentMode::Paragraph)),
            (std::vector<std::string>{"first para\nline two", "second para", "no trailing newline"}));
  EXPECT_EQ(documents(files, with_mode(DocumentMode::Line)),
            (std::vector<std::string>{"first para", "line two", "second para", "no trailing newline"}));
}

TEST(Corpus, LongDocumentsComeInPiecesEndingAtNewlines) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 200; ++i) text += "line number " + std::to_string(i) + "\n";
  std::string path = dir.write("long.txt", text);
  for (DocumentMode mode : {DocumentMode::File, DocumentMode::Paragraph}) {
    CorpusOptions opts = with_mode(mode);
    opts.chunk_bytes = 100;
    CorpusReader reader({path}, opts);
    TextChunk c;
    std::string joined;
    int chunks = 0;
    while (reader.next(c)) {
      ++chunks;
      if (!c.doc_end) EXPECT_EQ(c.text.back(), '\n');
      joined += c.text;
    }
    EXPECT_GT(chunks, 20);
    EXPECT_EQ(joined, mode == DocumentMode::File ? text : text.substr(0, text.size() - 1));
    EXPECT_EQ(reader.documents(), 1);
    EXPECT_EQ(reader.bytes_read(), static_cast<int64_t>(text.size()));
  }
}

TEST(Corpus, InvalidUtf8IsCountedAndReplaced) {
  EXPECT_EQ(count_invalid_utf8("plain ascii, кириллица, 😀"), 0);
  int64_t first = 0;
  EXPECT_EQ(count_invalid_utf8("ab\xff", &first), 1);
  EXPECT_EQ(first, 2);
  EXPECT_EQ(count_invalid_utf8("\xc0\xaf"), 2);          // overlong: two bad bytes
  EXPECT_EQ(count_invalid_utf8("\xed\xa0\x80"), 3);      // a surrogate
  EXPECT_EQ(count_invalid_utf8("\xf0\x9f\x98 x"), 1);    // truncated emoji: one maximal subpart
  EXPECT_EQ(count_invalid_utf8("\xf4\x90\x80\x80"), 4);  // above U+10FFFF
  std::string s = "a\xffz\xe2\x82";
  EXPECT_EQ(replace_invalid_utf8(s), 2);
  EXPECT_EQ(s, "a\xEF\xBF\xBDz\xEF\xBF\xBD");

  TempDir dir;
  std::string path = dir.write("bad.txt", "good line\nbad \xff byte\n\nclean\n");
  CorpusOptions opts = with_mode(DocumentMode::Paragraph);
  CorpusReader reader({path}, opts);
  TextChunk c;
  ASSERT_TRUE(reader.next(c));
  EXPECT_EQ(c.text, "good line\nbad \xEF\xBF\xBD byte");
  EXPECT_EQ(reader.invalid_utf8(), 1);

  opts.reject_invalid_utf8 = true;
  std::string msg = error_of({path}, opts);
  EXPECT_NE(msg.find(path + ":2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("byte offset 14"), std::string::npos) << msg;
  EXPECT_NE(msg.find("data.invalid_utf8"), std::string::npos) << msg;
}

TEST(Corpus, CompleteUtf8PrefixHoldsBackHalfCharacters) {
  std::string emoji = "\xf0\x9f\x98\x80";
  EXPECT_EQ(complete_utf8_prefix("abc"), 3u);
  EXPECT_EQ(complete_utf8_prefix("ab" + emoji), 6u);
  EXPECT_EQ(complete_utf8_prefix("ab" + emoji.substr(0, 1)), 2u);
  EXPECT_EQ(complete_utf8_prefix("ab" + emoji.substr(0, 3)), 2u);
  EXPECT_EQ(complete_utf8_prefix("\xd0"), 0u);
  EXPECT_EQ(complete_utf8_prefix("\xd0\x9f"), 2u);
}

TEST(Corpus, JsonlReadsTheFieldAndNamesBadLines) {
  TempDir dir;
  std::string good = dir.write("g.jsonl", "{\"text\": \"one\\ntwo\"}\n\n{\"text\": \"\", \"x\": 1}\n{\"text\": \"три\"}\n");
  CorpusOptions opts;
  EXPECT_EQ(documents({good}, opts), (std::vector<std::string>{"one\ntwo", "три"}));

  std::string bad_json = dir.write("b.jsonl", "{\"text\": \"ok\"}\n{\"text\": oops}\n");
  std::string msg = error_of({bad_json}, opts);
  EXPECT_NE(msg.find(bad_json + ":2: invalid JSON"), std::string::npos) << msg;

  std::string no_field = dir.write("n.jsonl", "{\"content\": \"x\"}\n");
  msg = error_of({no_field}, opts);
  EXPECT_NE(msg.find(no_field + ":1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("data.jsonl_field"), std::string::npos) << msg;

  // Invalid UTF-8 inside a JSON string is replaced before parsing.
  std::string bad_utf8 = dir.write("u.jsonl", "{\"text\": \"a\xff\"}\n");
  EXPECT_EQ(documents({bad_utf8}, opts), (std::vector<std::string>{"a\xEF\xBF\xBD"}));
  // format=text reads a .jsonl file as plain lines.
  opts.format = "text";
  opts.documents = DocumentMode::Line;
  EXPECT_EQ(documents({no_field}, opts), (std::vector<std::string>{"{\"content\": \"x\"}"}));
}

}  // namespace corpus_test
