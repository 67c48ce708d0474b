// The batched decoding engine of `gptforge serve`: continuous batching over a fixed set of KV-cache
// slots (model/slot_kv_cache.h).
//
// One worker thread owns the model. Requests (jobs) wait in a bounded queue; between two decoding
// steps the worker admits the jobs at the front whose choices fit in the free slots: it runs each
// one's prompt alone (the prefill, batch 1), copies its cache into one slot per choice and samples
// each choice's first token. Then one batched forward advances every running choice by a token
// (GPTImpl::forward_slots), each at its own position, and each row is sampled with its own options
// and generator. A choice leaves between steps when it ends (EOS, a stop id or string, max tokens,
// the job's deadline, or its client going away); the last running choice moves into its slot, so
// the running choices always fill slots [0, B).
//
// Per choice the decoding is generate_detailed's (sampler.h): the same processors in the same order,
// the same stop rules, and the same context window: a choice whose slot is full restarts from the
// most recent max(1, block_size / 2) tokens (re-prefilled alone, then back in the batch). So a greedy
// choice gives the ids generate_detailed gives, alone or batched with others (tested); a sampled one
// too for n = 1, whose generator is seeded with the request's seed (choice i of n uses seed + i).
//
// Tools (serve.tools, generate/tool_calls.h): when a choice's token closes a tool call, the result
// is forced into its slot (the slot re-filled alone, as after a slide) and the choice goes on in the
// batch; the result's text streams with the token that closed the call. Forced ids are not sampled:
// they do not count as completion tokens nor against max_tokens.
#pragma once
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "generate/sampler.h"
#include "model/gpt.h"
#include "tokenizer/tokenizer.h"

namespace gptforge {

using Clock = std::chrono::steady_clock;

// What one request asks of the engine.
struct EngineJob {
  std::vector<int32_t> prompt;   // 1..block_size ids
  GenerationOptions opts;        // max_new_tokens, sampling, stop strings and ids, seed (beam search: no)
  int64_t n = 1;                 // choices, each in its own slot (1..max_batch)
  int64_t top_logprobs = -1;     // < 0: no log-probabilities; k >= 0: the chosen token's and k alternatives
  Clock::time_point deadline = Clock::time_point::max();
};

// A sampled token, for log-probabilities.
struct SampledToken {
  int32_t id = 0;
  double logprob = 0;                           // log p(id) under the model (before the processors)
  std::vector<std::pair<int32_t, double>> top;  // the top_logprobs most likely ids and their log p
};

// What a job receives, in order per choice: one Token event per sampled token that is not an end
// token (with the text that became final with it, possibly empty), then one Finished event.
struct EngineEvent {
  enum class Kind { Token, Finished } kind = Kind::Token;
  int choice = 0;
  std::string text;            // Token: final text released now; Finished: the rest of the text
  SampledToken token;          // Token
  std::string finish_reason;   // Finished: "stop" (EOS, stop id or stop string), "length", "timeout",
                               // "cancelled" (the client left), "error" (the model failed; logged)
};

// The shared state of one submitted job: the engine pushes events, the request's thread takes them.
class JobState {
 public:
  JobState(int64_t n, int64_t prompt_tokens) : n_(n), prompt_tokens_(prompt_tokens) {}

  // Waits until there are events or the job is over, at most `wait`; moves the events into `out`.
  // Returns false once the job is over and every event has been taken.
  bool take(std::vector<EngineEvent>& out, std::chrono::milliseconds wait);
  // The client went away: the engine ends the job's choices at its next step and frees their slots.
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }

  int64_t n() const { return n_; }
  int64_t prompt_tokens() const { return prompt_tokens_; }
  // Tokens sampled over every choice so far (end tokens included).
  int64_t completion_tokens() const;
  // Choices that have finished; every one has when over().
  int64_t finished() const;
  bool over() const;

  // --- Used by the engine ---------------------------------------------------------------------
  void push(std::vector<EngineEvent> events, int64_t new_tokens);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<EngineEvent> events_;
  int64_t n_, prompt_tokens_, completion_tokens_ = 0, finished_ = 0;
  std::atomic<bool> cancelled_{false};
};

struct EngineStats {
  int64_t running = 0;         // choices admitted and not finished
  int64_t waiting = 0;         // jobs in the queue
  int64_t completed = 0;       // jobs finished (any reason)
  int64_t cancelled = 0;       // choices ended because their client went away
  int64_t timed_out = 0;       // choices ended by the deadline
  int64_t steps = 0;           // batched forwards
  int64_t batched_rows = 0;    // rows over every batched forward
  int64_t peak_batch = 0;      // the most rows in one forward
  int64_t slides = 0;          // context-window restarts
};

// Thrown by submit() when the queue is full (the server answers 429).
struct QueueFull : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class BatchEngine {
 public:
  // max_batch slots, at most queue_size waiting jobs. The model must not be used elsewhere while the
  // engine runs. With start = false the worker waits for start() (tests queue jobs first, so that
  // they begin in one batch).
  BatchEngine(GPT model, Tokenizer tok, int64_t max_batch, int64_t queue_size, bool start = true);
  ~BatchEngine();  // ends running jobs ("cancelled") and stops the worker
  BatchEngine(const BatchEngine&) = delete;
  BatchEngine& operator=(const BatchEngine&) = delete;

  void start();
  // Queues a job. Throws QueueFull when queue_size jobs already wait, RunError for a job the engine
  // cannot run (n outside 1..max_batch, a prompt outside 1..block_size ids).
  std::shared_ptr<JobState> submit(EngineJob job);
  EngineStats stats() const;
  int64_t max_batch() const { return max_batch_; }

 private:
  struct Queued;
  struct Row;
  void loop();
  void admit(Queued& q);
  // Samples row r (in `slot`)'s next token from its logits (1, V) and emits it; false when the row
  // has ended. When the token closes a tool call, the result is forced into the slot.
  bool consume(Row& r, const torch::Tensor& logits, int64_t slot);
  void finish(Row& r, const std::string& reason);
  // Restarts a row whose slot is full from its most recent tokens (the sampler's window slide).
  void slide(int64_t slot);
  void remove_finished();

  GPT model_;
  Tokenizer tok_;
  int64_t max_batch_, queue_size_;
  SlotKVCache slots_;
  std::vector<std::unique_ptr<Row>> rows_;  // rows_[b] runs in slot b

  mutable std::mutex mu_;  // guards what follows
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Queued>> queue_;
  int64_t slots_in_use_ = 0;
  bool started_ = false, stop_ = false;
  EngineStats stats_;
  std::thread worker_;
};

}  // namespace gptforge
