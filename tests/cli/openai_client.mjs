// The official OpenAI client (npm `openai`) against a running `gptforge serve`: completions, chat,
// streaming (completions and chat), several choices, and errors. Exits non-zero with a message on
// the first failed check.
// Usage: NODE_PATH=DIR/node_modules node openai_client.mjs URL MODEL SAMPLE_OUTPUT_FILE
// (SAMPLE_OUTPUT_FILE: what `gptforge sample --no-echo` printed for the same greedy request)
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import assert from "node:assert/strict";

const require = createRequire(import.meta.url);
const OpenAI = require(require.resolve("openai", { paths: (process.env.NODE_PATH || "").split(":") }));
const [url, model, sampleFile] = process.argv.slice(2);
const expectedGreedy = readFileSync(sampleFile, "utf8").replace(/\n$/, "");  // sample ends its output with a newline
const client = new OpenAI({ baseURL: url + "/v1", apiKey: "unused", maxRetries: 0, timeout: 60000 });

// Completions: the greedy text is what `gptforge sample` prints, usage is filled in.
const c = await client.completions.create({ model, prompt: "the quick", max_tokens: 20, temperature: 0 });
assert.equal(c.object, "text_completion");
assert.equal(c.choices[0].text, expectedGreedy);
assert.ok(c.usage.prompt_tokens > 0 && c.usage.completion_tokens > 0);
assert.equal(c.usage.total_tokens, c.usage.prompt_tokens + c.usage.completion_tokens);

// Streamed completions add up to the same text.
let streamed = "";
let finish = null;
for await (const chunk of await client.completions.create({ model, prompt: "the quick", max_tokens: 20,
                                                            temperature: 0, stream: true })) {
  for (const choice of chunk.choices) {
    streamed += choice.text;
    finish = choice.finish_reason || finish;
  }
}
assert.equal(streamed, expectedGreedy);
assert.equal(finish, c.choices[0].finish_reason);

// Chat, whole and streamed, with logprobs; n = 2 choices.
const messages = [{ role: "system", content: "be brief" }, { role: "user", content: "the fox" }];
const chat = await client.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0,
                                                   logprobs: true, top_logprobs: 2 });
assert.equal(chat.choices[0].message.role, "assistant");
assert.ok(chat.choices[0].logprobs.content.every((t) => t.top_logprobs.length === 2 && t.logprob <= 0));
let chatText = "";
const stream = await client.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0, stream: true });
for await (const chunk of stream) chatText += chunk.choices.length ? chunk.choices[0].delta.content || "" : "";
assert.equal(chatText, chat.choices[0].message.content);
const two = await client.chat.completions.create({ model, messages, max_tokens: 5, n: 2, seed: 3 });
assert.equal(two.choices.length, 2);

// Models.
const models = await client.models.list();
assert.equal(models.data[0].id, model);

// Errors reach the client as APIError with the status, the field and the message.
await assert.rejects(client.completions.create({ model, prompt: "the", temperature: "hot" }), (e) => {
  assert.ok(e instanceof OpenAI.APIError, String(e));
  assert.equal(e.status, 400);
  assert.equal(e.param, "temperature");
  assert.match(e.message, /temperature/);
  return true;
});
await assert.rejects(client.chat.completions.create({ model: "gpt-4", messages }), (e) => {
  assert.equal(e.status, 400);
  assert.equal(e.code, "model_not_found");
  return true;
});
console.log("openai client: ok");
