#include "serve/engine.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <optional>

#include "generate/decoder.h"
#include "generate/generation_common.h"
#include "generate/stop_strings.h"
#include "generate/tool_calls.h"
#include "util/errors.h"
#include "util/log.h"

namespace gptforge {

// ---- JobState ---------------------------------------------------------------------------------------

bool JobState::take(std::vector<EngineEvent>& out, std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, wait, [&] { return !events_.empty() || finished_ == n_; });
  while (!events_.empty()) {
    out.push_back(std::move(events_.front()));
    events_.pop_front();
  }
  return !out.empty() || finished_ < n_;
}

int64_t JobState::completion_tokens() const {
  std::lock_guard<std::mutex> lock(mu_);
  return completion_tokens_;
}

bool JobState::over() const { return finished() == n_; }

int64_t JobState::finished() const {
  std::lock_guard<std::mutex> lock(mu_);
  return finished_;
}

void JobState::push(std::vector<EngineEvent> events, int64_t new_tokens) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    completion_tokens_ += new_tokens;
    for (auto& e : events) {
      if (e.kind == EngineEvent::Kind::Finished) ++finished_;
      events_.push_back(std::move(e));
    }
  }
  cv_.notify_all();
}

// ---- The engine's records -----------------------------------------------------------------------

struct BatchEngine::Queued {
  EngineJob job;
  std::shared_ptr<JobState> state;
};

// A running choice.
struct BatchEngine::Row {
  std::shared_ptr<JobState> state;
  std::shared_ptr<const EngineJob> job;
  int choice = 0;
  at::Generator gen;
  std::vector<int32_t> window;  // the ids whose keys the slot holds
  int32_t pending = 0;          // sampled, to be fed by the next step
  torch::Tensor present;        // (1, V) bool, for the repetition penalty
  std::unique_ptr<TextTracker> text;
  std::unique_ptr<ToolCallWatcher> tools;  // with opts.tools
  int64_t generated = 0;        // sampled ids, end tokens included
  bool done = false;
};

namespace {

// The last position's logits, (1, T, V) -> (1, V) float.
torch::Tensor last_logits(const torch::Tensor& logits) {
  return logits.select(1, logits.size(1) - 1).to(torch::kFloat).contiguous();
}

torch::Tensor ids_tensor(const std::vector<int32_t>& ids, const torch::Device& device) {
  return torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kLong).unsqueeze(0).to(device);
}

}  // namespace

// ---- BatchEngine ------------------------------------------------------------------------------------

BatchEngine::BatchEngine(GPT model, Tokenizer tok, int64_t max_batch, int64_t queue_size, bool start)
    : model_(std::move(model)), tok_(std::move(tok)), max_batch_(max_batch), queue_size_(queue_size) {
  if (max_batch < 1) throw ConfigError("serve.max_batch must be >= 1");
  model_->eval();
  slots_ = model_->make_slot_cache(max_batch);
  started_ = start;
  worker_ = std::thread([this] { loop(); });
}

BatchEngine::~BatchEngine() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
  // Whatever is left ends now, so that no request thread waits for ever.
  for (auto& r : rows_) finish(*r, "cancelled");
  for (auto& q : queue_) {
    std::vector<EngineEvent> events;
    for (int64_t c = 0; c < q->job.n; ++c) {
      EngineEvent e;
      e.kind = EngineEvent::Kind::Finished;
      e.choice = static_cast<int>(c);
      e.finish_reason = "cancelled";
      events.push_back(std::move(e));
    }
    q->state->push(std::move(events), 0);
  }
}

void BatchEngine::start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    started_ = true;
  }
  cv_.notify_all();
}

std::shared_ptr<JobState> BatchEngine::submit(EngineJob job) {
  const int64_t block = model_->config().block_size;
  if (job.n < 1 || job.n > max_batch_) {
    throw RunError("a job needs 1.." + std::to_string(max_batch_) + " choices, got " + std::to_string(job.n));
  }
  if (job.prompt.empty() || static_cast<int64_t>(job.prompt.size()) > block) {
    throw RunError("a job's prompt needs 1.." + std::to_string(block) + " ids, got " +
                   std::to_string(job.prompt.size()));
  }
  check_generation_inputs(job.prompt, job.opts, &tok_);
  auto q = std::make_unique<Queued>();
  q->state = std::make_shared<JobState>(job.n, static_cast<int64_t>(job.prompt.size()));
  q->job = std::move(job);
  auto state = q->state;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // A job that starts at the next step does not wait: it needs no room in the queue.
    const bool starts_now = queue_.empty() && max_batch_ - slots_in_use_ >= q->job.n;
    if (!starts_now && static_cast<int64_t>(queue_.size()) >= queue_size_) {
      throw QueueFull("the server is busy: " + std::to_string(queue_.size()) + " requests wait for " +
                      std::to_string(max_batch_) + " slots; retry later");
    }
    queue_.push_back(std::move(q));
  }
  cv_.notify_all();
  return state;
}

