// Load test of a running `gptforge serve` on loopback (node built-ins only): C streaming clients,
// each sending one request after the other for S seconds, then one client alone for S1 seconds.
// Requests started before the end all run to their end (no request is cut off), so the run takes a
// little longer than S + S1. Reports requests/s, tokens/s, p50/p95 time to first token and
// per-token latency (the gaps between a stream's token chunks), failed and incomplete streams, and
// the aggregate tokens/s of the C clients against the one client's.
// Usage: node bench/serve_load.mjs URL [--clients 32] [--seconds 60] [--single-seconds 30]
//                                      [--max-tokens 64] [--json FILE]
import http from "node:http";
import { writeFileSync } from "node:fs";

const args = process.argv.slice(2);
const url = new URL(args[0] || "http://127.0.0.1:8080");
const opt = (name, fallback) => {
  const i = args.indexOf("--" + name);
  return i >= 0 ? args[i + 1] : fallback;
};
const clients = Number(opt("clients", 32));
const seconds = Number(opt("seconds", 60));
const singleSeconds = Number(opt("single-seconds", 30));
const maxTokens = Number(opt("max-tokens", 64));
const jsonOut = opt("json", "");
const prompts = ["The jury said", "In the morning the", "It was a", "He looked at the", "The city of",
                 "She had never", "After the war", "The president"];
const agent = new http.Agent({ keepAlive: true, maxSockets: clients + 4 });

// One streamed completion: resolves to {ok, complete, tokens, ttft, gaps[], seconds, error}.
function streamOne(i) {
  const body = JSON.stringify({ prompt: prompts[i % prompts.length], max_tokens: maxTokens, temperature: 0.8,
                                seed: i, ignore_eos: true, stream: true });
  return new Promise((resolve) => {
    const t0 = performance.now();
    let last = 0, ttft = null, chunks = 0, usage = null, finished = false, done = false, buffer = "";
    const gaps = [];
    const req = http.request({ hostname: url.hostname, port: url.port, path: "/v1/completions", method: "POST", agent,
                               headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) } },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          resolve({ ok: false, error: "status " + res.statusCode });
          return;
        }
        res.setEncoding("utf8");
        res.on("data", (d) => {
          buffer += d;
          let cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            const event = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            if (!event.startsWith("data: ")) continue;  // keepalive comments
            const data = event.slice(6);
            if (data === "[DONE]") { done = true; continue; }
            const chunk = JSON.parse(data);
            if (chunk.usage) usage = chunk.usage;
            for (const c of chunk.choices) {
              const now = performance.now();
              if (c.finish_reason) { finished = true; continue; }
              // Every other chunk is one sampled token.
              if (ttft === null) ttft = now - t0; else gaps.push(now - last);
              last = now;
              chunks++;
            }
          }
        });
        res.on("end", () => resolve({ ok: true, complete: done && finished && usage !== null,
                                      tokens: usage ? usage.completion_tokens : chunks, ttft, gaps,
                                      seconds: (performance.now() - t0) / 1000 }));
        res.on("error", (e) => resolve({ ok: false, error: String(e) }));
      });
    req.on("error", (e) => resolve({ ok: false, error: String(e) }));
    req.end(body);
  });
}

async function phase(n, duration) {
  const results = [];
  const start = performance.now();
  const end = start + duration * 1000;
  let counter = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (performance.now() < end) results.push(await streamOne(counter++));
  }));
  const wall = (performance.now() - start) / 1000;
  const good = results.filter((r) => r.ok);
  const tokens = good.reduce((s, r) => s + r.tokens, 0);
  const pct = (xs, p) => {
    if (!xs.length) return null;
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))];
  };
  const ttfts = good.map((r) => r.ttft).filter((x) => x !== null);
  const gaps = good.flatMap((r) => r.gaps);
  return { clients: n, seconds: wall, requests: results.length, failed: results.length - good.length,
           incomplete: good.filter((r) => !r.complete).length, errors: [...new Set(results.filter((r) => !r.ok).map((r) => r.error))],
           requests_per_s: results.length / wall, tokens, tokens_per_s: tokens / wall,
           ttft_ms_p50: pct(ttfts, 50), ttft_ms_p95: pct(ttfts, 95),
           token_ms_p50: pct(gaps, 50), token_ms_p95: pct(gaps, 95) };
}

const f = (x, d = 1) => (x === null ? "-" : x.toFixed(d));
const line = (r) => `${String(r.clients).padStart(7)} | ${f(r.seconds)} | ${r.requests} | ${r.failed} | ${r.incomplete} | ` +
  `${f(r.requests_per_s, 2)} | ${f(r.tokens_per_s)} | ${f(r.ttft_ms_p50)} / ${f(r.ttft_ms_p95)} | ${f(r.token_ms_p50)} / ${f(r.token_ms_p95)}`;

const health = await new Promise((resolve, reject) => {
  http.get(new URL("/health", url), (res) => { let b = ""; res.on("data", (d) => (b += d)); res.on("end", () => resolve(JSON.parse(b))); })
    .on("error", reject);
});
console.log(`server: ${health.model}, ${health.slots} slots, context ${health.context}; ${maxTokens} tokens per request (ignore_eos), temperature 0.8`);
const many = await phase(clients, seconds);
const one = await phase(1, singleSeconds);
console.log("clients | seconds | requests | failed | incomplete | requests/s | tokens/s | TTFT ms p50 / p95 | per-token ms p50 / p95");
console.log("--- | --- | --- | --- | --- | --- | --- | --- | ---");
console.log(line(many));
console.log(line(one));
const speedup = many.tokens_per_s / one.tokens_per_s;
console.log(`aggregate tokens/s, ${clients} clients against 1: ${speedup.toFixed(2)}x (the goal: at least 3x)`);
for (const r of [many, one]) if (r.errors.length) console.log(`errors (${r.clients} clients): ${r.errors.join("; ")}`);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ health, max_tokens: maxTokens, many, one, speedup }, null, 1) + "\n");
agent.destroy();
process.exit(many.failed || many.incomplete || one.failed || one.incomplete ? 1 : 0);
