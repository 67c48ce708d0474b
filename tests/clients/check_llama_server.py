#!/usr/bin/env python3
"""llama.cpp's half of the real-clients lane (tests/clients/run.sh): a gptforge GGUF served by
llama-server on loopback, asked the way its users ask it, checked against gptforge's own results.

    check_llama_server.py MODEL.gguf --prompt TEXT --prompt-ids "IDS" --greedy-text FILE --max-new-tokens N

Checks, one line each (`ok:` or `FAIL:`), exit 1 when any fails:
- tokens: /tokenize with the special tokens the model's metadata asks for (add_bos_token is false)
  gives gptforge's ids for the prompt;
- greedy: /completion with temperature 0 and llama.cpp's defaults otherwise continues the prompt with
  `gptforge sample`'s greedy text.

The server runs with its KV cache in f32 (-ctk/-ctv f32): its default f16 cache rounds keys and values,
and on models this small that can turn a near tie the other way. (llama-completion would be the
plain command line, but the Debian build loses the end of its output when stdout is a pipe.)
"""
import argparse
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

failures = 0


def check(ok: bool, what: str, detail: str = "") -> None:
    global failures
    print(f"{'ok' if ok else 'FAIL'}: {what}" + (f"\n    {detail}" if detail and not ok else ""))
    failures += 0 if ok else 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: dict, timeout: float = 60) -> dict:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("gguf")
    ap.add_argument("--prompt", required=True)
    ap.add_argument("--prompt-ids", required=True)
    ap.add_argument("--greedy-text", required=True)
    ap.add_argument("--max-new-tokens", type=int, required=True)
    ap.add_argument("--log", default="llama-server.log")
    a = ap.parse_args()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(a.log, "w") as log:
        server = subprocess.Popen(["llama-server", "-m", a.gguf, "--host", "127.0.0.1", "--port", str(port),
                                   "-ctk", "f32", "-ctv", "f32", "-t", "2", "-np", "1"],
                                  stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                print(f"FAIL: llama-server did not come up (see {a.log})")
                return 1
            time.sleep(0.2)

        gf_ids = [int(t) for t in a.prompt_ids.split()]
        lc_ids = post(base + "/tokenize", {"content": a.prompt, "add_special": True})["tokens"]
        check(lc_ids == gf_ids, f"llama.cpp: the prompt's {len(gf_ids)} ids", f"gptforge {gf_ids}\n    llama.cpp {lc_ids}")

        reply = post(base + "/completion", {"prompt": a.prompt, "n_predict": a.max_new_tokens, "temperature": 0})
        lc_text = a.prompt + reply["content"]
        with open(a.greedy_text, encoding="utf-8") as f:
            gf_text = f.read()
        gf_text = gf_text[:-1] if gf_text.endswith("\n") else gf_text  # sample ends its output with one newline
        check(lc_text == gf_text, f"llama.cpp: greedy /completion equals gptforge sample ({reply.get('tokens_predicted')} tokens)",
              f"gptforge  {gf_text!r}\n    llama.cpp {lc_text!r}")
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