EngineStats BatchEngine::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  EngineStats s = stats_;
  s.waiting = static_cast<int64_t>(queue_.size());
  return s;
}

void BatchEngine::loop() {
  torch::NoGradGuard no_grad;
  while (true) {
    std::vector<std::unique_ptr<Queued>> admitted;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || (started_ && (!rows_.empty() || !queue_.empty())); });
      if (stop_) return;
      // Jobs join in arrival order while their choices fit (a large job is not overtaken).
      while (!queue_.empty() && max_batch_ - slots_in_use_ >= queue_.front()->job.n) {
        slots_in_use_ += queue_.front()->job.n;
        stats_.running += queue_.front()->job.n;
        admitted.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    try {
      for (auto& q : admitted) {
        try {
          admit(*q);
        } catch (const std::exception& e) {
          // Its prefill failed (out of memory, say): that job ends, the others go on.
          log_warn(std::string("serve: a prompt failed: ") + e.what());
          for (auto& r : rows_) {
            if (r->state == q->state) finish(*r, "error");
          }
        }
      }
      // Deadlines and departed clients end rows before the step.
      const auto now = Clock::now();
      for (auto& r : rows_) {
        if (r->done) continue;
        if (r->state->cancelled()) {
          finish(*r, "cancelled");
        } else if (now >= r->job->deadline) {
          finish(*r, "timeout");
        }
      }
      remove_finished();
      if (rows_.empty()) continue;

      const int64_t batch = static_cast<int64_t>(rows_.size());
      for (int64_t b = 0; b < batch; ++b) {
        if (slots_.length(b) >= slots_.capacity()) slide(b);
      }
      std::vector<int32_t> next;
      for (auto& r : rows_) next.push_back(r->pending);
      const auto device = model_->wte->weight.device();
      torch::Tensor logits = model_->forward_slots(ids_tensor(next, device).view({batch, 1}), slots_);
      logits = logits.squeeze(1).to(torch::kFloat);  // (B, V)
      for (int64_t b = 0; b < batch; ++b) {
        Row& r = *rows_[static_cast<size_t>(b)];
        r.window.push_back(r.pending);
        consume(r, logits.narrow(0, b, 1), b);
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++stats_.steps;
        stats_.batched_rows += batch;
        stats_.peak_batch = std::max(stats_.peak_batch, batch);
      }
      remove_finished();
    } catch (const std::exception& e) {
      // A failure of the model (out of memory, say) ends the running choices, not the server.
      log_warn(std::string("serve: decoding failed: ") + e.what());
      for (auto& r : rows_) {
        if (!r->done) finish(*r, "error");
      }
      remove_finished();
    }
  }
}

void BatchEngine::admit(Queued& q) {
  auto job = std::make_shared<const EngineJob>(std::move(q.job));
  const auto device = model_->wte->weight.device();
  // The rows first: should the prefill fail, they are ended like running rows and free their slots.
  const int64_t first = static_cast<int64_t>(rows_.size());
  for (int64_t c = 0; c < job->n; ++c) {
    auto row = std::make_unique<Row>();
    row->state = q.state;
    row->job = job;
    row->choice = static_cast<int>(c);
    row->gen = at::detail::createCPUGenerator(job->opts.seed + static_cast<uint64_t>(c));
    row->window = job->prompt;
    row->text = std::make_unique<TextTracker>(tok_, job->opts.stop, /*show_tool_markers=*/!job->opts.tools.empty());
    if (!job->opts.tools.empty()) row->tools = std::make_unique<ToolCallWatcher>(tok_);
    rows_.push_back(std::move(row));
  }
  // A job whose client left or whose deadline passed while it waited ends here, unrun.
  const bool gone = q.state->cancelled(), late = Clock::now() >= job->deadline;
  if (gone || late) {
    for (int64_t c = 0; c < job->n; ++c) finish(*rows_[static_cast<size_t>(first + c)], gone ? "cancelled" : "timeout");
    return;
  }
  // The prefill: the prompt alone, once for every choice.
  KVCache cache = model_->make_cache(1);
  torch::Tensor logits = last_logits(model_->forward_cached(ids_tensor(job->prompt, device), cache));
  torch::Tensor present;
  if (job->opts.repetition_penalty != 1.0) {
    present = presence_mask(job->prompt, 1, model_->config().vocab_size, device);
  }
  for (int64_t c = 0; c < job->n; ++c) {
    Row& r = *rows_[static_cast<size_t>(first + c)];
    if (present.defined()) r.present = present.clone();
    slots_.load(first + c, cache);
    consume(r, logits, first + c);
  }
}

