#include "data/task_suite.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <functional>
#include <set>

#include "data/random.h"
#include "util/errors.h"
#include "util/files.h"
#include "util/strings.h"

namespace gptforge {

namespace {

const std::vector<std::string> kWords = {"red",   "cat",   "big",  "dog",   "sun",   "hat",   "tree",  "blue",
                                         "house", "water", "green", "small", "bird",  "road",  "ship",  "stone",
                                         "light", "night", "river", "paper", "bread", "chair", "cloud", "field",
                                         "horse", "music", "table", "world", "garden", "letter"};
// Neutral openings that training prompts get at random, so that a task cannot be told by its first
// words alone: a tiny model otherwise keys each task on the opening of its phrasings and reads an
// unseen phrasing as whichever task starts alike. (No closings: after a list of words they would
// read as one more word.) Test prompts never get them.
const std::vector<std::string> kOpenings = {"", "", "", "Please: ", "Now: ", "Task: ", "Next: ", "Quick question: ",
                                            "Here is one: ", "Try this: ", "OK: ", "Question: "};

// Names for the lookup records, each one token in the Brown tokenizer.
const std::vector<std::string> kNames = {"John", "Mary", "Jack", "Sam", "Henry", "George", "Frank", "James", "Robert", "Charles"};

struct Task {
  std::string name;
  // Phrasings with {} where the instance goes; the last `held_out` are used only for testing. Each
  // held-out phrasing recombines words that seen phrasings use: a tiny model cannot learn a word's
  // meaning from the Brown pretraining, so a new word would test the corpus, not the fine-tune.
  std::vector<std::string> phrasings;
  int held_out;
  // Training examples per unit of --train, where steps buy accuracy: reverse and upper (copying
  // word pieces in order) and add gain the most from more examples.
  int64_t weight;
  // Draws an instance: (the text that fills the phrasing, the answer).
  std::function<std::pair<std::string, std::string>(SplitMix64&)> draw;
  // Tool tasks: the calculator expression the answer calls for an instance (generate/tool_calls.h).
  // The training reply calls it, reads the result and repeats it; the test record has the same shape,
  // and eval compares the text after the last result with the answer.
  std::function<std::string(const std::string& instance)> tool_call = nullptr;
};

std::string pick(SplitMix64& rng, const std::vector<std::string>& v) { return v[rng.below(v.size())]; }

std::vector<std::string> distinct(SplitMix64& rng, const std::vector<std::string>& pool, size_t n) {
  std::vector<std::string> out;
  while (out.size() < n) {
    std::string w = pick(rng, pool);
    if (std::find(out.begin(), out.end(), w) == out.end()) out.push_back(w);
  }
  return out;
}

std::string fill(const std::string& phrasing, const std::string& instance) {
  std::string s = phrasing;
  s.replace(s.find("{}"), 2, instance);
  return s;
}

std::vector<Task> tasks() {
  return {
      {"add",
       {"What is {}?", "Compute {}.", "Calculate {}.", "Work out {}.", "Add these: {}.", "Find {}.",
        "What do you get for {}?", "Solve {}.", "Sum: {}.", "Give the answer to {}.", "Tell me the answer: {}.",
        "Tell me {}."},
       1, 2,
       // Three one-digit numbers (1,000 instances). Two-digit addition (37 plus 45) stayed near 17%
       // after a 15-minute fine-tune of the tiny model: it learns the size of the sum but not the
       // units digit, which needs two digits found by their place in the prompt.
       [](SplitMix64& rng) {
         int a = static_cast<int>(rng.below(10)), b = static_cast<int>(rng.below(10)), c = static_cast<int>(rng.below(10));
         return std::make_pair(std::to_string(a) + " plus " + std::to_string(b) + " plus " + std::to_string(c),
                               std::to_string(a + b + c));
       }},
      {"arith",
       {"What is {}?", "Compute {}.", "Calculate {}.", "Work out {}.", "Find {}.", "What do you get for {}?",
        "Solve {}.", "Give the answer to {}.", "Tell me the answer: {}.", "Tell me {}."},
       1, 2,
       // Two- and three-digit addition, subtraction and multiplication, answered with the calculator:
       // the model copies the numbers and the operation into the call and the result into its reply,
       // both of which it can learn, where the digits of a sum it cannot (add, above).
       [](SplitMix64& rng) {
         static const std::vector<std::pair<std::string, char>> ops = {
             {"plus", '+'}, {"+", '+'}, {"minus", '-'}, {"-", '-'}, {"times", '*'}, {"*", '*'}};
         auto number = [&] { return static_cast<long long>(rng.below(2) ? 10 + rng.below(90) : 100 + rng.below(900)); };
         const long long a = number(), b = number();
         const auto& op = ops[rng.below(ops.size())];
         const long long value = op.second == '+' ? a + b : op.second == '-' ? a - b : a * b;
         return std::make_pair(std::to_string(a) + " " + op.first + " " + std::to_string(b), std::to_string(value));
       },
       // "37 times 45" -> "37 * 45": the numbers as the prompt has them, the operation as a symbol.
       [](const std::string& instance) {
         const size_t first = instance.find(' '), last = instance.rfind(' ');
         std::string op = instance.substr(first + 1, last - first - 1);
         if (op == "plus") op = "+";
         if (op == "minus") op = "-";
         if (op == "times") op = "*";
         return instance.substr(0, first) + " " + op + " " + instance.substr(last + 1);
       }},
      {"reverse",
       {"Reverse the order of: {}", "Write these words backwards: {}", "Put in reverse order: {}",
        "Reverse this list: {}", "Give these in reverse: {}", "Backwards, please: {}",
        "Say these in reverse order: {}", "Reverse these words: {}", "Write this list backwards: {}",
        "Give the words in the opposite order: {}", "Say this list from the end: {}",
        "List in the opposite order: {}"},
       1, 3,
       [](SplitMix64& rng) {
         auto w = distinct(rng, kWords, 3 + rng.below(2));
         auto r = w;
         std::reverse(r.begin(), r.end());
         return std::make_pair(join(w, " "), join(r, " "));
       }},
      {"upper",
       {"Write in capital letters: {}", "Uppercase these words: {}", "Make it upper case: {}",
        "Capitalise every letter: {}", "Use only capital letters: {}", "Turn into capitals: {}",
        "All caps: {}", "Write these in upper case: {}", "Rewrite in upper case: {}",
        "Rewrite in capital letters: {}"},
       1, 2,
       [](SplitMix64& rng) {
         // Two words, so that test pairs can be held out while every word is still seen in training.
         std::string w = pick(rng, kWords) + " " + pick(rng, kWords), u = w;
         for (auto& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
         return std::make_pair(w, u);
       }},
      {"count",
       {"How many words are in: {}", "Count the words: {}", "Number of words in: {}", "Count these: {}",
        "Word count: {}", "How many words: {}", "Count the items: {}", "How many are there in: {}",
        "How many items: {}"},
       1, 1,
       [](SplitMix64& rng) {
         size_t n = 2 + rng.below(6);
         std::vector<std::string> w;
         for (size_t i = 0; i < n; ++i) w.push_back(pick(rng, kWords));
         return std::make_pair(join(w, " "), std::to_string(n));
       }},
      {"sort",
       {"Sort from smallest to largest: {}", "Sort ascending: {}", "Put in increasing order: {}",
        "Order these numbers: {}", "Sort these numbers: {}", "Smallest first: {}", "Arrange these numbers: {}",
        "Order from low to high: {}", "Arrange from low to high: {}"},
       1, 1,
       [](SplitMix64& rng) {
         size_t n = 3 + rng.below(3);
         std::vector<int> v;
         for (size_t i = 0; i < n; ++i) v.push_back(static_cast<int>(rng.below(10)));
         std::vector<std::string> in, out;
         for (int x : v) in.push_back(std::to_string(x));
         std::sort(v.begin(), v.end());
         for (int x : v) out.push_back(std::to_string(x));
         return std::make_pair(join(in, " "), join(out, " "));
       }},
      {"lookup",
       {"Table: {}", "Given {}", "Facts: {}", "Data: {}", "Values: {}", "Known: {}", "Known facts: {}"},
       1, 1,
       // A one-row table: a person's record, fields in a fixed order ("Mary: age 7, room 4, floor 2.
       // What is Mary's room?"). The model reads which field is asked and copies that field's digit.
       // Tables whose rows come in random order ("3 John, 8 Mary, 1 Jack. What is Mary's number?")
       // need the asked key matched against the rows by content, an induction circuit the tiny model
       // does not form in a 15-minute fine-tune: at chance (33%) in every format tried (README).
       [](SplitMix64& rng) {
         static const std::vector<std::string> fields = {"age", "room", "floor"};
         const std::string name = pick(rng, kNames);
         std::vector<std::string> cells, values;
         for (const auto& f : fields) {
           values.push_back(std::to_string(rng.below(10)));
           cells.push_back(f + " " + values.back());
         }
         const size_t q = rng.below(fields.size());
         return std::make_pair(name + ": " + join(cells, ", ") + ". What is " + name + "'s " + fields[q] + "?", values[q]);
       }},
  };
}

InstructExample example(const std::string& task, const std::string& prompt, const std::string& answer,
                        const std::string& tool_call = "") {
  InstructExample ex;
  ex.task = task;
  if (tool_call.empty()) {
    ex.messages = {{"user", prompt}, {"assistant", answer}};
  } else {
    ChatMessage call{"assistant", "", tool_call};
    ex.messages = {{"user", prompt}, call, {"tool", answer}, {"assistant", answer}};
  }
  return ex;
}

}  // namespace

std::vector<std::string> task_names() {
  std::vector<std::string> names;
  for (const auto& t : tasks()) names.push_back(t.name);
  return names;
}

TaskSuite make_task_suite(const TaskSuiteOptions& opts) {
  TaskSuite suite;
  SplitMix64 rng(derive_seed(opts.seed, 99));
  std::vector<Task> chosen;
  for (const auto& task : tasks()) {
    if (opts.only.empty() || std::find(opts.only.begin(), opts.only.end(), task.name) != opts.only.end()) {
      chosen.push_back(task);
    }
  }
  for (const auto& name : opts.only) {
    const auto names = task_names();
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      throw UsageError("--only: unknown task '" + name + "' (" + join(names, ", ") + ")");
    }
  }
  for (const auto& task : chosen) {
    const size_t seen = task.phrasings.size() - static_cast<size_t>(task.held_out);
    // Test first: a test instance (the filled-in text; for a tool task the call, so that "37 times 45"
    // and "37 * 45" are one problem) never appears in training, whatever the phrasing.
    auto problem = [&](const std::string& instance) { return task.tool_call ? task.tool_call(instance) : instance; };
    std::set<std::string> test_instances;
    int64_t attempts = 0;
    while (static_cast<int64_t>(test_instances.size()) < opts.test_per_task && attempts++ < 100000) {
      auto [instance, answer] = task.draw(rng);
      if (!test_instances.insert(problem(instance)).second) continue;
      // Alternate between phrasings seen in training and the held-out ones.
      size_t p = test_instances.size() % 2 == 0 ? seen + rng.below(task.phrasings.size() - seen) : rng.below(seen);
      suite.test.push_back(example(task.name, fill(task.phrasings[p], instance), answer,
                                   task.tool_call ? task.tool_call(instance) : ""));
    }
    const int64_t train_count = task.weight * opts.train_per_task;
    int64_t made = 0;
    attempts = 0;
    while (made < train_count && attempts++ < 1000000) {
      auto [instance, answer] = task.draw(rng);
      if (test_instances.count(problem(instance))) continue;
      std::string prompt = fill(task.phrasings[rng.below(seen)], instance);
      prompt = pick(rng, kOpenings) + prompt;
      suite.train.push_back(example(task.name, prompt, answer, task.tool_call ? task.tool_call(instance) : ""));
      ++made;
    }
  }
  // Interleave the tasks.
  shuffle(suite.train, rng);
  return suite;
}

void write_instruct_jsonl(const std::string& path, const std::vector<InstructExample>& examples) {
  std::string out;
  for (const auto& ex : examples) {
    nlohmann::json j = {{"task", ex.task}, {"messages", nlohmann::json::array()}};
    for (const auto& m : ex.messages) {
      nlohmann::json msg = {{"role", m.role}, {"content", m.content}};
      if (!m.tool_call.empty()) msg["tool_call"] = m.tool_call;
      j["messages"].push_back(msg);
    }
    if (ex.ignore_case) j["ignore_case"] = true;
    out += j.dump() + "\n";
  }
  write_file_atomic(path, out);
}

}  // namespace gptforge
