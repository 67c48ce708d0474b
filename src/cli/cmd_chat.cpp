// `gptforge chat --checkpoint C [--system TEXT] [overrides]`: an interactive conversation on the chat
// template. Reads standard input line by line, so it can also be scripted: without a terminal
// there are no prompts and no colours, just one reply line per message.
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "checkpoint/loaded_model.h"
#include "cli/app.h"
#include "cli/generate_options.h"
#include "generate/chat.h"
#include "util/log.h"
#include "util/runtime.h"

namespace gptforge::cli {

namespace {

struct ChatArgs {
  CommonOptions common;
  std::string checkpoint;
  std::string system;
  CLI::Option* system_option = nullptr;
};

const char* kHelp =
    "commands: /system TEXT  set the system message (/system alone removes it)\n"
    "          /reset        forget the conversation (keeps the system message)\n"
    "          /quit         leave (so does end of input)\n";

void write_out(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

// A note for the person at the terminal (stderr, so scripted stdout holds only replies).
void note(const std::string& text) { std::fprintf(stderr, "%s\n", text.c_str()); }

void run_chat(const ChatArgs& args) {
  Config cfg = load_command_config(args.common);
  GenerationOptions opts = GenerationOptions::from_config(cfg.sample, static_cast<uint64_t>(cfg.run.seed));
  if (opts.num_samples != 1) {
    log_warn("chat gives one reply per message: sample.num_samples is ignored");
    opts.num_samples = 1;
  }
  opts.validate();
  LoadedModel m = load_model(args.checkpoint, resolve_device(cfg.run.device));
  require_chat_tokens(m.tokenizer, m.dir + "/tokenizer.model");
  const std::string system = args.system_option->count() > 0 ? args.system : cfg.sample.system;
  ChatSession session(m.tokenizer, m.config.model.block_size, system);

  const bool interactive = ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO);
  if (interactive) {
    note("chatting with " + describe(m));
    note(kHelp);
  }
  const std::string you = interactive ? "\x1b[1myou>\x1b[0m " : "";
  const std::string bot = interactive ? "\x1b[1;34mmodel>\x1b[0m " : "";

  std::string line;
  int64_t turn = 0;
  while (true) {
    if (interactive) write_out(you);
    if (!std::getline(std::cin, line)) break;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (line[0] == '/') {
      const size_t space = line.find(' ');
      const std::string command = line.substr(0, space);
      const std::string rest = space == std::string::npos ? "" : line.substr(space + 1);
      if (command == "/quit" || command == "/exit") break;
      if (command == "/reset") {
        session.reset();
        note("(conversation cleared)");
      } else if (command == "/system") {
        session.set_system(rest);
        note(rest.empty() ? "(system message removed)" : "(system message set)");
      } else if (command == "/help") {
        note(kHelp);
      } else {
        note("unknown command " + command + " (try /help)");
      }
      continue;
    }
    GenerationOptions turn_opts = opts;
    turn_opts.seed = opts.seed + static_cast<uint64_t>(turn++);  // each reply draws anew, reproducibly
    const int64_t dropped = session.dropped_turns();
    GenerationStats stats;
    if (interactive) write_out(bot);
    Generation reply = chat_reply(m.model, session, line, turn_opts, write_out, &stats);
    write_out("\n");
    if (session.dropped_turns() > dropped) {
      note(strprintf("(context full: dropped the %lld oldest turn(s))", (long long)(session.dropped_turns() - dropped)));
    }
    if (reply.text.empty()) note("(empty reply: the turn is not kept)");
    log_debug(stats.summary() + ", ended by " + reply.finish_reason);
  }
}

}  // namespace

void register_chat(CLI::App& app) {
  auto args = std::make_shared<ChatArgs>();
  auto* cmd = app.add_subcommand("chat", "Talk to a chat model (sft) on the chat template; sample.* keys apply");
  add_common_options(cmd, args->common);
  add_checkpoint_option(cmd, args->checkpoint);
  args->system_option = cmd->add_option("-s,--system", args->system, "System message (default: sample.system)");
  cmd->footer(std::string("Reads one message per line from standard input; replies end at <|end|> or EOS. With "
                          "sample.tools=[calc], a model trained with tool calls uses the calculator (the reply shows "
                          "the call and its result).\n") +
              kHelp);
  cmd->callback([args] { run_chat(*args); });
}

}  // namespace gptforge::cli
