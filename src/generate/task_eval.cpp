#include "generate/task_eval.h"

#include "generate/sampler.h"
#include "tokenizer/chat_template.h"
#include "util/errors.h"

namespace gptforge {

namespace {
std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}
}  // namespace

TaskEvalResult evaluate_tasks(LoadedModel& m, const std::vector<InstructExample>& examples, int64_t max_new_tokens) {
  require_chat_tokens(m.tokenizer, m.dir + "/tokenizer.model");
  GenerationOptions opts;
  opts.temperature = 0;  // greedy: deterministic, no draws
  opts.max_new_tokens = max_new_tokens;
  opts.stop_ids = {m.tokenizer.special_id(Special::End)};
  TaskEvalResult r;
  r.checkpoint = m.dir;
  for (const auto& ex : examples) {
    RenderedChat prompt = render_chat(m.tokenizer, prompt_messages(ex), /*add_generation_prompt=*/true);
    auto gens = generate_detailed(m.model, prompt.ids, opts, &m.tokenizer);
    const std::string got = trim(gens.at(0).text), want = trim(expected_answer(ex));
    const bool ok = got == want;
    TaskScore& t = r.per_task[ex.task.empty() ? "all" : ex.task];
    t.correct += ok;
    ++t.total;
    r.overall.correct += ok;
    ++r.overall.total;
    r.predictions.push_back({ex.task, ex.messages.front().content, want, got, ok});
    if (!ok && r.failures.size() < 5) {
      r.failures.push_back(ex.messages.front().content + " -> '" + got + "' (want '" + want + "')");
    }
  }
  return r;
}

}  // namespace gptforge
