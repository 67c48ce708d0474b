// `gptforge export --checkpoint C --format hf|gguf --out PATH [--dtype f32|f16|bf16] [--force]
//  [--reference-logits FILE] [--config X] [export.key=value ...]`: a checkpoint as a Hugging Face
// directory or a GGUF file (export/export.h).
#include <cstdio>

#include "cli/app.h"
#include "export/export.h"
#include "util/errors.h"
#include "util/log.h"

namespace gptforge::cli {

namespace {
// "1.2 MB", "640 kB", "512 B".
std::string human_bytes(uint64_t n) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  return u == 0 ? strprintf("%.0f %s", v, units[u]) : strprintf("%.1f %s", v, units[u]);
}

struct ExportCliOptions {
  std::string checkpoint, format, dtype, out, reference_logits;
  bool force = false;
};
}  // namespace

void register_export(CLI::App& app) {
  auto opts = std::make_shared<CommonOptions>();
  auto e = std::make_shared<ExportCliOptions>();
  auto* cmd = app.add_subcommand("export", "Export a checkpoint for Hugging Face transformers (hf) or llama.cpp (gguf)");
  cmd->add_option("--checkpoint", e->checkpoint, "Checkpoint or run directory (its latest checkpoint)")->required();
  cmd->add_option("--format", e->format, "hf (a transformers directory) or gguf (a llama.cpp file) (export.format)");
  cmd->add_option("--out", e->out, "Output directory (hf) or file (gguf) (export.out)");
  cmd->add_option("--dtype", e->dtype, "Weight dtype: f32, f16 or bf16 (export.dtype)");
  cmd->add_flag("--force", e->force, "Replace an existing output (export.force)");
  cmd->add_option("--reference-logits", e->reference_logits,
                  "Also write input ids and gptforge's logits for them (JSON), for scripts/check_hf_export.py");
  add_common_options(cmd, *opts);
  cmd->callback([opts, e] {
    CommonOptions o = *opts;
    // A bad flag value is named as the flag the user typed, not as the override it becomes.
    if (!e->format.empty() && !Choice<ExportFormat>::known(e->format)) {
      throw UsageError("--format " + e->format + ": unknown export format; use hf or gguf");
    }
    if (!e->dtype.empty() && !Choice<ExportDtype>::known(e->dtype)) {
      throw UsageError("--dtype " + e->dtype + ": unknown export dtype; use f32, f16 or bf16 (export.dtype)");
    }
    if (!e->format.empty()) o.overrides.push_back("export.format=" + e->format);
    if (!e->dtype.empty()) o.overrides.push_back("export.dtype=" + e->dtype);
    if (!e->out.empty()) o.overrides.push_back("export.out=" + e->out);
    if (e->force) o.overrides.push_back("export.force=true");
    Config cfg = load_command_config(o);
    require_keys(cfg, {"export.out"}, "export");
    ExportOptions eo(cfg.export_);
    eo.reference_logits = e->reference_logits;
    ExportResult r = export_checkpoint(e->checkpoint, eo);
    std::printf("exported %s as %s (%s, %lld tensors, %s) to %s\n", e->checkpoint.c_str(), r.architecture.c_str(),
                eo.dtype.name(), static_cast<long long>(r.tensors), human_bytes(r.bytes).c_str(),
                r.path.c_str());
    if (!eo.reference_logits.empty()) std::printf("reference logits: %s\n", eo.reference_logits.c_str());
  });
}

}  // namespace gptforge::cli
