#include "cli/app.h"

#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <new>

#include "util/errors.h"
#include "util/runtime.h"
#include "util/stop_signals.h"

namespace gptforge::cli {

void add_common_options(CLI::App* cmd, CommonOptions& opts, bool with_overrides) {
  cmd->add_option("-c,--config", opts.config, "YAML config file (see `gptforge config schema`)");
  cmd->add_option("-t,--threads", opts.threads, "Intra-op CPU threads (run.threads; 0 = all cores)");
  cmd->add_option("--device", opts.device, "auto | cpu | cuda (run.device)");
  if (with_overrides) cmd->add_option("overrides", opts.overrides, "Config overrides: section.key=value ...");
}

Config load_command_config(const CommonOptions& opts) {
  std::vector<std::string> overrides = opts.overrides;
  for (const auto& o : overrides) {
    if (o.find('=') == std::string::npos) {
      throw UsageError("unexpected argument '" + o + "': overrides take the form section.key=value");
    }
  }
  if (opts.threads >= 0) overrides.push_back("run.threads=" + std::to_string(opts.threads));
  if (!opts.device.empty()) overrides.push_back("run.device=" + opts.device);
  Config cfg = load_config(opts.config, overrides);
  init_runtime(cfg.run);
  return cfg;
}

namespace {

// "filesystem error: cannot create directories: Not a directory [out/x]" as "out/x: cannot create
// directories: Not a directory": the path first, as every other error names its file.
std::string describe_filesystem_error(const std::filesystem::filesystem_error& e) {
  std::string what = e.what();
  const std::string prefix = "filesystem error: ";
  if (what.rfind(prefix, 0) == 0) what.erase(0, prefix.size());
  std::string paths;
  for (const auto* p : {&e.path1(), &e.path2()}) {
    if (p->empty()) continue;
    const std::string quoted = " [" + p->string() + "]";
    const size_t at = what.rfind(quoted);
    if (at != std::string::npos) what.erase(at, quoted.size());
    paths += (paths.empty() ? "" : " -> ") + p->string();
  }
  return paths.empty() ? what : paths + ": " + what;
}

// What bounds memory in each command: the keys an out-of-memory error names, so that the user knows
// what to lower. (A bad_alloc names nothing by itself, and LibTorch's "can't allocate memory" only a
// byte count.)
std::string memory_keys(const std::string& command) {
  const std::string model = "model.d_model, model.n_layer, model.block_size, model.vocab_size";
  if (command == "train" || command == "sft" || command == "launch") return model + ", train.batch_size";
  if (command == "sample" || command == "chat") return model + ", sample.num_samples, sample.beam_width";
  if (command == "eval") return model + ", eval.batch_size, sample.num_samples";
  if (command == "serve") return model + ", serve.max_batch";
  if (command == "tokenizer") return "tokenizer.max_sentences, tokenizer.max_sentence_length, tokenizer.vocab_size";
  if (command == "prepare") return "data.shard_tokens, data.threads";
  return "the model's size (" + model + ")";
}

std::string out_of_memory(const CLI::App& app, const std::string& detail) {
  const auto commands = app.get_subcommands();
  const std::string command = commands.empty() ? "" : commands.front()->get_name();
  return "out of memory" + (command.empty() ? "" : " in `gptforge " + command + "`") + " (" + detail +
         "): this machine cannot hold what the config asks for; lower " + memory_keys(command);
}

bool is_allocation_failure(const c10::Error& e) {
  const std::string what = e.what_without_backtrace();
  return what.find("can't allocate memory") != std::string::npos ||
         what.find("out of memory") != std::string::npos;  // CUDA: "CUDA out of memory. Tried to allocate ..."
}

}  // namespace

int run(int argc, char** argv) {
  // First, before any thread starts, so that every thread inherits the mask (util/stop_signals.h).
  start_signal_thread();
  CLI::App app{"gptforge: train, fine-tune, sample, inspect and export small GPT models", "gptforge"};
  app.set_version_flag("--version", std::string("gptforge ") + GPTFORGE_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);
  register_info(app);
  register_config(app);
  register_tokenizer(app);
  register_prepare(app);
  register_train(app);
  register_sft(app);
  register_tasks(app);
  register_eval(app);
  register_sample(app);
  register_chat(app);
  register_probe(app);
  register_export(app);
  register_import(app);
  register_launch(app);
  register_serve(app);
  register_lora(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "gptforge: error: %s (see gptforge --help)\n", e.what());
    return kExitUsage;
  } catch (const Error& e) {
    // An Error without a message only carries an exit code (launch reports failures as they happen).
    if (*e.what()) std::fprintf(stderr, "gptforge: error: %s\n", e.what());
    return e.exit_code();
  } catch (const std::filesystem::filesystem_error& e) {
    std::fprintf(stderr, "gptforge: error: %s\n", describe_filesystem_error(e).c_str());
    return kExitFailure;
  } catch (const c10::Error& e) {
    if (is_allocation_failure(e)) {
      std::string detail = e.what_without_backtrace();
      detail = detail.substr(0, detail.find('\n'));
      std::fprintf(stderr, "gptforge: error: %s\n", out_of_memory(app, detail).c_str());
    } else {
      std::fprintf(stderr, "gptforge: error: %s\n", e.what_without_backtrace());
    }
    return kExitFailure;
  } catch (const std::bad_alloc& e) {
    std::fprintf(stderr, "gptforge: error: %s\n", out_of_memory(app, "std::bad_alloc").c_str());
    return kExitFailure;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gptforge: error: %s\n", e.what());
    return kExitFailure;
  }
  return 0;
}

}  // namespace gptforge::cli
