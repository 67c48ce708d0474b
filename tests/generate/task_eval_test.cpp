#include "generate/task_eval.h"

#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <set>

#include "generate/self_consistency.h"
#include "model/loss.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tiny_corpus.h"
#include "train/sft.h"

namespace task_eval_test {

using namespace gptforge;
using gptforge::testing::TempDir;

namespace {

std::vector<InstructExample> addition_examples() {
  std::vector<InstructExample> out;
  for (int i = 0; i < 8; ++i) {
    out.push_back({{{"user", "What is " + std::to_string(i) + " plus 2?"}, {"assistant", std::to_string(i + 2)}},
                   i % 2 ? "odd" : "even", "t:" + std::to_string(i)});
  }
  out.push_back({{{"user", "Say the word red."}, {"assistant", "Red"}}, "word", "t:8"});
  return out;
}

// A 1-layer model fine-tuned `steps` Adam steps on the nine examples (trained once per test
// process and step count): far enough to answer some, not so far that every sample agrees.
LoadedModel& tiny_trained_model(int steps) {
  static TempDir dir;
  static Tokenizer tok = gptforge::testing::tokenizer_from_lines(
      dir, [](int i) { return "What is " + std::to_string(i % 20) + " plus 2? It is " + std::to_string(i % 20 + 2) + "."; });
  static std::map<int, LoadedModel> models;
  auto it = models.find(steps);
  if (it != models.end()) return it->second;
  Config cfg = load_config("", {"model.vocab_size=300", "model.n_layer=1", "model.n_head=2", "model.d_model=32",
                                "model.block_size=48", "run.log_level=quiet"});
  SftDataStats stats;
  auto rendered = render_examples(addition_examples(), tok, cfg, stats);
  std::vector<const SftExample*> rows;
  for (const auto& e : rendered) rows.push_back(&e);
  Batch b = pad_batch(rows, tok.pad_id());
  torch::manual_seed(3);
  GPT model(cfg.model);
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-2));
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    lm_loss(model->forward(b.x), b.y).backward();
    opt.step();
  }
  model->eval();
  return models.emplace(steps, LoadedModel{dir.path(), cfg, model, tok, torch::kCPU, steps}).first->second;
}

TaskEvalOptions sampling(int64_t samples, double temperature, int64_t top_k = 0) {
  TaskEvalOptions o;
  o.max_new_tokens = 6;
  o.samples = samples;
  o.sampling.temperature = temperature;
  o.sampling.top_k = top_k;
  o.sampling.seed = 1234;
  return o;
}

}  // namespace

// top_k = 1 leaves one token to draw: every sample is the greedy answer, so the single-sample and
// voted accuracies are the greedy one, per task and overall.
TEST(TaskEval, TopKOneSamplesAreGreedyAndTheVoteScoresAsGreedy) {
  LoadedModel& m = tiny_trained_model(60);
  const auto examples = addition_examples();
  TaskEvalResult r = evaluate_tasks(m, examples, sampling(4, 1.3, 1));
  ASSERT_EQ(r.predictions.size(), examples.size());
  for (const auto& p : r.predictions) {
    ASSERT_EQ(p.samples.size(), 4u);
    for (const auto& s : p.samples) EXPECT_EQ(s, p.got) << p.prompt;
    EXPECT_EQ(p.voted, p.got);
    EXPECT_EQ(p.votes, 4);
    EXPECT_EQ(p.single_correct, p.correct);
    EXPECT_EQ(p.voted_correct, p.correct);
  }
  for (const auto& [task, s] : r.per_task) {
    EXPECT_EQ(s.single_correct, s.correct) << task;
    EXPECT_EQ(s.voted_correct, s.correct) << task;
  }
  EXPECT_EQ(r.overall.total, 9);
  EXPECT_EQ(r.overall.voted_correct, r.overall.correct);
  // The same greedy figures as an evaluation without samples, which has no sampled columns.
  TaskEvalResult greedy = evaluate_tasks(m, examples, 6);
  EXPECT_EQ(greedy.overall.correct, r.overall.correct);
  EXPECT_EQ(greedy.overall.voted_correct, 0);
  EXPECT_TRUE(greedy.predictions[0].samples.empty());
  // Temperature 0 is greedy too.
  TaskEvalResult cold = evaluate_tasks(m, examples, sampling(3, 0.0));
  EXPECT_EQ(cold.overall.single_correct, r.overall.correct);
  EXPECT_EQ(cold.overall.voted_correct, r.overall.correct);
}

