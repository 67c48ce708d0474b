#include "cli/app.h"

#include <torch/torch.h>

#include <cstdio>

#include "util/errors.h"
#include "util/runtime.h"

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

int run(int argc, char** argv) {
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
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "gptforge: error: %s\n", e.what_without_backtrace());
    return kExitFailure;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gptforge: error: %s\n", e.what());
    return kExitFailure;
  }
  return 0;
}

}  // namespace gptforge::cli
