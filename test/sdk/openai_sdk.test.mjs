// The official `openai` npm SDK (pinned in package.json) against tokenrelay's
// OpenAI-compatible door, POST /v1/chat/completions (PROTOCOL.md section 1).
//
// Starts MOCK_UPSTREAM_BIN and TOKENRELAY_BIN (default build/…) on port 0 with a client
// token, points the SDK at the relay, and checks what the SDK hands its caller. A second
// relay with `--upstream-format anthropic` talks to the mock's Anthropic mode. Run with
// `scripts/sdk-test`. Synchronisation is by the mock's /_mock/wait, never by sleeping.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TOKENRELAY_BIN = process.env.TOKENRELAY_BIN || path.join(ROOT, 'build/tokenrelay');
const MOCK_UPSTREAM_BIN = process.env.MOCK_UPSTREAM_BIN || path.join(ROOT, 'build/mock_upstream');
const STATIC_DIR = process.env.TOKENRELAY_STATIC_DIR || path.join(ROOT, 'static');
const CLIENT_TOKEN = 'sdk-client-token-0123456789';
const UPSTREAM_KEY = 'sk-sdk-test-upstream-key-9876543210';
const MODEL = 'deepseek-v3.2';

/** The mock's reply with n tokens, one delta each: ["w0 ", "w1 ", …]. */
const words = (n) => Array.from({ length: n }, (_, i) => `w${i} `);

/** Spawns a binary and resolves once its stdout prints `listening on …:PORT`. */
function startProcess(bin, args, env = process.env) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    let done = false;
    const fail = (why) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${path.basename(bin)}: ${why}\nstderr: ${stderr.slice(-2000)}`));
    };
    const timer = setTimeout(() => fail('no listening line within 10 s'), 10000);
    child.stderr.on('data', (d) => {
      stderr = (stderr + d).slice(-20000);
    });
    child.stdout.on('data', (d) => {
      stdout = (stdout + d).slice(-20000);
      const m = /listening on .*:(\d+)/.exec(stdout);
      if (m && !done) {
        done = true;
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), stderr: () => stderr });
      }
    });
    child.on('error', (e) => fail(e.message));
    child.on('exit', (code, signal) => fail(`exited (${code ?? signal}) before listening`));
  });
}

async function stopProcess(proc) {
  if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.child.once('exit', resolve));
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

let mock;
let relay;
let client;
let anthropicRelay;
let anthropicClient;

async function mockGet(target) {
  const r = await fetch(`http://127.0.0.1:${mock.port}${target}`);
  return { status: r.status, body: await r.json() };
}

before(async () => {
  mock = await startProcess(MOCK_UPSTREAM_BIN, ['--listen', '127.0.0.1:0']);
  // The child's environment must not carry the test runner's TOKENRELAY_* settings.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('TOKENRELAY_')),
  );
  relay = await startProcess(
    TOKENRELAY_BIN,
    [
      '--listen', '127.0.0.1:0', '--static', STATIC_DIR,
      '--upstream', `http://127.0.0.1:${mock.port}/v1`, '--client-token', CLIENT_TOKEN,
    ],
    { ...env, TOKENRELAY_API_KEY: UPSTREAM_KEY },
  );
  client = new OpenAI({
    apiKey: CLIENT_TOKEN,
    baseURL: `http://127.0.0.1:${relay.port}/v1`,
    maxRetries: 0,
    timeout: 20000,
  });
  anthropicRelay = await startProcess(
    TOKENRELAY_BIN,
    [
      '--listen', '127.0.0.1:0', '--static', STATIC_DIR,
      '--upstream', `http://127.0.0.1:${mock.port}/v1`, '--client-token', CLIENT_TOKEN,
      '--upstream-format', 'anthropic',
    ],
    { ...env, TOKENRELAY_API_KEY: UPSTREAM_KEY },
  );
  anthropicClient = new OpenAI({
    apiKey: CLIENT_TOKEN,
    baseURL: `http://127.0.0.1:${anthropicRelay.port}/v1`,
    maxRetries: 0,
    timeout: 20000,
  });
});

after(async () => {
  await stopProcess(anthropicRelay);
  await stopProcess(relay);
  await stopProcess(mock);
  for (const r of [relay, anthropicRelay]) {
    if (r) assert.ok(!r.stderr().includes(UPSTREAM_KEY), 'the upstream key is in the log');
  }
});

