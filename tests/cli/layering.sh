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

bad=""
for dir in "$src"/src/*/; do
  layer=$(basename "$dir")
  [[ -n ${allowed[$layer]:-} ]] || fail "src/$layer/ is no layer of CMakeLists.txt (add a gptforge_layer line)"
  while IFS=: read -r file line used; do
    [[ ${allowed[$layer]} == *" $used "* ]] || bad+="${file#"$src"/}:$line: $layer includes $used/"$'\n'
  done < <(grep -HnoE '^#include "[a-z_]+/' "$dir"*.{h,cpp} 2>/dev/null | sed -E 's/#include "([a-z_]+)\/$/\1/')
done
[[ -z $bad ]] || fail "includes that climb a layer:"$'\n'"$bad"

# The check itself must see a violation: an include of train/ from model/ is refused.
[[ ${allowed[model]} != *" train "* ]] || fail "the table lets model/ use train/"
echo "ok"
