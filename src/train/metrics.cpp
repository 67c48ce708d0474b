#include "train/metrics.h"

#include <filesystem>
#include <sstream>

#include "util/errors.h"
#include "util/files.h"

namespace gptforge {

MetricsLog::MetricsLog(const std::string& path, int64_t keep_up_to_step) {
  if (keep_up_to_step >= 0 && std::filesystem::exists(path)) {
    std::istringstream in(read_file(path));
    std::string line, kept;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded() && j.value("step", int64_t(0)) <= keep_up_to_step) kept += line + "\n";
    }
    write_file_atomic(path, kept);
  } else if (keep_up_to_step < 0 && std::filesystem::exists(path) && std::filesystem::file_size(path) > 0) {
    for (int n = 1; aside_.empty(); ++n) {
      const std::string name = path + "." + std::to_string(n);
      if (!std::filesystem::exists(name)) aside_ = name;
    }
    std::filesystem::rename(path, aside_);
  }
  out_.open(path, std::ios::app);
  if (!out_) throw DataError(path + ": cannot open metrics file for writing");
}

void MetricsLog::write(const nlohmann::json& record) {
  out_ << record.dump() << "\n";
  out_.flush();
}

}  // namespace gptforge