test('a stream gives the exact deltas, finish reason and usage', async () => {
  const stream = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: 'hello mock:tokens=5' }],
    stream: true,
    stream_options: { include_usage: true },
  });
  const deltas = [];
  let finish = null;
  let usage = null;
  let id = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    assert.equal(chunk.model, MODEL);
    id ??= chunk.id;
    assert.equal(chunk.id, id);
    const choice = chunk.choices[0];
    if (choice?.delta?.content) deltas.push(choice.delta.content);
    if (choice?.finish_reason) finish = choice.finish_reason;
    if (chunk.usage) usage = chunk.usage;
  }
  assert.deepEqual(deltas, words(5));
  assert.equal(deltas.join(''), 'w0 w1 w2 w3 w4 ');
  assert.equal(finish, 'stop');
  assert.equal(usage.completion_tokens, 5);
  assert.equal(usage.total_tokens, usage.prompt_tokens + 5);
  // The upstream's own chunks, passed on as they came.
  assert.match(id, /^mock-/);
  // The relay swapped the client token for its upstream key.
  const stats = await mockGet('/_mock/stats');
  assert.equal(stats.body.last_authorization, `Bearer ${UPSTREAM_KEY}`);
});

test('the stream helper assembles the final message', async () => {
  const runner = client.chat.completions.stream({
    model: MODEL,
    messages: [{ role: 'user', content: 'helper mock:tokens=3' }],
  });
  const pieces = [];
  runner.on('content', (delta) => pieces.push(delta));
  const done = await runner.finalChatCompletion();
  assert.deepEqual(pieces, words(3));
  assert.equal(done.choices[0].message.content, 'w0 w1 w2 ');
  assert.equal(done.choices[0].finish_reason, 'stop');
});

test('a whole completion has the full text and usage', async () => {
  const r = await client.chat.completions.create({
    model: MODEL,
    messages: [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'whole' },
    ],
    temperature: 0.5,
    max_tokens: 64,
  });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(r.choices[0].message.content, words(8).join(''));
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.usage.completion_tokens, 8);
  const sent = (await mockGet('/_mock/stats')).body.last_body;
  assert.equal(sent.temperature, 0.5);
  assert.equal(sent.max_tokens, 64);
  assert.deepEqual(sent.messages, [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: 'whole' },
  ]);
});

/** POSTs `body` (a string, sent as is) to the relay's completions endpoint. */
function postRaw(body) {
  return fetch(`http://127.0.0.1:${relay.port}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CLIENT_TOKEN}`, 'content-type': 'application/json' },
    body,
  });
}

/** The exact bytes of the last request body the mock received. */
async function lastBodyRaw() {
  return (await fetch(`http://127.0.0.1:${mock.port}/_mock/last_body`)).text();
}

const WEATHER_TOOLS = [{
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
    },
  },
}];

test('a tool-calling round trip: the call streamed in deltas, then the answer', async () => {
  const question = { role: 'user', content: 'weather in Paris? mock:tool_call' };
  const stream = await client.chat.completions.create({
    model: MODEL,
    messages: [question],
    tools: WEATHER_TOOLS,
    tool_choice: 'auto',
    parallel_tool_calls: false,
    stream: true,
  });
  const calls = [];
  let argumentDeltas = 0;
  let finish = null;
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    for (const tc of choice?.delta?.tool_calls ?? []) {
      calls[tc.index] ??= { id: '', name: '', arguments: '' };
      if (tc.id) calls[tc.index].id = tc.id;
      if (tc.function?.name) calls[tc.index].name += tc.function.name;
      if (tc.function?.arguments) {
        calls[tc.index].arguments += tc.function.arguments;
        argumentDeltas += 1;
      }
    }
    if (choice?.finish_reason) finish = choice.finish_reason;
  }
  assert.equal(finish, 'tool_calls');
  assert.equal(calls.length, 1);
  assert.equal(calls[0].name, 'get_weather');
  assert.deepEqual(JSON.parse(calls[0].arguments), { city: 'Paris' });
  assert.ok(argumentDeltas >= 3, `${argumentDeltas} argument deltas`);
  let sent = (await mockGet('/_mock/stats')).body.last_body;
  assert.deepEqual(sent.tools, WEATHER_TOOLS);
  assert.equal(sent.tool_choice, 'auto');
  assert.equal(sent.parallel_tool_calls, false);

  const assistant = {
    role: 'assistant',
    content: null,
    tool_calls: [{
      id: calls[0].id,
      type: 'function',
      function: { name: calls[0].name, arguments: calls[0].arguments },
    }],
  };
  const result = { role: 'tool', tool_call_id: calls[0].id, content: 'sunny, 21 C' };
  const r = await client.chat.completions.create({
    model: MODEL,
    tools: WEATHER_TOOLS,
    messages: [question, assistant, result],
  });
  assert.equal(r.choices[0].message.content, 'tool result: sunny, 21 C');
  sent = (await mockGet('/_mock/stats')).body.last_body;
  assert.deepEqual(sent.messages, [question, assistant, result]);
});

