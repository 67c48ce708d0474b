#!/usr/bin/env bash
# Bad inputs to `prepare` and `train` are refused before any work, with one line naming the file
# or key: special files (a FIFO, a device) as corpus inputs, a directory given as the config or its base, duplicate keys
# and a second YAML document. And a run stopped by SIGTERM reports the step it reached, not the total.
set -euo pipefail
bin=$1
source "$(dirname "$0")/lib.bash"

# One line on stderr: the error.
expect_one_line() {  # code pattern -- command...
  expect_exit "$@"
  [[ $(wc -l < err.txt) == 1 ]] || fail "more than one line on stderr: $(cat err.txt)"
}

source "$(dirname "$0")/tiny_data.bash"
tiny_data "$bin" 40
train=("${common[@]}" model.n_layer=2 model.n_head=2 model.d_model=32 model.block_size=32 train.batch_size=4
       train.max_steps=5 train.eval_batches=1)

# Special files as corpus inputs: refused at once, named (a FIFO would block, /dev/zero never end).
mkfifo pipe
expect_one_line 1 "pipe: is a FIFO, not a regular file" -- timeout 60 "$bin" prepare "${common[@]}" data.inputs=pipe data.out_dir=p1
expect_one_line 1 "/dev/zero: is a device, not a regular file" -- \
  timeout 60 "$bin" tokenizer train "${common[@]}" tokenizer.inputs=/dev/zero tokenizer.model_prefix=t2

# Configs: a directory, a directory as base, duplicate keys, a second document: exit 2, named.
mkdir confdir
expect_one_line 2 "confdir: is a directory, not a config file" -- "$bin" train --config confdir
printf 'base: confdir\n' > b.yaml
expect_one_line 2 "b.yaml:1: base config 'confdir' is a directory" -- "$bin" train --config b.yaml
printf 'model:\n  n_layer: 2\n  n_layer: 3\n' > dup.yaml
expect_one_line 2 "dup.yaml:3: key 'n_layer' is already set at line 2" -- "$bin" train --config dup.yaml
printf 'model:\n  n_layer: 2\n---\nmodel:\n  n_layer: 3\n' > two.yaml
expect_one_line 2 "two.yaml:3: a second YAML document" -- "$bin" train --config two.yaml
expect_one_line 2 "model.n_layer: expected an integer, got an empty value" -- "$bin" train "${train[@]}" model.n_layer=

# SIGTERM: the last progress line shows the step the run stopped at.
"$bin" train "${train[@]}" train.data_dir=shards train.out_dir=term train.max_steps=100000 train.checkpoint_interval=5 \
  run.progress=plain run.log_level=info >term.out 2>term.err &
pid=$!
for _ in $(seq 1 1500); do [[ -e term/latest ]] && break; sleep 0.02; done
kill -TERM $pid
wait $pid || fail "SIGTERM: exit $?"
steps=$(sed -nE 's/^interrupted after ([0-9]+) steps.*/\1/p' term.out)
[[ -n $steps ]] || fail "no summary: $(cat term.out)"
last=$(grep -E '^train [0-9]+/100000' term.err | tail -1)
[[ $last == "train $steps/100000 "* ]] || fail "the last progress line claims '$last' after $steps steps"
echo "train_inputs: all checks passed"