bool BatchEngine::consume(Row& r, const torch::Tensor& logits, int64_t slot) {
  const GenerationOptions& opts = r.job->opts;
  torch::Tensor scores = apply_penalties(logits, opts, r.present, {}, &tok_);
  const auto id = static_cast<int32_t>(next_tokens(scores, opts, r.gen).item<int64_t>());
  ++r.generated;
  if (contains(end_ids(opts, &tok_), id)) {
    r.state->push({}, 1);
    finish(r, "stop");
    return false;
  }
  EngineEvent e;
  e.choice = r.choice;
  e.token.id = id;
  if (r.job->top_logprobs >= 0) {
    auto lp = torch::log_softmax(logits[0].to(torch::kDouble), -1);
    e.token.logprob = lp[id].item<double>();
    const int64_t k = std::min<int64_t>(r.job->top_logprobs, lp.size(0));
    if (k > 0) {
      auto top = lp.topk(k);
      auto values = std::get<0>(top), ids = std::get<1>(top);
      for (int64_t i = 0; i < k; ++i) {
        e.token.top.emplace_back(static_cast<int32_t>(ids[i].item<int64_t>()), values[i].item<double>());
      }
    }
  }
  bool stopped = r.text->push(id);
  std::optional<std::vector<int32_t>> forced;  // a tool's result, when `id` closed a call
  if (!stopped && r.tools && r.generated < opts.max_new_tokens) {
    forced = r.tools->push(id);
    if (forced) {
      for (int32_t f : *forced) stopped = stopped || r.text->push(f);
    }
  }
  if (!stopped) e.text = r.text->take_ready();
  r.state->push({std::move(e)}, 1);
  if (stopped) {
    finish(r, "stop");
    return false;
  }
  if (r.generated >= opts.max_new_tokens) {
    finish(r, "length");
    return false;
  }
  if (r.present.defined()) r.present[0][id] = true;
  if (!forced) {
    r.pending = id;
    return true;
  }
  // The result joins the row as if the model had written it (generate/tool_calls.h): the slot is
  // re-filled with the window, the sampled id and the result but its last id, which the next step
  // feeds as the pending one. Like the sampler's Decoder::feed, a window that would overflow keeps
  // its most recent max(block_size / 2, the new ids) ids.
  std::vector<int32_t> added = {id};
  added.insert(added.end(), forced->begin(), forced->end());
  if (r.present.defined()) {
    for (int32_t f : *forced) r.present[0][f] = true;
  }
  r.window.insert(r.window.end(), added.begin(), added.end());
  const int64_t block = model_->config().block_size;
  if (static_cast<int64_t>(r.window.size()) > block) {
    const int64_t keep = std::min<int64_t>(block, std::max<int64_t>(std::max<int64_t>(1, block / 2),
                                                                    static_cast<int64_t>(added.size())));
    r.window.erase(r.window.begin(), r.window.end() - keep);
  }
  r.pending = r.window.back();
  r.window.pop_back();
  if (r.window.empty()) {
    slots_.clear(slot);
  } else {
    KVCache cache = model_->make_cache(1);
    model_->forward_cached(ids_tensor(r.window, model_->wte->weight.device()), cache);
    slots_.load(slot, cache);
  }
  return true;
}

void BatchEngine::finish(Row& r, const std::string& reason) {
  if (r.done) return;
  r.done = true;
  {
    // The counters first, so that a client that sees its job end sees them counted, and its slot
    // free: a request sent right after a reply ends must not find the server full. The row leaves
    // its slot in remove_finished, which this thread runs before it admits anything. Only this
    // thread ends choices, so the job's count of finished ones is stable here.
    std::lock_guard<std::mutex> lock(mu_);
    --slots_in_use_;
    --stats_.running;
    if (reason == "cancelled") ++stats_.cancelled;
    if (reason == "timeout") ++stats_.timed_out;
    if (r.state->finished() + 1 == r.state->n()) ++stats_.completed;
  }
  EngineEvent e;
  e.kind = EngineEvent::Kind::Finished;
  e.choice = r.choice;
  e.text = r.text->finish();
  e.finish_reason = reason;
  r.state->push({std::move(e)}, 0);
}

void BatchEngine::slide(int64_t slot) {
  // As the sampler's Decoder: the window restarts from its most recent max(1, block_size / 2) ids,
  // the pending one included, so the slot is re-filled with the ids before it.
  Row& r = *rows_[static_cast<size_t>(slot)];
  const int64_t keep = std::max<int64_t>(1, model_->config().block_size / 2) - 1;
  r.window.erase(r.window.begin(), r.window.end() - keep);
  if (keep == 0) {
    slots_.clear(slot);
  } else {
    KVCache cache = model_->make_cache(1);
    model_->forward_cached(ids_tensor(r.window, model_->wte->weight.device()), cache);
    slots_.load(slot, cache);
  }
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.slides;
}

void BatchEngine::remove_finished() {
  for (int64_t b = static_cast<int64_t>(rows_.size()) - 1; b >= 0; --b) {
    if (!rows_[static_cast<size_t>(b)]->done) continue;
    const int64_t last = static_cast<int64_t>(rows_.size()) - 1;
    if (b != last) {
      slots_.move(last, b);
      rows_[static_cast<size_t>(b)] = std::move(rows_.back());
    } else {
      slots_.clear(b);
    }
    rows_.pop_back();
  }
}

}  // namespace gptforge
