#include "generate/task_eval.h"

#include "data/random.h"
#include "generate/decoder.h"
#include "generate/self_consistency.h"
#include "tokenizer/chat_template.h"
#include "util/errors.h"

namespace gptforge {

uint64_t example_seed(uint64_t seed, size_t index) { return SplitMix64(seed + index).next(); }

TaskEvalResult evaluate_tasks(LoadedModel& m, const std::vector<InstructExample>& examples, const TaskEvalOptions& opts) {
  require_chat_tokens(m.tokenizer, m.dir + "/tokenizer.model");
  if (opts.samples < 0) throw UsageError("self-consistency needs >= 1 sample per example, got " + std::to_string(opts.samples));
  const int32_t end = m.tokenizer.special_id(Special::End);
  GenerationOptions greedy;
  greedy.temperature = 0;  // deterministic, no draws
  greedy.max_new_tokens = opts.max_new_tokens;
  greedy.stop_ids = {end};
  greedy.tools = opts.tools;
  GenerationOptions sampled = greedy;
  sampled.temperature = opts.sampling.temperature;
  sampled.top_k = opts.sampling.top_k;
  sampled.top_p = opts.sampling.top_p;
  sampled.min_p = opts.sampling.min_p;
  sampled.num_samples = opts.samples;
  sampled.seed_per_row = true;
  sampled.logprobs = true;  // ties of the vote go to the likelier answer

  TaskEvalResult r;
  r.checkpoint = m.dir;
  r.samples = opts.samples;
  // One decoder for the whole evaluation: the sampled rows start from the prompt the greedy answer
  // just ran (decoder.h, prefix reuse), and each prompt from the chat template's opening the last one
  // shared, so no prompt is run through the model twice.
  Decoder decoder(m.model, greedy.use_cache);
  for (size_t j = 0; j < examples.size(); ++j) {
    const InstructExample& ex = examples[j];
    RenderedChat prompt = render_chat(m.tokenizer, prompt_messages(ex), /*add_generation_prompt=*/true);
    auto gens = generate_detailed(decoder, prompt.ids, greedy, &m.tokenizer);
    TaskPrediction p;
    p.task = ex.task;
    p.prompt = ex.messages.front().content;
    p.got = normalize_answer(gens.at(0).answer(), false);
    if (!opts.tools.empty()) p.text = gens.at(0).text;
    p.want = normalize_answer(expected_answer(ex), false);
    const std::string want = normalize_answer(p.want, ex.ignore_case);
    p.correct = normalize_answer(p.got, ex.ignore_case) == want;
    if (opts.samples > 0) {
      sampled.seed = example_seed(opts.sampling.seed, j);
      std::vector<double> logprobs;
      for (const auto& g : generate_detailed(decoder, prompt.ids, sampled, &m.tokenizer)) {
        p.samples.push_back(normalize_answer(g.answer(), ex.ignore_case));
        logprobs.push_back(g.logprob);
      }
      const Vote vote = majority_vote(p.samples, logprobs);
      p.voted = vote.answer;
      p.votes = vote.votes;
      p.single_correct = p.samples.front() == want;
      p.voted_correct = vote.answer == want;
    }
    for (TaskScore* t : {&r.per_task[ex.task.empty() ? "all" : ex.task], &r.overall}) {
      t->correct += p.correct;
      t->single_correct += p.single_correct;
      t->voted_correct += p.voted_correct;
      ++t->total;
    }
    if (!p.correct && r.failures.size() < 5) r.failures.push_back(p.prompt + " -> '" + p.got + "' (want '" + p.want + "')");
    r.predictions.push_back(std::move(p));
  }
  return r;
}

}  // namespace gptforge
