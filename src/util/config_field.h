// What a config section's `fields` method declares beside each key: the constraints a value must meet.
// A key with a fixed set of values is a Choice<Enum> field (util/choice.h) whose enum lists the names.
#pragma once
#include <string>
#include <vector>

#include "util/choice.h"

namespace gptforge {

// A number's allowed interval (a default Range means "any number").
struct Range {
  double min = -1e300;
  double max = 1e300;
};
// A list field whose items must come from a fixed set.
struct ItemChoices {
  std::vector<std::string> values;
};

}  // namespace gptforge
