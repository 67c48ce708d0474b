#!/usr/bin/env bash
# Bad inputs to `prepare` and `train` are refused before any work, with one line naming the file
# or key: special files (a FIFO, a device) as corpus inputs, a directory given as the config or its base, duplicate keys
# and a second YAML document, a file as train.out_dir, shards holding ids outside meta.json's vocabulary.
# And a run stopped by SIGTERM reports the step it reached, not the total, and takes the signal on
# one thread only; then errors of the commands
# that read or write files next to a checkpoint: a directory as --prompt-file or as a report file,
# an output path under a file.
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
  timeout 60 "$bin" tokenizer train "${common[@]}" data.inputs=/dev/zero tokenizer.model_prefix=t2

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

# train.out_dir that cannot be a directory: the key named, exit 2, nothing created.
printf 'x' > afile
expect_one_line 2 "train.out_dir 'afile' is a file, not a directory" -- "$bin" train "${train[@]}" train.data_dir=shards train.out_dir=afile
expect_one_line 2 "train.out_dir 'afile/run': cannot create it (Not a directory)" -- \
  "$bin" train "${train[@]}" train.data_dir=shards train.out_dir=afile/run

# Shards with ids beyond meta.json's vocabulary (meta.json and tokenizer.model both of a smaller,
# consistent tokenizer): the shard and position named when the data is opened, not "index out of range" at a step.
"$bin" tokenizer train "${common[@]}" tokenizer.vocab_size=290 tokenizer.model_prefix=tok290 >/dev/null 2>&1 ||
  fail "tokenizer train 290"
cp -r shards small_vocab
cp tok290.model small_vocab/tokenizer.model
sed -i -E 's/"vocab_size": 300/"vocab_size": 290/' small_vocab/meta.json
expect_one_line 1 "outside the vocabulary of small_vocab/meta.json (vocab_size 290)" -- \
  "$bin" train "${train[@]}" train.data_dir=small_vocab train.out_dir=sv
grep -qE "small_vocab/(train|val)_000000.bin: token [0-9]+ is id (29[0-9])," err.txt || fail "$(cat err.txt)"
[[ ! -e sv ]] || fail "train.out_dir was created for unusable shards"

# Memory the machine cannot give (2 GB of address space beyond the program's own libraries, a model
# of about 50 billion weights): the command and the keys that bound its memory are named, exit 1, no
# run directory left behind. The libraries count because a CUDA build maps several GB of them.
libs_kb=$(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | xargs -r stat -L -c %s "$bin" |
  awk '{s += $1} END {print int(s / 1024)}')
expect_one_line 1 "out of memory in \`gptforge train\`" -- \
  bash -c 'ulimit -v "$1" && shift && exec "$@"' oom $((libs_kb + 2000000)) "$bin" train "${train[@]}" train.data_dir=shards train.out_dir=oom \
  model.d_model=8192 model.n_head=64 model.n_layer=64
grep -qF "lower model.d_model, model.n_layer, model.block_size, model.vocab_size, train.batch_size" err.txt ||
  fail "the out-of-memory error names no keys: $(cat err.txt)"
[[ ! -e oom/latest ]] || fail "an out-of-memory run left a checkpoint"

# SIGTERM: the last progress line shows the step the run stopped at.
"$bin" train "${train[@]}" train.data_dir=shards train.out_dir=term train.max_steps=100000 train.checkpoint_interval=5 \
  run.progress=plain run.log_level=info >term.out 2>term.err &
pid=$!
for _ in $(seq 1 1500); do [[ -e term/latest ]] && break; sleep 0.02; done
# The signals reach one waiting thread only (src/util/stop_signals.h): a handler run inside oneDNN's
# kernels corrupted the heap. Every other thread of the process, its compute threads included, blocks
# SIGINT (bit 2) and SIGTERM (bit 15); the waiter's mask reads as unblocked while it waits.
unblocked=0 threads=0
for status in /proc/$pid/task/*/status; do
  blk=$(sed -n 's/^SigBlk:[[:space:]]*//p' "$status" 2>/dev/null) || continue
  [[ -n $blk ]] || continue
  threads=$((threads + 1))
  (( (0x$blk & 0x4002) == 0x4002 )) || unblocked=$((unblocked + 1))
done
(( threads >= 2 && unblocked <= 1 )) || fail "$unblocked of $threads threads take SIGINT/SIGTERM themselves"
kill -TERM $pid
wait $pid || fail "SIGTERM: exit $?"
steps=$(sed -nE 's/^interrupted after ([0-9]+) steps.*/\1/p' term.out)
[[ -n $steps ]] || fail "no summary: $(cat term.out)"
last=$(grep -E '^train [0-9]+/100000' term.err | tail -1)
[[ $last == "train $steps/100000 "* ]] || fail "the last progress line claims '$last' after $steps steps"

# Files around a checkpoint: a directory where a file is read or written, an output under a file.
mkdir pdir
expect_one_line 1 "pdir: is a directory, not a file" -- "$bin" sample --checkpoint term --prompt-file pdir run.threads=1 run.log_level=quiet
expect_one_line 1 "pdir: cannot rename temporary file into place (Is a directory)" -- \
  "$bin" probe --checkpoint term --prompt "the cat" --json pdir run.threads=1 run.log_level=quiet
expect_one_line 1 "afile: cannot create directories: Not a directory" -- \
  "$bin" export --checkpoint term --format gguf --out afile/x.gguf run.log_level=quiet
echo "train_inputs: all checks passed"