// The samples of example j are the rows of one batch, row i drawn as a one-row generation seeded
// example_seed(seed, j) + i would draw it (the documented seeding), so the first sample does not
// depend on how many are drawn; the scores count what the predictions hold.
TEST(TaskEval, SampledAnswersFollowTheDocumentedSeedingAndTheVoteIsCounted) {
  LoadedModel& m = tiny_trained_model(25);
  const auto examples = addition_examples();
  const TaskEvalOptions opts = sampling(5, 1.5);
  TaskEvalResult r = evaluate_tasks(m, examples, opts);
  TaskEvalResult one = evaluate_tasks(m, examples, sampling(1, 1.5));
  size_t varied = 0;
  int64_t single = 0, voted = 0;
  for (size_t j = 0; j < examples.size(); ++j) {
    const TaskPrediction& p = r.predictions[j];
    ASSERT_EQ(p.samples.size(), 5u);
    EXPECT_EQ(one.predictions[j].samples.at(0), p.samples[0]) << p.prompt;
    GenerationOptions g;
    g.temperature = 1.5;
    g.max_new_tokens = 6;
    g.stop_ids = {m.tokenizer.special_id(Special::End)};
    const auto prompt = render_chat(m.tokenizer, prompt_messages(examples[j]), true).ids;
    std::vector<double> logprobs;
    for (size_t i = 0; i < 5; ++i) {
      g.seed = example_seed(opts.sampling.seed, j) + i;
      g.logprobs = true;
      Generation alone = generate_detailed(m.model, prompt, g, &m.tokenizer).at(0);
      EXPECT_EQ(normalize_answer(alone.text, false), p.samples[i]) << p.prompt << " sample " << i;
      logprobs.push_back(alone.logprob);
    }
    const Vote v = majority_vote(p.samples, logprobs);
    EXPECT_EQ(p.voted, v.answer);
    EXPECT_EQ(p.votes, v.votes);
    varied += std::set<std::string>(p.samples.begin(), p.samples.end()).size() > 1;
    single += p.samples[0] == p.want;
    voted += p.voted == p.want;
    EXPECT_EQ(p.single_correct, p.samples[0] == p.want);
    EXPECT_EQ(p.voted_correct, p.voted == p.want);
  }
  EXPECT_GT(varied, 0u);  // the samples do differ: the vote has something to decide
  EXPECT_EQ(r.overall.single_correct, single);
  EXPECT_EQ(r.overall.voted_correct, voted);
  EXPECT_EQ(r.per_task.at("even").total + r.per_task.at("odd").total, 8);
  EXPECT_EQ(r.overall.total, 9);
}

// An example marked ignore_case is scored with ASCII letters case-folded; the others exactly.
TEST(TaskEval, IgnoreCaseExamplesCompareCaseFolded) {
  LoadedModel& m = tiny_trained_model(60);
  const auto examples = addition_examples();
  const InstructExample& word = examples.back();  // "Say the word red." -> "Red"
  TaskEvalResult base = evaluate_tasks(m, {word}, 6);
  const std::string got = base.predictions[0].got;
  ASSERT_NE(got.find_first_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"), std::string::npos)
      << "the model's reply '" << got << "' has no letter to change the case of";
  std::string swapped = got;
  for (char& c : swapped) c = std::isupper(static_cast<unsigned char>(c)) ? std::tolower(c) : std::toupper(c);
  InstructExample exact = word, folded = word;
  exact.messages.back().content = swapped;
  folded.messages.back().content = swapped;
  folded.ignore_case = true;
  TaskEvalResult r = evaluate_tasks(m, {exact, folded}, sampling(2, 1.0, 1));
  EXPECT_FALSE(r.predictions[0].correct);
  EXPECT_FALSE(r.predictions[0].voted_correct);
  EXPECT_TRUE(r.predictions[1].correct);
  EXPECT_TRUE(r.predictions[1].single_correct);
  EXPECT_TRUE(r.predictions[1].voted_correct);
}

}  // namespace task_eval_test