test('a tool-calling round trip through the Anthropic translation', async () => {
  const question = { role: 'user', content: 'weather in Paris? mock:tool_call' };
  const stream = await anthropicClient.chat.completions.create({
    model: MODEL,
    messages: [question],
    tools: WEATHER_TOOLS,
    stream: true,
  });
  const calls = [];
  let finish = null;
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    for (const tc of choice?.delta?.tool_calls ?? []) {
      calls[tc.index] ??= { id: '', name: '', arguments: '' };
      if (tc.id) calls[tc.index].id = tc.id;
      if (tc.function?.name) calls[tc.index].name += tc.function.name;
      if (tc.function?.arguments) calls[tc.index].arguments += tc.function.arguments;
    }
    if (choice?.finish_reason) finish = choice.finish_reason;
  }
  assert.equal(finish, 'tool_calls');
  assert.equal(calls.length, 1);
  assert.equal(calls[0].name, 'get_weather');
  assert.deepEqual(JSON.parse(calls[0].arguments), { city: 'Paris' });
  // The tool_use block's id is the call's id.
  assert.match(calls[0].id, /^toolu_mock_\d+$/);
  let sent = (await mockGet('/_mock/stats')).body.last_body;
  assert.equal(sent.stream, true);
  assert.deepEqual(sent.tools, [{
    name: 'get_weather',
    description: 'The weather in a city',
    input_schema: WEATHER_TOOLS[0].function.parameters,
  }]);

  const assistant = {
    role: 'assistant',
    content: null,
    tool_calls: [{
      id: calls[0].id,
      type: 'function',
      function: { name: calls[0].name, arguments: calls[0].arguments },
    }],
  };
  const result = { role: 'tool', tool_call_id: calls[0].id, content: 'sunny, 21 C' };
  const r = await anthropicClient.chat.completions.create({
    model: MODEL,
    tools: WEATHER_TOOLS,
    messages: [question, assistant, result],
  });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices[0].message.content, 'tool result: sunny, 21 C');
  assert.equal(r.choices[0].finish_reason, 'stop');
  sent = (await mockGet('/_mock/stats')).body.last_body;
  assert.notEqual(sent.stream, true);
  const last = sent.messages.at(-1);
  assert.equal(last.role, 'user');
  const toolResult = last.content.find((b) => b.type === 'tool_result');
  assert.ok(toolResult, JSON.stringify(last));
  assert.equal(toolResult.tool_use_id, calls[0].id);
  assert.deepEqual(sent.messages[1].content, [
    { type: 'tool_use', id: calls[0].id, name: 'get_weather', input: { city: 'Paris' } },
  ]);

  // Anthropic has no response_format: refused, never dropped.
  await assert.rejects(
    anthropicClient.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'json please' }],
      response_format: { type: 'json_object' },
    }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === 'response_format',
  );
});

test('a whole tool call comes back as the upstream sent it', async () => {
  const r = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: 'mock:tool_call' }],
    tools: WEATHER_TOOLS,
  });
  assert.equal(r.choices[0].finish_reason, 'tool_calls');
  assert.equal(r.choices[0].message.tool_calls[0].function.name, 'get_weather');
  assert.deepEqual(JSON.parse(r.choices[0].message.tool_calls[0].function.arguments), {
    city: 'Paris',
  });
});

test('response_format and fields the relay does not know reach the upstream byte for byte', async () => {
  // Numbers in their own spelling (1.0, 1e3, 2.50) and a key order of the client's
  // own: a re-serialised body would differ.
  const body = `{"model":"${MODEL}","messages":[{"role":"user","content":"json please"}],` +
    '"response_format":{"type":"json_schema","json_schema":{"name":"answer","strict":true,' +
    '"schema":{"type":"object","properties":{"n":{"type":"number","minimum":1.0,"maximum":1e3}},' +
    '"required":["n"],"additionalProperties":false}}},' +
    '"seed":7,"top_p":0.9,"stop":["\\n\\n"],"reasoning_effort":"low","n":2,' +
    '"x_vendor_extension":{"nested":[1,2.50,null,"\\u00e9"]}}';
  const r = await postRaw(body);
  assert.equal(r.status, 200, await r.clone().text());
  assert.equal(await lastBodyRaw(), body);
  const answer = await r.json();
  assert.equal(answer.object, 'chat.completion');
  assert.match(answer.id, /^mock-/);
});

