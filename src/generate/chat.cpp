#include "generate/chat.h"

#include <algorithm>

namespace gptforge {

ChatSession::ChatSession(const Tokenizer& tok, int64_t context, std::string system)
    : tok_(tok), context_(context), system_(std::move(system)) {
  require_chat_tokens(tok, "chat");
}

void ChatSession::reset() {
  turns_.clear();
  dropped_ = 0;
}

std::vector<ChatMessage> ChatSession::messages() const {
  std::vector<ChatMessage> out;
  if (!system_.empty()) out.push_back({"system", system_});
  for (const auto& t : turns_) {
    out.push_back({"user", t.user});
    out.insert(out.end(), t.reply.begin(), t.reply.end());
  }
  return out;
}

std::vector<int32_t> ChatSession::render(const std::string& user) const {
  std::vector<ChatMessage> msgs = messages();
  msgs.push_back({"user", user});
  return render_chat(tok_, msgs, /*add_generation_prompt=*/true).ids;
}

std::vector<int32_t> ChatSession::prompt_for(const std::string& user, int64_t reserve) {
  const size_t limit = static_cast<size_t>(std::max<int64_t>(1, context_ - reserve));
  std::vector<int32_t> ids = render(user);
  while (ids.size() > limit && !turns_.empty()) {
    turns_.erase(turns_.begin());
    ++dropped_;
    ids = render(user);
  }
  return ids;
}

void ChatSession::add_turn(std::string user, const std::string& reply) {
  if (user.empty() || reply.empty()) return;
  std::vector<ChatMessage> messages = reply_messages(reply);
  if (messages.empty()) return;
  turns_.push_back({std::move(user), std::move(messages)});
}

Decoder& ChatSession::decoder(GPT& model, bool use_cache) {
  if (!decoder_ || decoder_->model().get() != model.get() || decoder_->use_cache() != use_cache) {
    decoder_ = std::make_unique<Decoder>(model, use_cache);
  }
  return *decoder_;
}

Generation chat_reply(GPT& model, ChatSession& session, const std::string& user, const GenerationOptions& opts,
                      const std::function<void(const std::string& text)>& on_text, GenerationStats* stats) {
  const Tokenizer* tok = &session.tokenizer();
  GenerationOptions o = opts;
  o.num_samples = 1;
  o.stop_at_eos = true;
  o.stop_ids.push_back(tok->special_id(Special::End));
  const int64_t reserve = std::min(o.max_new_tokens, model->config().block_size / 2);
  std::vector<int32_t> prompt = session.prompt_for(user, reserve);
  GenerationCallbacks callbacks;
  if (on_text) callbacks.on_text = [&](int, const std::string& text) { on_text(text); };
  std::vector<Generation> out =
      generate_detailed(session.decoder(model, o.use_cache), prompt, o, tok, callbacks, stats);
  Generation g = out.empty() ? Generation{} : std::move(out.front());
  session.add_turn(user, g.text);
  return g;
}

}  // namespace gptforge
