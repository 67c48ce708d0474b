#include "util/units.h"

#include "util/log.h"

namespace gptforge {

std::string format_si(double v) {
  if (v >= 1e9) return strprintf("%.2fG", v / 1e9);
  if (v >= 1e6) return strprintf("%.2fM", v / 1e6);
  if (v >= 1e3) return strprintf("%.1fk", v / 1e3);
  return strprintf("%.0f", v);
}

}  // namespace gptforge