test('audio and file parts are forwarded, not refused', async () => {
  const messages = [{
    role: 'user',
    content: [
      { type: 'text', text: 'what is in these?' },
      { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
      { type: 'file', file: { filename: 'a.pdf', file_data: 'data:application/pdf;base64,JVBERg==' } },
    ],
  }];
  const r = await client.chat.completions.create({ model: MODEL, messages });
  assert.equal(r.choices[0].message.content, words(8).join(''));
  assert.deepEqual((await mockGet('/_mock/stats')).body.last_body.messages, messages);
});

test('a usage chunk reaches the client only when it asked for one', async () => {
  for (const asked of [false, true]) {
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'usage mock:tokens=2' }],
      stream: true,
      ...(asked ? { stream_options: { include_usage: true } } : {}),
    });
    const usages = [];
    for await (const chunk of stream) if (chunk.usage) usages.push(chunk.usage);
    assert.equal(usages.length, asked ? 1 : 0, `asked: ${asked}`);
    // The relay always asks: it accounts every reply.
    const sent = (await mockGet('/_mock/stats')).body.last_body;
    assert.equal(sent.stream_options.include_usage, true);
  }
});

test('logprobs arrive with each token', async () => {
  const stream = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: 'mock:tokens=3' }],
    logprobs: true,
    top_logprobs: 2,
    stream: true,
  });
  const tokens = [];
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    if (!choice?.delta?.content) continue;
    assert.equal(choice.logprobs.content[0].token, choice.delta.content);
    assert.equal(typeof choice.logprobs.content[0].logprob, 'number');
    tokens.push(choice.delta.content);
  }
  assert.deepEqual(tokens, words(3));
  assert.equal((await mockGet('/_mock/stats')).body.last_body.top_logprobs, 2);
});

test('an upstream error keeps its status and body', async () => {
  await assert.rejects(
    client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'mock:status=418' }],
    }),
    (e) => e instanceof OpenAI.APIError && e.status === 418 && e.message.includes('mock failure 418') &&
      e.type === 'mock_error',
  );
});

test('a 2 MiB image goes through with the default limits, one over 8 MiB is refused', async () => {
  const image = (bytes) => `data:image/png;base64,${'A'.repeat(bytes)}`;
  const messages = (bytes) => [{
    role: 'user',
    content: [
      { type: 'text', text: 'describe' },
      { type: 'image_url', image_url: { url: image(bytes), detail: 'low' } },
    ],
  }];
  const r = await client.chat.completions.create({ model: MODEL, messages: messages(2 << 20) });
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(
    (await mockGet('/_mock/stats')).body.last_body.messages[0].content[1].image_url.url,
    image(2 << 20),
  );
  await assert.rejects(
    client.chat.completions.create({ model: MODEL, messages: messages((8 << 20) + 1024) }),
    (e) => e instanceof OpenAI.APIError && e.status === 413,
  );
});

test('models.list names the model a request may use', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids, [MODEL]);
});

test('refusals arrive as the SDK\'s typed errors', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'not-allowed', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.code === 'bad_request' &&
      e.param === 'model',
  );
  const stranger = new OpenAI({
    apiKey: 'wrong-token',
    baseURL: `http://127.0.0.1:${relay.port}/v1`,
    maxRetries: 0,
  });
  await assert.rejects(
    stranger.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.AuthenticationError && e.status === 401 && e.code === 'unauthorized',
  );
});

test('an upstream error mid-stream makes the iteration throw', async () => {
  const stream = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: 'mock:error_event' }],
    stream: true,
  });
  const deltas = [];
  await assert.rejects(
    (async () => {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta?.content) deltas.push(chunk.choices[0].delta.content);
      }
    })(),
    (e) => e instanceof OpenAI.APIError && /mock stream error/.test(e.message),
  );
  assert.deepEqual(deltas, words(1));
});

test('leaving a stream early closes the upstream request', async () => {
  await fetch(`http://127.0.0.1:${mock.port}/_mock/reset`, { method: 'POST' });
  const stream = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: 'long mock:tokens=1000 mock:interval=50' }],
    stream: true,
  });
  const deltas = [];
  for await (const chunk of stream) {
    if (chunk.choices[0]?.delta?.content) deltas.push(chunk.choices[0].delta.content);
    if (deltas.length === 2) break; // the SDK aborts its request
  }
  assert.deepEqual(deltas, words(2));
  const waited = await mockGet('/_mock/wait?field=aborted&atleast=1&timeout_ms=5000');
  assert.equal(waited.status, 200, JSON.stringify(waited.body));
  assert.equal(waited.body.completed, 0);
});
