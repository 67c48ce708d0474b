#include "util/progress.h"

#include <unistd.h>

#include <cstdio>

#include "util/log.h"

namespace gptforge {

std::string format_duration(double s) {
  if (s < 0 || s != s) return "?";
  int64_t t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600) return strprintf("%lldh%02lldm", (long long)(t / 3600), (long long)(t % 3600 / 60));
  if (t >= 60) return strprintf("%lldm%02llds", (long long)(t / 60), (long long)(t % 60));
  return strprintf("%llds", (long long)t);
}

Progress::Progress(std::string label, int64_t total, Choice<ProgressMode> mode, double plain_every_s)
    : label_(std::move(label)), total_(total), plain_every_s_(plain_every_s) {
  off_ = mode == ProgressMode::Off || log_level() == LogLevel::Quiet;
  bar_ = mode == ProgressMode::Bar || (mode == ProgressMode::Auto && ::isatty(STDERR_FILENO));
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

double Progress::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::update(int64_t done, const std::string& info) {
  if (off_) return;
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_draw_).count();
  // A terminal bar redraws at most 10 times a second; plain lines come every plain_every_s.
  if (since < (bar_ ? 0.1 : plain_every_s_) && drawn_) return;
  last_draw_ = now;
  draw(done, info, false);
}

void Progress::finish(const std::string& info, int64_t done) {
  if (off_) return;
  draw(done >= 0 ? done : total_ > 0 ? total_ : 0, info, true);
}

void Progress::draw(int64_t done, const std::string& info, bool final) {
  drawn_ = true;
  double el = elapsed_s();
  std::string counter = total_ > 0 ? strprintf("%lld/%lld", (long long)done, (long long)total_)
                                   : strprintf("%lld", (long long)done);
  std::string eta;
  if (total_ > 0 && done > 0 && !final) eta = " eta " + format_duration(el * (total_ - done) / done);
  if (bar_) {
    std::string bar;
    if (total_ > 0) {
      const int width = 24;
      int filled = static_cast<int>(width * std::min<double>(1.0, double(done) / total_));
      bar = "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] ";
    }
    std::fprintf(stderr, "\r\033[K%s %s%s %s %s%s", label_.c_str(), bar.c_str(), counter.c_str(), info.c_str(),
                 format_duration(el).c_str(), eta.c_str());
    if (final) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  } else {
    std::fprintf(stderr, "%s %s %s %s%s\n", label_.c_str(), counter.c_str(), info.c_str(),
                 format_duration(el).c_str(), eta.c_str());
  }
}

}  // namespace gptforge
