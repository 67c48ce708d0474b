// `gptforge export`'s options: the section `export:` of a config.
// Declarations only: util/config.h assembles the sections (README, "The pipeline").
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "util/config_field.h"

namespace gptforge {

// export.format
enum class ExportFormat { Hf, Gguf };
template <>
struct ChoiceNames<ExportFormat> {
  static constexpr std::pair<ExportFormat, const char*> table[] = {{ExportFormat::Hf, "hf"}, {ExportFormat::Gguf, "gguf"}};
};

// export.dtype
enum class ExportDtype { F32, F16, Bf16 };
template <>
struct ChoiceNames<ExportDtype> {
  static constexpr std::pair<ExportDtype, const char*> table[] = {
      {ExportDtype::F32, "f32"}, {ExportDtype::F16, "f16"}, {ExportDtype::Bf16, "bf16"}};
};

struct ExportConfig {
  Choice<ExportFormat> format = ExportFormat::Hf;
  Choice<ExportDtype> dtype = ExportDtype::F32;
  std::string out;
  bool force = false;

  template <class V>
  void fields(V& v) {
    v("format", format, "hf (Hugging Face directory) or gguf (llama.cpp)");
    v("dtype", dtype, "Weight dtype in the exported file");
    v("out", out, "Output path");
    v("force", force, "Overwrite an existing output");
  }
};

}  // namespace gptforge
