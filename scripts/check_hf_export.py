#!/usr/bin/env python3
"""Check a gptforge Hugging Face export with the real `transformers`.

    gptforge export --checkpoint RUN --format hf --out EXPORT --reference-logits ref.json
    python3 scripts/check_hf_export.py EXPORT ref.json [--tol 1e-4]

Loads EXPORT with AutoModelForCausalLM.from_pretrained (fp32), runs the input ids gptforge wrote to
ref.json, prints the largest absolute difference from gptforge's logits and the greedy
continuations of both, and exits 1 when the difference exceeds --tol (1e-4: an f32 export must
match to float rounding; use about 5e-2 for f16 and 3e-1 for bf16 exports). With --tokenizer it
also loads the tokenizer and renders the chat template. Needs torch and transformers (pip install
transformers sentencepiece protobuf).
"""
import argparse
import json
import sys


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("export_dir", help="directory written by `gptforge export --format hf`")
    ap.add_argument("reference", help="JSON written by `gptforge export --reference-logits`")
    ap.add_argument("--tol", type=float, default=1e-4, help="largest acceptable max |logit difference|")
    ap.add_argument("--tokenizer", action="store_true", help="also load the tokenizer and render the chat template")
    args = ap.parse_args()

    try:
        import torch
        from transformers import AutoModelForCausalLM
    except ImportError as e:
        print(f"check_hf_export: {e}: install torch and transformers", file=sys.stderr)
        return 2

    with open(args.reference, encoding="utf-8") as f:
        ref = json.load(f)
    if ref.get("format") != "gptforge-reference-logits":
        print(f"check_hf_export: {args.reference} is not a gptforge reference-logits file", file=sys.stderr)
        return 2

    model = AutoModelForCausalLM.from_pretrained(args.export_dir, torch_dtype=torch.float32)
    model.eval()
    ids = torch.tensor([ref["input_ids"]], dtype=torch.long)
    with torch.no_grad():
        logits = model(ids).logits[0].float()
    want = torch.tensor(ref["logits"], dtype=torch.float32)
    if logits.shape != want.shape:
        print(f"shape mismatch: transformers {tuple(logits.shape)}, gptforge {tuple(want.shape)}")
        return 1
    diff = (logits - want).abs().max().item()
    print(f"{type(model).__name__}: {ids.shape[1]} tokens x {want.shape[1]} logits, "
          f"max abs diff {diff:.3e} (tolerance {args.tol:g})")

    greedy = ref.get("greedy_ids", [])
    if greedy:
        # Plain argmax steps over the full sequence: no generation config, no cache, nothing but the model.
        seq = ids
        with torch.no_grad():
            for _ in greedy:
                nxt = model(seq).logits[0, -1].argmax().view(1, 1)
                seq = torch.cat([seq, nxt], dim=1)
        hf_greedy = seq[0, ids.shape[1]:].tolist()
        same = hf_greedy == greedy
        print(f"greedy continuation: {'identical' if same else 'DIFFERENT'} ({len(greedy)} tokens)")
        if not same:
            print(f"  gptforge:     {greedy}\n  transformers: {hf_greedy}")

    if args.tokenizer:
        from transformers import AutoTokenizer
        try:
            tok = AutoTokenizer.from_pretrained(args.export_dir)
        except ImportError:  # no `tokenizers` package: the sentencepiece (slow) tokenizer
            tok = AutoTokenizer.from_pretrained(args.export_dir, use_fast=False)
        print(f"tokenizer {type(tok).__name__}: {len(tok)} tokens")
        if "text" in ref:
            hf_ids = tok(ref["text"])["input_ids"][: len(ref["input_ids"])]
            same_ids = hf_ids == ref["input_ids"]
            print(f"tokenization of the reference text: {'identical' if same_ids else 'DIFFERENT'}")
            if not same_ids:
                print(f"  gptforge:     {ref['input_ids']}\n  transformers: {hf_ids}")
        if getattr(tok, "chat_template", None):
            ids_chat = tok.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True)
            print(f"chat template: {tok.convert_ids_to_tokens(ids_chat)}")

    return 0 if diff <= args.tol else 1


if __name__ == "__main__":
    sys.exit(main())
