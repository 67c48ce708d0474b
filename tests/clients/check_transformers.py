#!/usr/bin/env python3
"""transformers' half of the real-clients lane (tests/clients/run.sh): a gptforge Hugging Face export
loaded the way users load a model, checked against what gptforge itself computed.

    check_transformers.py EXPORT_DIR --reference ref.json --prompt TEXT --prompt-ids "IDS"
        --greedy-text FILE --max-new-tokens N --chat-messages JSON --chat-ids "IDS" --save-pretrained DIR

Checks, one line each (`ok:` or `FAIL:`), exit 1 when any fails:
- logits: AutoModelForCausalLM.from_pretrained (f32) on the reference ids, max |diff| <= 1e-4;
- tokens: AutoTokenizer's ids for the prompt (its default call, special tokens as configured) equal
  gptforge's;
- greedy: model.generate(do_sample=False) on the tokenized prompt, decoded, equals `gptforge sample`'s
  greedy text;
- chat: apply_chat_template(messages, add_generation_prompt=True) equals gptforge's chat rendering;
- save_pretrained: the model and tokenizer written back with transformers' own save_pretrained into
  DIR (which run.sh then imports with `gptforge import`).
"""
import argparse
import json
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

failures = 0


def check(ok: bool, what: str, detail: str = "") -> None:
    global failures
    print(f"{'ok' if ok else 'FAIL'}: {what}" + (f"\n    {detail}" if detail and not ok else ""))
    failures += 0 if ok else 1


def ids_of(x):
    # apply_chat_template returns a list of ids, or a BatchEncoding/dict in newer transformers.
    if isinstance(x, dict) or hasattr(x, "keys"):
        x = x["input_ids"]
    if hasattr(x, "tolist"):
        x = x.tolist()
    if x and isinstance(x[0], list):
        x = x[0]
    return list(x)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("export_dir")
    ap.add_argument("--reference", required=True)
    ap.add_argument("--prompt", required=True)
    ap.add_argument("--prompt-ids", required=True)
    ap.add_argument("--greedy-text", required=True)
    ap.add_argument("--max-new-tokens", type=int, required=True)
    ap.add_argument("--chat-messages", required=True)
    ap.add_argument("--chat-ids", required=True)
    ap.add_argument("--save-pretrained", required=True)
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()

    tok = AutoTokenizer.from_pretrained(a.export_dir)
    model = AutoModelForCausalLM.from_pretrained(a.export_dir, dtype=torch.float32)
    model.eval()
    print(f"transformers: {type(model).__name__}, {type(tok).__name__}")

    with open(a.reference, encoding="utf-8") as f:
        ref = json.load(f)
    ids = torch.tensor([ref["input_ids"]], dtype=torch.long)
    with torch.no_grad():
        logits = model(ids).logits[0].float()
    want = torch.tensor(ref["logits"], dtype=torch.float32)
    if logits.shape != want.shape:
        check(False, "logits shape", f"transformers {tuple(logits.shape)}, gptforge {tuple(want.shape)}")
    else:
        diff = (logits - want).abs().max().item()
        check(diff <= a.tol, f"logits: max |diff| {diff:.2e} over {ids.shape[1]} positions (tolerance {a.tol:g})")

    gf_ids = [int(t) for t in a.prompt_ids.split()]
    hf_ids = ids_of(tok(a.prompt))
    check(hf_ids == gf_ids, f"tokens: the prompt's {len(gf_ids)} ids", f"gptforge {gf_ids}\n    transformers {hf_ids}")

    enc = tok(a.prompt, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=a.max_new_tokens, do_sample=False,
                             pad_token_id=tok.pad_token_id)
    hf_text = tok.decode(out[0], skip_special_tokens=True)
    with open(a.greedy_text, encoding="utf-8") as f:
        gf_text = f.read()
    gf_text = gf_text[:-1] if gf_text.endswith("\n") else gf_text  # sample ends its output with one newline
    check(hf_text == gf_text, f"greedy: generate() text equals gptforge sample ({out.shape[1] - enc['input_ids'].shape[1]} new tokens)",
          f"gptforge     {gf_text!r}\n    transformers {hf_text!r}")

    messages = json.loads(a.chat_messages)
    hf_chat = ids_of(tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True))
    gf_chat = [int(t) for t in a.chat_ids.split()]
    check(hf_chat == gf_chat, f"chat: apply_chat_template ids ({len(gf_chat)}) equal gptforge's rendering",
          f"gptforge     {gf_chat}\n    transformers {hf_chat}")

    model.save_pretrained(a.save_pretrained)
    tok.save_pretrained(a.save_pretrained)
    print(f"saved with save_pretrained to {a.save_pretrained}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
