// Drives headless Chromium through the DevTools protocol with node's built-ins only (WebSocket needs
// node --experimental-websocket on node 20): opens the chat page of a running `gptforge serve`,
// waits for the message sent through the page's ?q= parameter to be answered, and prints what the
// page shows as JSON. Optionally saves a PNG screenshot of the page.
// Usage: node --experimental-websocket browser_chat.mjs URL [SCREENSHOT.png]
// Environment: CHROMIUM (default: chromium). Gives up after 90 s.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [url, screenshot] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), "gptforge-chromium-"));
const browser = spawn(process.env.CHROMIUM || "chromium", [
  "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
  "--remote-debugging-port=0", `--user-data-dir=${profile}`, "--window-size=900,640", "about:blank",
], { stdio: ["ignore", "ignore", "pipe"], detached: true });
const exited = new Promise((resolve) => browser.on("exit", resolve));
// The profile goes once the browser has exited. Chromium's helpers (renderer, zygote, crash handler)
// outlive a killed browser process and go on writing there (seen: rmdir of Default/ failing with
// ENOTEMPTY in CI), so the whole process group is killed, and the profile is removed with retries; a
// profile that still cannot go is left in the temp directory, not a failed test.
const cleanup = async () => {
  try {
    process.kill(-browser.pid, "SIGKILL");
  } catch {
    browser.kill("SIGKILL");  // the group is gone already
  }
  await exited;
  try {
    rmSync(profile, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
  } catch (e) {
    console.error(`browser test: left ${profile} behind (${e.code})`);
  }
};
const timer = setTimeout(async () => {
  console.error("browser test: timed out after 90 s");
  await cleanup();
  process.exit(1);
}, 90000);

// The browser prints its DevTools address on stderr.
const wsUrl = await new Promise((resolve, reject) => {
  let err = "";
  browser.stderr.on("data", (d) => {
    err += d;
    const m = err.match(/DevTools listening on (ws:\/\/\S+)/);
    if (m) resolve(m[1]);
  });
  browser.on("exit", (code) => reject(new Error(`chromium exited (${code}): ${err}`)));
});

const ws = new WebSocket(wsUrl);
await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
let nextId = 0;
const pending = new Map();
ws.onmessage = (m) => {
  const msg = JSON.parse(m.data);
  if (msg.id && pending.has(msg.id)) {
    const { resolve, reject } = pending.get(msg.id);
    pending.delete(msg.id);
    msg.error ? reject(new Error(JSON.stringify(msg.error))) : resolve(msg.result);
  }
};
const send = (method, params = {}, sessionId) => new Promise((resolve, reject) => {
  const id = ++nextId;
  pending.set(id, { resolve, reject });
  ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
});

const { targetId } = await send("Target.createTarget", { url });
const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
const evaluate = async (expression) =>
  (await send("Runtime.evaluate", { expression, returnByValue: true }, sessionId)).result.value;

// The page marks <body data-state="done"> when the reply has finished streaming.
let state = "";
for (let i = 0; i < 600 && state !== "done"; i++) {
  await new Promise((r) => setTimeout(r, 100));
  state = await evaluate("document.body && document.body.dataset.state");
}
const result = await evaluate(`(() => {
  const replies = [...document.querySelectorAll(".msg.assistant")];
  const last = replies[replies.length - 1];
  return {
    state: document.body.dataset.state,
    user: [...document.querySelectorAll(".msg.user")].map((m) => m.textContent),
    reply: last ? last.querySelector(".text").textContent : null,
    finish: last ? last.dataset.finish : null,
    tokens: last ? [...last.querySelectorAll(".tok")].map((t) => ({ text: t.textContent, alts: JSON.parse(t.dataset.alts) })) : [],
    errors: [...document.querySelectorAll(".msg.error")].map((m) => m.textContent),
    model: document.getElementById("model").textContent,
  };
})()`);
if (screenshot) {
  // Open the first token's alternatives, so that the picture shows "why this token".
  await evaluate(`(() => { const t = document.querySelector(".tok"); if (t) t.click(); })()`);
  const shot = await send("Page.captureScreenshot", { format: "png" }, sessionId);
  writeFileSync(screenshot, Buffer.from(shot.data, "base64"));
}
console.log(JSON.stringify(result));
clearTimeout(timer);
ws.close();
await cleanup();
