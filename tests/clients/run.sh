#!/usr/bin/env bash
# The real-clients lane (scripts/lanes.sh clients): tiny models trained by gptforge, exported, and
# loaded by the programs people use, whose results must equal gptforge's own.
#
#   gpt2             GPT2LMHeadModel / GGUF gpt2
#   llama-gqa        LlamaForCausalLM with 4 query heads over 2 key/value heads, untied head
#   llama-mqa-tied   one key/value head, tied embeddings
#
# For each: transformers (tests/clients/check_transformers.py: logits within 1e-4 in f32, the
# prompt's token ids, generate()'s greedy text, apply_chat_template), llama.cpp
# (tests/clients/check_llama_server.py: llama-server on the f32 GGUF, its /tokenize ids and its greedy
# /completion equal gptforge's), and `gptforge import` of the directory transformers' save_pretrained
# wrote: the same logits as the checkpoint it came from.
#
# Usage: bash run.sh PATH/TO/gptforge SOURCE_DIR   (needs python3-transformers and llama.cpp-tools)
set -euo pipefail
BIN="$1"
SRC="$2"
source "$SRC/tests/cli/lib.bash"  # WORK (the current directory), fail, expect_exit
export OMP_NUM_THREADS=2
PROMPT="The model"
NEW_TOKENS=24
# A conversation with a tool call (tokenizer/chat_template.h): the export's Jinja template must render
# the call, the tool's result and the continued turn exactly as gptforge does.
MESSAGES='[{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "What is 12 times 34?"},
  {"role": "assistant", "content": "", "tool_call": "12 * 34"}, {"role": "tool", "content": "408"},
  {"role": "assistant", "content": "408"}, {"role": "user", "content": "What does export write?"}]'
failures=0
check() {  # check NAME CONDITION-RESULT DETAIL
  if [[ $2 == 0 ]]; then echo "ok: $1"; else echo "FAIL: $1"; [[ -n ${3:-} ]] && echo "    $3"; failures=$((failures + 1)); fi
}

# English prose to learn from: the repository's own documentation.
mkdir corpus
cat "$SRC"/README.md "$SRC"/docs/*.md >corpus/docs.txt
"$BIN" tokenizer train data.inputs=corpus tokenizer.vocab_size=512 tokenizer.model_prefix=tok/t \
  run.log_level=quiet >/dev/null
"$BIN" prepare data.inputs=corpus data.tokenizer=tok/t.model data.out_dir=shards data.val_fraction=0.05 \
  run.progress=off run.log_level=quiet >/dev/null

train() {
  "$BIN" train train.data_dir=shards train.out_dir="$1" model.family="$2" model.n_layer=2 model.n_head=4 \
    model.d_model=64 model.block_size=64 train.batch_size=8 train.max_steps=200 train.warmup_steps=10 \
    train.learning_rate=0.003 train.eval_interval=0 train.checkpoint_interval=0 run.progress=off \
    run.log_level=quiet run.threads=2 "${@:3}" >/dev/null
}

for model in gpt2 llama-gqa llama-mqa-tied; do
  echo "== $model"
  case $model in
    gpt2) train $model gpt2 ;;
    llama-gqa) train $model llama model.n_kv_head=2 ;;
    llama-mqa-tied) train $model llama model.n_kv_head=1 model.tie_embeddings=true ;;
  esac
  "$BIN" export --checkpoint $model --format hf --out $model-hf --reference-logits $model-ref.json >/dev/null
  "$BIN" export --checkpoint $model --format gguf --out $model.gguf >/dev/null
  "$BIN" sample --checkpoint $model --prompt "$PROMPT" sample.temperature=0 sample.max_new_tokens=$NEW_TOKENS \
    run.log_level=quiet >$model-greedy.txt
  prompt_ids=$("$BIN" tokenizer encode --model $model/latest/tokenizer.model "$PROMPT")
  chat_ids=$("$BIN" tokenizer encode --model $model/latest/tokenizer.model --chat "$MESSAGES")

  # transformers
  set +e
  python3 "$SRC/tests/clients/check_transformers.py" $model-hf --reference $model-ref.json --prompt "$PROMPT" \
    --prompt-ids "$prompt_ids" --greedy-text $model-greedy.txt --max-new-tokens $NEW_TOKENS \
    --chat-messages "$MESSAGES" --chat-ids "$chat_ids" --save-pretrained $model-saved 2>$model-hf.err
  rc=$?
  set -e
  ((rc == 0)) || { grep -v Warning $model-hf.err | tail -n 5; failures=$((failures + 1)); }

  # gptforge import of what transformers' save_pretrained wrote: the same logits, bit for bit.
  if [[ -f $model-saved/config.json ]]; then
    # save_pretrained writes tokenizer.model only for a sentencepiece-backed tokenizer; the model's own
    # files are what is checked here.
    [[ -f $model-saved/tokenizer.model ]] || { echo "note: save_pretrained wrote no tokenizer.model; using the export's"; cp $model-hf/tokenizer.model $model-saved/; }
    if "$BIN" import --from $model-saved --out $model-imported >/dev/null 2>$model-import.err; then
      "$BIN" export --checkpoint $model-imported --format hf --out $model-hf2 --reference-logits $model-ref2.json >/dev/null
      same=0
      python3 - $model-ref.json $model-ref2.json <<'EOF' || same=1
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
sys.exit(0 if a["input_ids"] == b["input_ids"] and a["logits"] == b["logits"] else 1)
EOF
      check "import of save_pretrained's directory: identical logits" $same
    else
      check "import of save_pretrained's directory" 1 "$(cat $model-import.err)"
    fi
  fi

  # llama.cpp: llama-server on loopback, its default path (no <s> added: add_bos_token is false).
  set +e
  python3 "$SRC/tests/clients/check_llama_server.py" $model.gguf --prompt "$PROMPT" --prompt-ids "$prompt_ids" \
    --greedy-text $model-greedy.txt --max-new-tokens $NEW_TOKENS --log $model-llama-server.log
  rc=$?
  set -e
  ((rc == 0)) || { tail -n 5 $model-llama-server.log; failures=$((failures + 1)); }
done

if ((failures)); then
  echo "clients: $failures check(s) failed"
  exit 1
fi
echo "clients: every check passed"
