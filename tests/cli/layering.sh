#!/usr/bin/env bash
# The layering of src/, as CMakeLists.txt declares it (gptforge_layer(NAME LOWER...)): every
# #include "layer/..." in a layer's files names the layer itself or one it may use. The link check
# targets catch calls into a higher layer; this catches what a header alone (inline, template) brings.
set -u
src=$2
fail() { echo "FAIL: $*"; exit 1; }

declare -A allowed
while read -r name lower; do
  allowed[$name]=" $name $lower "
done < <(sed -nE 's/^gptforge_layer\(([a-z_]+)(.*)\)$/\1\2/p' "$src/CMakeLists.txt")
(( ${#allowed[@]} >= 9 )) || fail "found only ${#allowed[@]} gptforge_layer lines in CMakeLists.txt"

# One exception, the config sections: each layer declares its own in LAYER/LAYER_config.h, and
# util/config.h assembles them. A section header holds declarations only (no code to link, so the link
# checks still hold) and may itself include only util/ and the section headers of its own lower layers.
bad=""
for dir in "$src"/src/*/; do
  layer=$(basename "$dir")
  [[ -n ${allowed[$layer]:-} ]] || fail "src/$layer/ is no layer of CMakeLists.txt (add a gptforge_layer line)"
  while IFS=: read -r file line used header; do
    [[ ${allowed[$layer]} == *" $used "* ]] && continue
    [[ $file == "$src/src/util/config.h" && $header == "${used}_config.h" ]] && continue
    bad+="${file#"$src"/}:$line: $layer includes $used/"$'\n'
  done < <(grep -HnoE '^#include "[a-z_]+/[a-z_]+\.h"' "$dir"*.{h,cpp} 2>/dev/null |
    sed -E 's/#include "([a-z_]+)\/([a-z_]+\.h)"$/\1:\2/')
done
[[ -z $bad ]] || fail "includes that climb a layer:"$'\n'"$bad"

sections=0
for header in "$src"/src/*/*_config.h; do
  ((++sections))
  while IFS=: read -r line included; do
    [[ $included == util/* || $included == */*_config.h ]] ||
      bad+="${header#"$src"/}:$line: a config section includes $included (only util/ and sections)"$'\n'
  done < <(grep -noE '^#include "[a-z_/]+\.h"' "$header" | sed -E 's/#include "(.*)"$/\1/')
done
((sections >= 8)) || fail "found only $sections config section headers (src/*/*_config.h)"
[[ -z $bad ]] || fail "$bad"

# The check itself must see a violation: an include of train/ from model/ is refused.
[[ ${allowed[model]} != *" train "* ]] || fail "the table lets model/ use train/"
echo "ok"
