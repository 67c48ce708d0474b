// Process-wide settings: the section `run:` of a config, and its choice keys' enums.
//
// Every section is declared by the layer that reads it (tokenizer/tokenizer_config.h, data/data_config.h,
// model/model_config.h, train/train_config.h, generate/generate_config.h, export/export_config.h,
// serve/serve_config.h, this one for util/): the keys, defaults, ranges and descriptions, next to the
// code that uses them. A choice key is a Choice<Enum> (util/choice.h) with one name table per enum: the
// loader checks against it, `config schema` lists it, the code switches on it. util/config.h assembles
// the sections. Declarations only (no code to link), so that util/config.h may include them.
#pragma once
#include <cstdint>
#include <utility>

#include "util/config_field.h"
#include "util/log.h"

namespace gptforge {

// run.device
enum class DeviceChoice { Auto, Cpu, Cuda };
template <>
struct ChoiceNames<DeviceChoice> {
  static constexpr std::pair<DeviceChoice, const char*> table[] = {
      {DeviceChoice::Auto, "auto"}, {DeviceChoice::Cpu, "cpu"}, {DeviceChoice::Cuda, "cuda"}};
};

// run.log_level (util/log.h)
template <>
struct ChoiceNames<LogLevel> {
  static constexpr std::pair<LogLevel, const char*> table[] = {
      {LogLevel::Quiet, "quiet"}, {LogLevel::Info, "info"}, {LogLevel::Debug, "debug"}};
};

// run.progress
enum class ProgressMode { Auto, Bar, Plain, Off };
template <>
struct ChoiceNames<ProgressMode> {
  static constexpr std::pair<ProgressMode, const char*> table[] = {
      {ProgressMode::Auto, "auto"}, {ProgressMode::Bar, "bar"}, {ProgressMode::Plain, "plain"}, {ProgressMode::Off, "off"}};
};

struct RunConfig {
  int64_t threads = 0;
  Choice<DeviceChoice> device = DeviceChoice::Auto;
  int64_t seed = 1337;
  Choice<LogLevel> log_level = LogLevel::Info;
  Choice<ProgressMode> progress = ProgressMode::Auto;
  double dist_timeout = 300.0;

  template <class V>
  void fields(V& v) {
    v("threads", threads,
      "Intra-op CPU threads; 0 uses every core (shared among a distributed run's local processes), and in "
      "training fewer while other processes keep the cores busy (util/thread_governor.h)",
      Range{0, 1024});
    v("device", device, "Where to run: auto (CUDA when present), cpu or cuda");
    v("seed", seed, "Seed for every random generator of the run", Range{0, 9.2e18});
    v("log_level", log_level, "How much to print");
    v("progress", progress, "Progress display: a bar on a terminal, plain lines otherwise (auto)");
    v("dist_timeout", dist_timeout, "Distributed runs: seconds to wait for another process before failing",
      Range{1, 86400});
  }
};

}  // namespace gptforge
