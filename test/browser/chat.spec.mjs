// Real-browser tests of the chat page (static/), against the real relay and mock upstream.
//
// Starts build/mock_upstream and build/tokenrelay on port 0 (paths from MOCK_UPSTREAM_BIN
// and TOKENRELAY_BIN), drives Debian's /usr/bin/chromium through playwright-core, and never
// downloads a browser. Run with `scripts/browser-test` or `npm test` in this directory.
// Synchronisation is by condition (waitForFunction, the mock's /_mock/wait), never by sleeping.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TOKENRELAY_BIN = process.env.TOKENRELAY_BIN || path.join(ROOT, 'build/tokenrelay');
const MOCK_UPSTREAM_BIN = process.env.MOCK_UPSTREAM_BIN || path.join(ROOT, 'build/mock_upstream');
const STATIC_DIR = process.env.TOKENRELAY_STATIC_DIR || path.join(ROOT, 'static');
const ARTIFACTS = process.env.TEST_ARTIFACTS_DIR || path.join(ROOT, 'test-artifacts');
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const STEP_MS = 15000; // longest wait for any one condition
const TEST_MS = 40000;

/** The mock's reply to a default request with n tokens: "w0 w1 … w<n-1> ". */
const words = (n) => Array.from({ length: n }, (_, i) => `w${i} `).join('');

/** A PNG file of `width` × `height` pixels of one RGB colour, made here (no fixture files). */
function pngImage(width, height, [r, g, b]) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (buf) => {
    let c = 0xffffffff;
    for (const byte of buf) c = crcTable[(c ^ byte) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const tail = Buffer.alloc(4);
    tail.writeUInt32BE(crc32(body));
    return Buffer.concat([head, body, tail]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8 bits per channel, truecolour, no interlace
  const row = Buffer.from([0, ...Array.from({ length: width }, () => [r, g, b]).flat()]); // filter 0
  const pixels = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(pixels)), chunk('IEND', Buffer.alloc(0)),
  ]);
}

const dataUrlOf = (png) => `data:image/png;base64,${png.toString('base64')}`;

// ---- processes -------------------------------------------------------------------------

/** Spawns a binary and resolves once a stdout line matches `pattern` (its listening line). */
function startProcess(bin, args, pattern) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let done = false;
    const fail = (why) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${path.basename(bin)} ${args.join(' ')}: ${why}\nstdout: ${stdout.slice(-2000)}\nstderr: ${stderr.slice(-2000)}`));
    };
    const timer = setTimeout(() => fail('no listening line within 10 s'), 10000);
    // Keep draining both pipes for the process's whole life, so a chatty log never blocks it.
    child.stderr.on('data', (d) => {
      stderr = (stderr + d).slice(-20000);
    });
    child.stdout.on('data', (d) => {
      stdout = (stdout + d).slice(-20000);
      if (done) return;
      const m = pattern.exec(stdout);
      if (m) {
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

function startRelay(extraArgs = [], listen = '127.0.0.1:0') {
  return startProcess(TOKENRELAY_BIN, [
    '--listen', listen, '--static', STATIC_DIR,
    '--upstream', `http://127.0.0.1:${mock.port}/v1`, ...extraArgs,
  ], /listening on http:\/\/127\.0\.0\.1:(\d+)\//);
}

let mock;
let relay;
let browser;
let relayUrl;
let mockUrl;

before(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  mock = await startProcess(MOCK_UPSTREAM_BIN, ['--listen', '127.0.0.1:0'], /listening on 127\.0\.0\.1:(\d+)/);
  mockUrl = `http://127.0.0.1:${mock.port}`;
  relay = await startRelay();
  relayUrl = `http://127.0.0.1:${relay.port}/`;
  // launch() gives every run a fresh temporary user-data-dir of its own.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
});

after(async () => {
  await browser?.close();
  await stopProcess(relay);
  await stopProcess(mock);
});

// ---- helpers ---------------------------------------------------------------------------

async function mockReset() {
  const r = await fetch(`${mockUrl}/_mock/reset`, { method: 'POST' });
  assert.equal(r.status, 200);
}

async function mockStats() {
  return (await fetch(`${mockUrl}/_mock/stats`)).json();
}

/** Runs `body` with a page on the relay in a fresh browser context (own sessionStorage);
 *  fails the test on any uncaught exception in the page. */
async function withPage(body, { url = relayUrl, contextOptions = {} } = {}) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 760 }, ...contextOptions });
  const pageErrors = [];
  // Every page of the context, the tabs a test opens with openTab() included.
  context.on('page', (p) => {
    p.setDefaultTimeout(STEP_MS);
    p.on('pageerror', (e) => pageErrors.push(String(e)));
  });
  const page = await context.newPage();
  try {
    await page.goto(url);
    await waitConnected(page);
    await body(page, context);
    assert.deepEqual(pageErrors, [], 'uncaught exceptions in the page');
  } finally {
    await context.close();
  }
}

function waitConnected(page) {
  return page.waitForFunction(() => window.__chat && window.__chat.connected && window.__chat.ws?.readyState === 1);
}

const snapshot = (page) => page.evaluate(() => window.__chat.snapshot());

async function lastReply(page) {
  const s = await snapshot(page);
  return s.msgs.filter((m) => m.role === 'assistant').at(-1);
}

async function send(page, text) {
  await page.fill('#input', text);
  await page.press('#input', 'Enter');
}

/** Waits until the newest reply is no longer streaming; returns it. */
async function waitReplyDone(page) {
  await page.waitForFunction(() => {
    const r = window.__chat.msgs.filter((m) => m.role === 'assistant').at(-1);
    return r && r.status !== 'streaming';
  });
  return lastReply(page);
}

function waitReplyLength(page, atLeast) {
  return page.waitForFunction((n) => {
    const r = window.__chat.msgs.filter((m) => m.role === 'assistant').at(-1);
    return r && r.content.length >= n;
  }, atLeast);
}

const replyBodyText = (page) => page.locator('article.assistant .body').last().textContent();

/** Another tab of `context` (its own sessionStorage) at `url`, live on its session. */
async function openTab(context, url) {
  const tab = await context.newPage();
  await tab.goto(url);
  await waitConnected(tab);
  return tab;
}

/** The conversation a page shows, as [role, text] pairs: from its model (`model`) and from
 *  the DOM (`shown`, where a reply's rendered Markdown drops the trailing space). */
function conversation(page) {
  return page.evaluate(() => ({
    model: window.__chat.msgs.filter((m) => m.role !== 'notice').map((m) => [m.role, m.content]),
    shown: [...document.querySelectorAll('#messages article.user, #messages article.assistant')]
      .map((a) => [a.classList.contains('user') ? 'user' : 'assistant', a.querySelector('.body').textContent]),
  }));
}

/** Asserts that `page` shows exactly `turns` ([question, reply] pairs), each message once. */
async function assertConversation(page, turns, what) {
  const c = await conversation(page);
  assert.deepEqual(c.model, turns.flatMap(([q, r]) => [['user', q], ['assistant', r]]), `${what}: messages`);
  assert.deepEqual(c.shown, turns.flatMap(([q, r]) => [['user', q], ['assistant', r.trim()]]), `${what}: on screen`);
}

/** Waits until `page` holds at least `n` replies and none of them is streaming. */
function waitRepliesDone(page, n) {
  return page.waitForFunction((count) => {
    const replies = window.__chat.msgs.filter((m) => m.role === 'assistant');
    return replies.length >= count && replies.every((m) => m.status !== 'streaming');
  }, n);
}

/** Waits until the newest reply `page` shows is streaming and holds at least `n` characters. */
function waitStreaming(page, n) {
  return page.waitForFunction((atLeast) => {
    const r = window.__chat.msgs.filter((m) => m.role === 'assistant').at(-1);
    return r && r.status === 'streaming' && r.content.length >= atLeast;
  }, n);
}

const fragmentSession = (page) => new URL(page.url()).hash.replace(/^#session=/, '');

/** Waits until the composer shows `n` image previews, every one read and drawn. */
function waitAttachments(page, n) {
  return page.waitForFunction((count) => {
    const items = [...document.querySelectorAll('#attachments .attachment')];
    return items.length === count && items.every((li) => {
      const img = li.querySelector('img.attachment-thumb');
      return li.dataset.state === 'ready' && img.complete && img.naturalWidth > 0;
    });
  }, n);
}

/** The images of the user messages `page` shows, as [alt, src, drawn width] per message. */
function userImages(page) {
  return page.evaluate(() => [...document.querySelectorAll('#messages article.user')].map(
    (a) => [...a.querySelectorAll('img.user-image')].map((img) => [img.alt, img.getAttribute('src'), img.naturalWidth])));
}

/** Waits until every image of the user messages `page` shows has loaded. */
function waitUserImagesLoaded(page) {
  return page.waitForFunction(() => [...document.querySelectorAll('#messages article.user img.user-image')]
    .every((img) => img.complete && img.naturalWidth > 0));
}

// ---- tests -----------------------------------------------------------------------------

test('a message streams the exact text, with typing indicator, figures and RTT', { timeout: TEST_MS }, async () => {
  await mockReset();
  await withPage(async (page) => {
    const prompt = 'hello\nthere mock:tokens=5 mock:interval=250';
    // Shift+Enter makes a new line, Enter sends.
    await page.click('#input');
    await page.keyboard.type('hello');
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('there mock:tokens=5 mock:interval=250');
    assert.equal(await page.inputValue('#input'), prompt);
    await page.keyboard.press('Enter');

    // Before the first token (the mock waits 250 ms): indicator shown, input locked, Stop offered.
    await page.waitForFunction(() => {
      const a = document.querySelector('article.assistant');
      return a && !a.querySelector('.typing').hidden && a.querySelector('.body').textContent === '';
    });
    assert.equal(await page.isDisabled('#input'), true);
    assert.equal(await page.isVisible('#stop'), true);
    assert.equal(await page.isVisible('#send'), false);
    // From the first token on, the indicator is gone.
    await page.waitForFunction(() => {
      const a = document.querySelector('article.assistant');
      return a.querySelector('.body').textContent.startsWith('w0') && a.querySelector('.typing').hidden;
    });

    const reply = await waitReplyDone(page);
    assert.equal(reply.status, 'done');
    assert.equal(reply.reason, 'stop');
    assert.equal(reply.content, words(5));
    assert.equal(await replyBodyText(page), words(5).trim());
    assert.equal(await page.locator('article.user .body').textContent(), prompt);
    assert.equal((await mockStats()).last_body.messages.at(-1).content, prompt);

    assert.equal(await page.isEnabled('#input'), true);
    assert.equal(await page.isVisible('#send'), true);
    assert.equal(await page.isVisible('#stop'), false);

    // Figures: time to first token covers the mock's 250 ms wait; 5 tokens from usage; the
    // rate is 5 tokens over roughly the remaining 4 × 250 ms.
    const figures = await page.locator('article.assistant .figures').textContent();
    const ttft = Number(/first token (\d+) ms/.exec(figures)?.[1]);
    assert.ok(ttft >= 240 && ttft < 5000, `ttft in "${figures}"`);
    const rate = Number(/([\d.]+) tok\/s/.exec(figures)?.[1]);
    assert.ok(rate > 2 && rate < 20, `rate in "${figures}"`);
    assert.match(figures, /\b5 tokens\b/);

    // RTT from ping/pong.
    await page.waitForFunction(() => /^RTT (<1|\d+) ms$/.test(document.getElementById('rtt').textContent));

    // The screen-reader live region got the reply.
    assert.equal((await page.locator('#live').textContent()).trim(), words(5).trim());
  });
});

test('Stop sends cancel and the upstream request is closed', { timeout: TEST_MS }, async () => {
  await mockReset();
  await withPage(async (page) => {
    await send(page, 'mock:tokens=200 mock:interval=20');
    await waitReplyLength(page, 3);
    await page.click('#stop');
    const waited = await fetch(`${mockUrl}/_mock/wait?field=aborted&atleast=1&timeout_ms=5000`);
    assert.equal(waited.status, 200, 'the mock saw the upstream request closed');

    const reply = await waitReplyDone(page);
    assert.equal(reply.reason, 'cancelled');
    assert.ok(reply.content.length > 0 && reply.content.length < words(200).length);
    assert.ok(words(200).startsWith(reply.content), 'what arrived is a prefix of the reply');
    assert.equal(await page.locator('article.assistant .msg-note').textContent(), 'Stopped.');
    assert.equal(await page.isEnabled('#input'), true);
    assert.equal(await page.isVisible('#stop'), false);
  });
});

test('model output with HTML renders as text (no XSS)', { timeout: TEST_MS }, async () => {
  await mockReset();
  await withPage(async (page) => {
    const prompt = '<img src=x onerror=window.__xss=1> <script>window.__xss=2</script> mock:echo';
    await send(page, prompt);
    const reply = await waitReplyDone(page);
    // mock:echo answers with the JSON of the messages array it received.
    assert.equal(reply.content, JSON.stringify([{ role: 'user', content: prompt }]));
    assert.equal(await page.evaluate(() => typeof window.__xss), 'undefined');
    assert.equal(await page.locator('#messages img, #messages script').count(), 0);
    const body = page.locator('article.assistant .body');
    assert.equal(await body.textContent(), reply.content);
    assert.equal(await body.getByText('<script>window.__xss=2</script>', { exact: false }).isVisible(), true);
    assert.equal(await page.locator('article.user .body').textContent(), prompt);
  });
});

test('a dropped WebSocket reconnects and the reply completes exactly once', { timeout: TEST_MS }, async () => {
  await mockReset();
  await withPage(async (page) => {
    const full = words(40);
    await send(page, 'mock:tokens=40 mock:interval=25');
    await waitReplyLength(page, 'w0 w1 w2 w3 w4 '.length);
    const atDrop = await page.evaluate(() => {
      const s = window.__chat.snapshot();
      const reply = s.msgs.at(-1);
      window.__chat.ws.close();
      return { length: reply.content.length, connects: s.connects, session: s.session };
    });
    assert.ok(atDrop.length < full.length, 'the socket was closed mid-reply');

    const reply = await waitReplyDone(page);
    assert.equal(reply.content, full);
    assert.equal(reply.reason, 'stop');
    assert.equal(await replyBodyText(page), full.trim());
    const s = await snapshot(page);
    assert.equal(s.connects, atDrop.connects + 1, 'one reconnect');
    assert.equal(s.session, atDrop.session);
    assert.equal(await page.evaluate(() => window.__chat.lastSessionFrame.resumed), true);
    assert.equal(s.msgs.filter((m) => m.role === 'assistant').length, 1);
    assert.equal((await mockStats()).requests, 1, 'the reply was not asked for twice');
  });
});

test('reload keeps the session and resumes a streaming reply', { timeout: TEST_MS }, async () => {
  await mockReset();
  await withPage(async (page) => {
    await send(page, 'first mock:tokens=3');
    await waitReplyDone(page);
    const id = await page.evaluate(() => sessionStorage.getItem('tokenrelay.session'));
    assert.ok(id && id.length >= 16);
    assert.equal((await snapshot(page)).session, id);

    await send(page, 'second mock:tokens=30 mock:interval=40');
    await waitReplyLength(page, 'w0 w1 w2 '.length);
    await page.reload();
    await waitConnected(page);
    const frame = await page.evaluate(() => window.__chat.lastSessionFrame);
    assert.equal(frame.resumed, true);
    assert.equal(frame.session, id);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('tokenrelay.session')), id);

    const reply = await waitReplyDone(page);
    assert.equal(reply.content, words(30), 'no gap and no duplicate across the reload');
    const s = await snapshot(page);
    assert.deepEqual(s.msgs.filter((m) => m.role === 'assistant').map((m) => m.content), [words(3), words(30)]);
    assert.equal(await page.locator('article.user').count(), 2);
    assert.deepEqual(await page.locator('article.assistant .body').allTextContents(), [words(3).trim(), words(30).trim()]);
    assert.equal((await mockStats()).requests, 2);
    assert.equal(fragmentSession(page), id, 'the address names the session');

    // The address without the fragment: sessionStorage still names the session, and the
    // conversation comes back from the relay's history; the fragment is put back.
    await page.goto(relayUrl);
    await waitConnected(page);
    assert.equal(await page.evaluate(() => window.__chat.lastSessionFrame.resumed), true);
    assert.equal(fragmentSession(page), id);
    await assertConversation(page, [['first mock:tokens=3', words(3)], ['second mock:tokens=30 mock:interval=40', words(30)]],
                             'after loading the address without the fragment');
  });
});

test('a second tab on the address shows the live reply, and a chat typed in either shows in both', { timeout: TEST_MS }, async () => {
  await mockReset();
  await withPage(async (a, context) => {
    const q1 = 'first mock:tokens=3';
    await send(a, q1);
    await waitReplyDone(a);
    const id = (await snapshot(a)).session;
    assert.equal(fragmentSession(a), id, 'the address names the session');

    // Tab B opens A's address: it joins the session (A stays connected) and draws the
    // conversation so far from history.
    const b = await openTab(context, a.url());
    const joined = await b.evaluate(() => window.__chat.lastSessionFrame);
    assert.equal(joined.session, id);
    assert.equal(joined.resumed, true);
    assert.equal(joined.connections, 2);
    await assertConversation(b, [[q1, words(3)]], 'B on opening');
    const aNow = await snapshot(a);
    assert.equal(aNow.connects, 1, 'A was not closed');
    assert.equal(aNow.connected, true);

    // Typed in A: B shows the question and streams the same reply while it is generated.
    const q2 = 'second mock:tokens=20 mock:interval=30';
    await send(a, q2);
    await waitStreaming(b, 'w0 w1 '.length);
    assert.equal(await b.isVisible('#stop'), true, 'B can stop the reply A asked for');
    await waitRepliesDone(a, 2);
    await waitRepliesDone(b, 2);
    await assertConversation(a, [[q1, words(3)], [q2, words(20)]], 'A');
    await assertConversation(b, [[q1, words(3)], [q2, words(20)]], 'B');
    assert.equal((await lastReply(b)).reason, 'stop');
    assert.equal(await b.isEnabled('#input'), true);

    // Typed in B: A shows it; the relay's history, sent upstream, has every turn.
    const q3 = 'third mock:tokens=4';
    await send(b, q3);
    await waitRepliesDone(b, 3);
    await waitRepliesDone(a, 3);
    const turns = [[q1, words(3)], [q2, words(20)], [q3, words(4)]];
    await assertConversation(a, turns, 'A');
    await assertConversation(b, turns, 'B');
    assert.deepEqual((await mockStats()).last_body.messages.map((m) => [m.role, m.content]),
                     [['user', q1], ['assistant', words(3)], ['user', q2], ['assistant', words(20)], ['user', q3]]);
    assert.equal((await mockStats()).requests, 3);
  });
});

test('a reload mid-reply restores the conversation from history and the rest of the reply', { timeout: TEST_MS }, async () => {
  await mockReset();
  await withPage(async (a, context) => {
    // Three turns: the relay's log keeps only the last two messages (PROTOCOL.md section 3),
    // so the first one can come back only from history.
    const turns = [['one mock:tokens=3', words(3)], ['two mock:tokens=4', words(4)]];
    for (const [q] of turns) {
      await send(a, q);
      await waitReplyDone(a);
    }
    const b = await openTab(context, a.url());
    const q3 = 'three mock:tokens=60 mock:interval=50';
    await send(b, q3);
    await waitStreaming(a, 'w0 w1 w2 '.length);

    // Reload A, which did not ask: history gives the two completed turns, the log the
    // question and the reply so far, and the rest streams live.
    await a.reload();
    await waitConnected(a);
    const frame = await a.evaluate(() => window.__chat.lastSessionFrame);
    assert.equal(frame.resumed, true);
    await waitRepliesDone(a, 3);
    await waitRepliesDone(b, 3);
    turns.push([q3, words(60)]);
    await assertConversation(a, turns, 'the reloaded tab');
    await assertConversation(b, turns, 'the other tab');
    assert.ok(frame.last_seq < (await snapshot(a)).lastSeq, 'the reload came while the reply was running');
    assert.equal(await a.locator('article.notice').count(), 0);

    // The reloaded tab chats on, and the other one shows it.
    const q4 = 'four mock:tokens=2';
    await send(a, q4);
    await waitRepliesDone(a, 4);
    await waitRepliesDone(b, 4);
    turns.push([q4, words(2)]);
    await assertConversation(a, turns, 'the reloaded tab');
    await assertConversation(b, turns, 'the other tab');
    assert.equal((await mockStats()).requests, 4);
  });
});

test('Stop in the other tab cancels the reply in both', { timeout: TEST_MS }, async () => {
  await mockReset();
  await withPage(async (a, context) => {
    const b = await openTab(context, a.url());
    const q = 'long mock:tokens=200 mock:interval=20';
    await send(a, q);
    await waitStreaming(b, 'w0 w1 '.length);
    await b.click('#stop');
    const waited = await fetch(`${mockUrl}/_mock/wait?field=aborted&atleast=1&timeout_ms=5000`);
    assert.equal(waited.status, 200, 'the mock saw the upstream request closed');

    const inA = await waitReplyDone(a);
    const inB = await waitReplyDone(b);
    assert.equal(inA.reason, 'cancelled');
    assert.equal(inB.reason, 'cancelled');
    assert.ok(inA.content.length > 0 && inA.content.length < words(200).length);
    assert.ok(words(200).startsWith(inA.content), 'what arrived is a prefix of the reply');
    await assertConversation(a, [[q, inA.content]], 'A');
    await assertConversation(b, [[q, inA.content]], 'B');
    for (const page of [a, b]) {
      assert.equal(await page.locator('article.assistant .msg-note').textContent(), 'Stopped.');
      assert.equal(await page.isEnabled('#input'), true);
      assert.equal(await page.isVisible('#stop'), false);
    }
  });
});

test('a tab that fell behind (4002) resumes, and redraws from history what the log no longer holds', { timeout: TEST_MS }, async () => {
  await mockReset();
  await withPage(async (page) => {
    const turns = [['one mock:tokens=3', words(3)], ['two mock:tokens=4', words(4)]];
    for (const [q] of turns) {
      await send(page, q);
      await waitReplyDone(page);
    }
    const q3 = 'three mock:tokens=40 mock:interval=40';
    await send(page, q3);
    await waitReplyLength(page, 'w0 w1 w2 '.length);
    // The relay closes a connection the log has left behind with 4002 (PROTOCOL.md section
    // 3); here the page plays that close, as if it had applied only the first turn's
    // first seqs. The log now starts at the second turn: the resume finds a gap.
    const status = await page.evaluate(() => {
      const c = window.__chat;
      c.detachSocket();
      c.lastSeq = 2;
      c.onClosed(4002);
      return document.getElementById('conn-text').textContent;
    });
    assert.equal(status, 'Fell behind, reconnecting');
    await page.waitForFunction(() => window.__chat.connects === 2 && window.__chat.connected);
    const frame = await page.evaluate(() => window.__chat.lastSessionFrame);
    assert.equal(frame.resumed, true);
    assert.ok(frame.first_seq > 3, `the log no longer holds seq 3 (first_seq ${frame.first_seq})`);
    await waitRepliesDone(page, 3);
    turns.push([q3, words(40)]);
    await assertConversation(page, turns, 'after the redraw');
    assert.equal(await page.locator('article.notice').count(), 0, 'nothing was lost for good');
    assert.equal((await mockStats()).requests, 3);
  });
});

test('a 1 MB reply arrives whole', { timeout: TEST_MS }, async () => {
  await mockReset();
  await withPage(async (page) => {
    // mock:huge sends the bytes as fast as it can; the relay joins tokens when the page
    // reads slowly (section 5), and the page renders long replies less often.
    await send(page, 'mock:huge=1000000');
    await page.waitForFunction(() => window.__chat.msgs.at(-1).status !== 'streaming', null, { timeout: 30000 });
    const result = await page.evaluate(() => {
      const r = window.__chat.msgs.at(-1);
      return { status: r.status, length: r.content.length, allX: /^x*$/.test(r.content),
               shown: document.querySelector('article.assistant .body').textContent.length };
    });
    assert.deepEqual(result, { status: 'done', length: 1000000, allX: true, shown: 1000000 });
  });
});

test('reasoning shows in a collapsible thinking block; screenshot', { timeout: TEST_MS }, async () => {
  await mockReset();
  await withPage(async (page) => {
    await send(page, 'Think first, then answer. mock:reasoning=3 mock:tokens=6');
    const reply = await waitReplyDone(page);
    assert.equal(reply.reasoning, 'r0 r1 r2 ');
    assert.equal(reply.content, words(6));
    const thinking = page.locator('article.assistant details.thinking');
    assert.equal(await thinking.isVisible(), true);
    assert.equal(await thinking.evaluate((d) => d.open), false, 'collapsed by default');
    assert.equal(await thinking.locator('.thinking-body').isVisible(), false);
    await thinking.locator('summary').click();
    assert.equal(await thinking.evaluate((d) => d.open), true);
    assert.equal(await thinking.locator('.thinking-body').textContent(), 'r0 r1 r2 ');
    assert.equal(await replyBodyText(page), words(6).trim());
    await page.waitForFunction(() => /^RTT/.test(document.getElementById('rtt').textContent) &&
                                     document.getElementById('rtt').textContent !== 'RTT –');
    await page.screenshot({ path: path.join(ARTIFACTS, 'chat.png') });
  });
});

test('a refusal shows as the model declining, not as an answer', { timeout: TEST_MS }, async () => {
  await mockReset();
  await withPage(async (page) => {
    await send(page, 'Do something bad. mock:refusal mock:tokens=3');
    const reply = await waitReplyDone(page);
    assert.equal(reply.status, 'done');
    assert.equal(reply.refusal, words(3));
    assert.equal(reply.content, '');
    const box = page.locator('article.assistant .refusal');
    assert.equal(await box.isVisible(), true);
    assert.equal(await box.getAttribute('role'), 'note');
    assert.equal(await box.textContent(), `The model declined: ${words(3)}`);
    assert.equal(await replyBodyText(page), '');
  });
});

test('a reply that asked for tools says so', { timeout: TEST_MS }, async () => {
  await mockReset();
  await withPage(async (page) => {
    await send(page, 'Call a tool. mock:tokens=2 mock:finish=tool_calls');
    const reply = await waitReplyDone(page);
    assert.equal(reply.reason, 'tool_calls');
    const note = page.locator('article.assistant .msg-note');
    assert.equal(await note.isVisible(), true);
    assert.match(await note.textContent(), /call a tool/);
  });
});

test('an upstream error shows inline and Retry sends the message again', { timeout: TEST_MS }, async () => {
  await mockReset();
  await withPage(async (page) => {
    // 400 is not retried by the relay (PROTOCOL.md section 6); the second request streams.
    await send(page, 'please mock:fail_first=1 mock:fail_status=400');
    const failed = await waitReplyDone(page);
    assert.equal(failed.status, 'error');
    assert.equal(failed.error.code, 'upstream_error');
    const box = page.locator('article.assistant .msg-error');
    assert.equal(await box.isVisible(), true);
    assert.equal(await box.getAttribute('role'), 'alert');
    assert.equal(await page.isEnabled('#input'), true);
    await box.getByRole('button', { name: 'Retry' }).click();

    const reply = await waitReplyDone(page);
    assert.equal(reply.content, words(8));
    assert.equal(reply.status, 'done');
    assert.equal(await page.locator('article.user').count(), 1, 'a retry does not repeat the user bubble');
    assert.equal(await page.locator('article.assistant').count(), 2);
    assert.equal(await box.getByRole('button', { name: 'Retry' }).isVisible(), false);
    assert.equal((await mockStats()).requests, 2);
  });
});

test('rate_limited says when to try again', { timeout: TEST_MS }, async () => {
  const limited = await startRelay(['--rate-limit', '1']);
  try {
    await withPage(async (page) => {
      await send(page, 'one mock:tokens=1');
      assert.equal((await waitReplyDone(page)).content, words(1));
      await send(page, 'two mock:tokens=1');
      const refused = await waitReplyDone(page);
      assert.equal(refused.error.code, 'rate_limited');
      const box = page.locator('article.assistant .msg-error').last();
      const text = await box.textContent();
      const seconds = Number(/try again in (\d+) s/.exec(text)?.[1]);
      assert.ok(seconds >= 1 && seconds <= 60, `"${text}"`);
      assert.equal(await box.getByRole('button', { name: 'Retry' }).isDisabled(), true);
      assert.equal(await page.isEnabled('#input'), true);
    }, { url: `http://127.0.0.1:${limited.port}/` });
  } finally {
    await stopProcess(limited);
  }
});

test('a relay restart: reconnect with backoff, a fresh session, the lost reply can be retried', { timeout: TEST_MS }, async () => {
  let first = await startRelay();
  const port = first.port;
  let second = null;
  try {
    await withPage(async (page) => {
      const prompt = 'mock:tokens=300 mock:interval=20';
      await send(page, prompt);
      await waitReplyLength(page, 'w0 w1 w2 '.length);
      const before = (await snapshot(page)).session;
      // A crash, not a drain: the session dies with the process.
      const exited = new Promise((resolve) => first.child.once('exit', resolve));
      first.child.kill('SIGKILL');
      await exited;
      first = null;
      await page.waitForFunction(() => document.getElementById('conn').dataset.state === 'reconnecting' &&
                                        /reconnecting/.test(document.getElementById('conn-text').textContent));
      assert.equal(await page.isVisible('#reconnect-now'), true);

      second = await startRelay([], `127.0.0.1:${port}`);
      await page.waitForFunction((old) => window.__chat.connected && window.__chat.sessionId !== old, before);
      assert.equal(await page.evaluate(() => window.__chat.lastSessionFrame.resumed), false);
      assert.equal(await page.evaluate(() => sessionStorage.getItem('tokenrelay.session')),
                   (await snapshot(page)).session);
      const lost = await lastReply(page);
      assert.equal(lost.status, 'error');
      assert.equal(lost.error.code, 'session_lost');
      assert.ok(words(300).startsWith(lost.content) && lost.content.length > 0, 'what arrived is kept');
      assert.equal(await page.locator('article.notice').count(), 1);
      assert.equal(await page.isEnabled('#input'), true);
      assert.equal(await page.textContent('#conn-text'), 'Connected');

      await page.locator('article.assistant .msg-error').getByRole('button', { name: 'Retry' }).click();
      await waitReplyLength(page, 'w0 w1 w2 '.length);
      await page.click('#stop');
      assert.equal((await waitReplyDone(page)).reason, 'cancelled');
      assert.equal((await mockStats()).last_body.messages.at(-1).content, prompt);
    }, { url: `http://127.0.0.1:${port}/` });
  } finally {
    await stopProcess(first);
    await stopProcess(second);
  }
});

test('a message over the frame limit is refused: by the page, or by a stricter relay (1009)', { timeout: TEST_MS }, async () => {
  await mockReset();
  await withPage(async (page) => {
    // Over the relay's default 64 KiB (PROTOCOL.md section 7): the page keeps it and says why.
    const big = 'x'.repeat(70000);
    await send(page, big);
    assert.equal(await page.isVisible('#composer-error'), true);
    assert.match(await page.textContent('#composer-error'), /^This message is 69 KiB; the relay takes at most 64 KiB\./);
    assert.equal(await page.inputValue('#input'), big);
    assert.equal(await page.locator('#messages article').count(), 0);
    await page.fill('#input', 'ok');
    assert.equal(await page.isVisible('#composer-error'), false, 'typing clears the complaint');
  });
  assert.equal((await mockStats()).requests, 0);

  const strict = await startRelay(['--max-message-bytes', '1000']);
  try {
    await withPage(async (page) => {
      // The relay closes with 1009 (section 2); the text comes back for editing.
      const big = 'y'.repeat(2000);
      await send(page, big);
      const reply = await waitReplyDone(page);
      assert.equal(reply.error.code, 'too_large');
      assert.equal(await page.inputValue('#input'), big);
      assert.equal(await page.locator('article.assistant .msg-error button').isVisible(), false, 'no Retry of the same text');
      await waitConnected(page);
      await send(page, 'small mock:tokens=2');
      assert.equal((await waitReplyDone(page)).content, words(2));
    }, { url: `http://127.0.0.1:${strict.port}/` });
  } finally {
    await stopProcess(strict);
  }
});

test('past the connection cap the oldest tab is closed (4001) and waits to be asked back', { timeout: TEST_MS }, async () => {
  await mockReset();
  // With the cap at 1 a joining tab closes the other one (PROTOCOL.md section 3).
  const capped = await startRelay(['--max-connections-per-session', '1']);
  try {
    await withPage(async (page, context) => {
      await send(page, 'capped mock:tokens=2');
      await waitReplyDone(page);
      const id = (await snapshot(page)).session;

      const other = await openTab(context, page.url());
      const frame = await other.evaluate(() => window.__chat.lastSessionFrame);
      assert.equal(frame.resumed, true);
      assert.equal(frame.session, id);
      assert.equal(frame.connections, 1);
      await assertConversation(other, [['capped mock:tokens=2', words(2)]], 'the new tab');

      // The first tab was closed with 4001, keeps its conversation, and does not fight back.
      await page.waitForFunction(() => document.getElementById('conn').dataset.state === 'taken');
      assert.equal(await page.textContent('#conn-text'), 'Closed here: this chat is open in too many tabs');
      assert.equal(await page.evaluate(() => window.__chat.ws === null && window.__chat.reconnectTimer === null), true);
      assert.equal(await page.textContent('#reconnect-now'), 'Use it here');
      await assertConversation(page, [['capped mock:tokens=2', words(2)]], 'the closed tab');
      await page.click('#reconnect-now');
      await waitConnected(page);
      assert.equal(await page.evaluate(() => window.__chat.lastSessionFrame.resumed), true);
      await other.waitForFunction(() => document.getElementById('conn').dataset.state === 'taken');
      await assertConversation(page, [['capped mock:tokens=2', words(2)]], 'the tab asked back');
    }, { url: `http://127.0.0.1:${capped.port}/` });
  } finally {
    await stopProcess(capped);
  }
});

test('New chat starts a fresh session; an unknown session gets a fresh one', { timeout: TEST_MS }, async () => {
  await withPage(async (page) => {
    await send(page, 'mock:tokens=2');
    await waitReplyDone(page);
    const before = (await snapshot(page)).session;
    assert.equal(fragmentSession(page), before);
    await page.click('#new-chat');
    await page.waitForFunction((old) => window.__chat.connected && window.__chat.sessionId !== old, before);
    const frame = await page.evaluate(() => window.__chat.lastSessionFrame);
    assert.equal(frame.resumed, false);
    assert.notEqual(frame.session, before);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('tokenrelay.session')), frame.session);
    assert.equal(fragmentSession(page), frame.session, 'the address names the new session');
    assert.equal(await page.locator('#messages article').count(), 0);
    assert.equal(await page.isVisible('#empty'), true);

    // An address naming a session the relay does not know, typed into this tab:
    // session_not_found, then a fresh session frame, and the page says so.
    const bogus = 'A'.repeat(32);
    await page.evaluate((id) => {
      location.hash = `session=${id}`;
    }, bogus);
    await page.waitForFunction(() => window.__chat.connected && window.__chat.connects === 3);
    const fresh = await page.evaluate(() => window.__chat.lastSessionFrame);
    assert.equal(fresh.resumed, false);
    assert.notEqual(fresh.session, bogus);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('tokenrelay.session')), fresh.session);
    assert.equal(fragmentSession(page), fresh.session);
    assert.deepEqual(await page.locator('#messages article').allTextContents(),
                     ['The relay no longer has this conversation (it expired, or the relay restarted): this is a new one.']);

    // Pasting the first session's address brings its conversation back.
    await page.evaluate((id) => {
      location.hash = `session=${id}`;
    }, before);
    await page.waitForFunction((id) => window.__chat.connected && window.__chat.sessionId === id, before);
    assert.equal(await page.evaluate(() => window.__chat.lastSessionFrame.resumed), true);
    await assertConversation(page, [['mock:tokens=2', words(2)]], 'the first session again');
  });
});

test('keyboard only, phone-sized, dark theme', { timeout: TEST_MS }, async () => {
  await mockReset();
  await withPage(async (page) => {
    // Reach the message box with Tab alone.
    let presses = 0;
    while (!(await page.evaluate(() => document.activeElement?.id === 'input'))) {
      assert.ok(++presses <= 10, 'Tab reaches the message box');
      await page.keyboard.press('Tab');
    }
    await page.keyboard.type('keyboard mock:tokens=4');
    await page.keyboard.press('Enter');
    assert.equal((await waitReplyDone(page)).content, words(4));
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'input', 'focus is back in the box');

    // Esc stops a streaming reply.
    await page.keyboard.type('long mock:tokens=200 mock:interval=20');
    await page.keyboard.press('Enter');
    await waitReplyLength(page, 3);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'stop', 'focus moves to Stop while streaming');
    await page.keyboard.press('Escape');
    const waited = await fetch(`${mockUrl}/_mock/wait?field=aborted&atleast=1&timeout_ms=5000`);
    assert.equal(waited.status, 200);
    assert.equal((await waitReplyDone(page)).reason, 'cancelled');

    // Phone: nothing wider than the screen; the composer stays on screen.
    const layout = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
      composerBottom: document.getElementById('composer').getBoundingClientRect().bottom,
      innerHeight: window.innerHeight,
      background: getComputedStyle(document.body).backgroundColor,
    }));
    assert.ok(layout.scrollWidth <= layout.innerWidth, JSON.stringify(layout));
    assert.ok(layout.composerBottom <= layout.innerHeight + 1, JSON.stringify(layout));
    const [r, g, b] = layout.background.match(/\d+/g).map(Number);
    assert.ok(r + g + b < 120, `dark background, got ${layout.background}`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'chat-phone-dark.png') });
  }, { contextOptions: { viewport: { width: 390, height: 760 }, isMobile: true, hasTouch: true, colorScheme: 'dark' } });

  // And the light theme is light.
  await withPage(async (page) => {
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const [r, g, b] = bg.match(/\d+/g).map(Number);
    assert.ok(r + g + b > 600, `light background, got ${bg}`);
  }, { contextOptions: { colorScheme: 'light' } });
});

test('Markdown renders safely: blocks, code with copy, links with rel=noopener', { timeout: TEST_MS }, async () => {
  await withPage(async (page, context) => {
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: relayUrl.replace(/\/$/, '') });
    const source = [
      '# Title',
      'Some `code <b>x</b>` and **bold** and *it* and [a link](https://example.com/a?b=1) and',
      '[bad](javascript:window.__xss=5) and <img src=x onerror=window.__xss=3> and snake_case_name.',
      '',
      '- one',
      '- two',
      '',
      '1. first',
      '2. second',
      '',
      '```js',
      'const a = "<script>window.__xss=4</script>";',
      '```',
      '',
      'See https://example.org/x.',
    ].join('\n');
    const result = await page.evaluate(async (src) => {
      const { renderMarkdown } = await import('./markdown.js');
      const once = document.createElement('div');
      once.id = 'md-test';
      once.className = 'md';
      document.body.appendChild(once);
      renderMarkdown(src, once);
      // The same text arriving one character at a time must end in the same DOM.
      const streamed = document.createElement('div');
      for (let i = 1; i <= src.length; i++) renderMarkdown(src.slice(0, i), streamed);
      const links = [...once.querySelectorAll('a')].map((a) => ({ href: a.href, rel: a.rel, target: a.target, text: a.textContent }));
      return {
        same: streamed.innerHTML === once.innerHTML,
        heading: once.querySelector('h3')?.textContent,
        inlineCode: once.querySelector('p code')?.textContent,
        strong: once.querySelector('strong')?.textContent,
        em: once.querySelector('em')?.textContent,
        links,
        ul: [...once.querySelectorAll('ul > li')].map((li) => li.textContent),
        ol: [...once.querySelectorAll('ol > li')].map((li) => li.textContent),
        code: once.querySelector('pre code')?.textContent,
        codeClass: once.querySelector('pre code')?.className,
        dangerous: once.querySelectorAll('img, script, b, iframe').length,
        text: once.textContent,
        xss: typeof window.__xss,
      };
    }, source);
    assert.equal(result.same, true, 'incremental rendering matches a one-shot render');
    assert.equal(result.heading, 'Title');
    assert.equal(result.inlineCode, 'code <b>x</b>');
    assert.equal(result.strong, 'bold');
    assert.equal(result.em, 'it');
    assert.deepEqual(result.links, [
      { href: 'https://example.com/a?b=1', rel: 'noopener noreferrer', target: '_blank', text: 'a link' },
      { href: 'https://example.org/x', rel: 'noopener noreferrer', target: '_blank', text: 'https://example.org/x' },
    ]);
    assert.ok(result.text.includes('bad'), 'an unsafe link keeps its words');
    assert.ok(result.text.includes('<img src=x onerror=window.__xss=3>'));
    assert.ok(result.text.includes('snake_case_name'));
    assert.deepEqual(result.ul, ['one', 'two']);
    assert.deepEqual(result.ol, ['first', 'second']);
    assert.equal(result.code, 'const a = "<script>window.__xss=4</script>";');
    assert.equal(result.codeClass, 'language-js');
    assert.equal(result.dangerous, 0);
    assert.equal(result.xss, 'undefined');

    await page.click('#md-test .copy-button');
    await page.waitForFunction(() => document.querySelector('#md-test .copy-button').textContent === 'Copied');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()),
                 'const a = "<script>window.__xss=4</script>";');
  });
});

test('an attached image shows as a preview, can be removed, and goes upstream as an image part', { timeout: TEST_MS }, async () => {
  await mockReset();
  await withPage(async (page) => {
    const png = pngImage(3, 2, [200, 30, 30]);
    const url = dataUrlOf(png);
    const file = { name: 'red.png', mimeType: 'image/png', buffer: png };

    // The attach button is a labelled button that opens a picker for several images.
    const attach = page.getByRole('button', { name: 'Attach image' });
    assert.equal(await attach.isVisible(), true);
    assert.equal(await page.getAttribute('#file-input', 'accept'), 'image/png,image/jpeg,image/gif,image/webp');
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), attach.click()]);
    assert.equal(chooser.isMultiple(), true);
    await chooser.setFiles(file);
    await waitAttachments(page, 1);
    const preview = page.locator('#attachments .attachment');
    assert.equal(await preview.locator('img').getAttribute('src'), url);
    assert.equal(await preview.locator('img').getAttribute('alt'), 'Attached image 1 (red.png)');
    assert.equal(await preview.locator('.attachment-size').textContent(), `${png.length} B`);
    assert.equal(await page.isVisible('#attachments'), true);

    // Remove: the preview goes, and focus returns to the message box.
    await page.getByRole('button', { name: 'Remove image 1 (red.png)' }).click();
    assert.equal(await preview.count(), 0);
    assert.equal(await page.isVisible('#attachments'), false);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'input');

    // Attach again, through the file input itself, then type and send.
    await page.setInputFiles('#file-input', file);
    await waitAttachments(page, 1);
    const prompt = 'What colour is this? mock:tokens=3';
    await send(page, prompt);
    assert.equal((await waitReplyDone(page)).content, words(3));

    // Upstream got the text part and the image part (PROTOCOL.md section 2).
    const sent = (await mockStats()).last_body.messages.at(-1);
    assert.equal(sent.role, 'user');
    assert.ok(Array.isArray(sent.content), `content parts, got ${JSON.stringify(sent.content).slice(0, 200)}`);
    assert.deepEqual(sent.content.filter((p) => p.type === 'text'), [{ type: 'text', text: prompt }]);
    assert.deepEqual(sent.content.filter((p) => p.type === 'image_url'), [{ type: 'image_url', image_url: { url } }]);
    assert.equal(sent.content[0].type, 'text', 'the text comes first');

    // The composer is cleared; the transcript shows the text and the image.
    assert.equal(await page.locator('#attachments .attachment').count(), 0);
    assert.equal(await page.isVisible('#attachments'), false);
    assert.equal(await page.inputValue('#input'), '');
    await waitUserImagesLoaded(page);
    assert.deepEqual(await userImages(page), [[['attached image', url, 3]]]);
    assert.equal(await page.locator('article.user .body').textContent(), prompt);
    assert.equal(await page.locator('article.user img.user-image').isVisible(), true);
    const user = (await snapshot(page)).msgs.find((m) => m.role === 'user');
    assert.deepEqual([user.content, user.images], [prompt, [url]]);
    assert.equal((await mockStats()).requests, 1);
  });
});

test('images come back from history after a reload, with and without text', { timeout: TEST_MS }, async () => {
  await mockReset();
  await withPage(async (page, context) => {
    const red = pngImage(3, 2, [200, 30, 30]);
    const blue = pngImage(2, 4, [30, 30, 200]);
    const green = pngImage(5, 1, [30, 200, 30]);
    // Two images with text, then one image alone (no text part at all).
    await page.setInputFiles('#file-input', [
      { name: 'red.png', mimeType: 'image/png', buffer: red },
      { name: 'blue.png', mimeType: 'image/png', buffer: blue },
    ]);
    await waitAttachments(page, 2);
    await send(page, 'two pictures mock:tokens=2');
    await waitReplyDone(page);
    await page.setInputFiles('#file-input', { name: 'green.png', mimeType: 'image/png', buffer: green });
    await waitAttachments(page, 1);
    await page.press('#input', 'Enter');
    assert.equal((await waitReplyDone(page)).content, words(8));
    assert.deepEqual((await mockStats()).last_body.messages.at(-1).content,
                     [{ type: 'image_url', image_url: { url: dataUrlOf(green) } }]);

    const shown = [
      [['attached image 1', dataUrlOf(red), 3], ['attached image 2', dataUrlOf(blue), 2]],
      [['attached image', dataUrlOf(green), 5]],
    ];
    await waitUserImagesLoaded(page);
    assert.deepEqual(await userImages(page), shown);
    assert.equal(await page.locator('article.user .body').nth(1).isVisible(), false, 'no empty text under an image alone');

    // The reload draws the conversation from the relay's history (section 4).
    const id = (await snapshot(page)).session;
    await page.reload();
    await waitConnected(page);
    assert.equal(await page.evaluate(() => window.__chat.lastSessionFrame.resumed), true);
    assert.equal((await snapshot(page)).session, id);
    await waitUserImagesLoaded(page);
    assert.deepEqual(await userImages(page), shown);
    await assertConversation(page, [['two pictures mock:tokens=2', words(2)], ['', words(8)]], 'after the reload');

    // Another tab of the session sees them too, and the echo of a new one.
    const other = await openTab(context, page.url());
    await waitUserImagesLoaded(other);
    assert.deepEqual(await userImages(other), shown);
    await page.setInputFiles('#file-input', { name: 'red.png', mimeType: 'image/png', buffer: red });
    await waitAttachments(page, 1);
    await send(page, 'again mock:tokens=1');
    await waitRepliesDone(other, 3);
    await waitUserImagesLoaded(other);
    assert.deepEqual((await userImages(other)).at(-1), [['attached image', dataUrlOf(red), 3]]);
    assert.equal(await other.locator('article.user .body').last().textContent(), 'again mock:tokens=1');
  });
});

test('an image pasted into the message box is attached', { timeout: TEST_MS }, async () => {
  await mockReset();
  await withPage(async (page) => {
    const png = pngImage(4, 4, [250, 200, 0]);
    const paste = (base64, type, name) => page.evaluate(([b64, mime, fileName]) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const data = new DataTransfer();
      data.items.add(new File([bytes], fileName, { type: mime }));
      const input = document.getElementById('input');
      input.focus();
      return input.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    }, [base64, type, name]);

    const notCancelled = await paste(png.toString('base64'), 'image/png', 'image.png');
    assert.equal(notCancelled, false, 'an image alone does not paste anything into the box');
    await waitAttachments(page, 1);
    assert.equal(await page.getAttribute('#attachments img', 'src'), dataUrlOf(png));
    assert.equal(await page.textContent('#attachments .attachment-size'), `${png.length} B`);
    assert.equal(await page.inputValue('#input'), '');

    // An image type the relay does not take is refused with a reason.
    await paste(Buffer.from('BM').toString('base64'), 'image/bmp', 'old.bmp');
    assert.equal(await page.isVisible('#composer-error'), true);
    assert.equal(await page.textContent('#composer-error'), 'old.bmp: not a PNG, JPEG, GIF or WebP image.');
    assert.equal(await page.locator('#attachments .attachment').count(), 1);

    await page.press('#input', 'Enter');
    await waitReplyDone(page);
    assert.deepEqual((await mockStats()).last_body.messages.at(-1).content,
                     [{ type: 'image_url', image_url: { url: dataUrlOf(png) } }]);
  });
});

test('images over the relay limit are refused by the page', { timeout: TEST_MS }, async () => {
  await mockReset();
  await withPage(async (page) => {
    // 6.3 MiB of file is 8.4 MiB of data: URL, over the relay's default 8 MiB (section 7).
    const big = Buffer.alloc(Math.round(6.3 * 1024 * 1024));
    await page.setInputFiles('#file-input', { name: 'big.png', mimeType: 'image/png', buffer: big });
    await page.waitForFunction(() => document.querySelector('#attachments .attachment')?.dataset.state === 'ready');
    assert.equal(await page.textContent('#attachments .attachment-size'), '6.3 MB');
    await page.waitForFunction(() => !document.getElementById('composer-error').hidden);
    assert.match(await page.textContent('#composer-error'), /^These images come to 8\.4 MB once encoded for sending; the relay takes at most 8 MB of images in one message\./);

    await send(page, 'too much');
    assert.equal(await page.isVisible('#composer-error'), true);
    assert.match(await page.textContent('#composer-error'), /^These images come to 8\.4 MB/);
    assert.equal(await page.locator('#messages article').count(), 0);
    assert.equal(await page.inputValue('#input'), 'too much');

    await page.getByRole('button', { name: 'Remove image 1 (big.png)' }).click();
    assert.equal(await page.isVisible('#composer-error'), false, 'removing it clears the complaint');
    await send(page, 'fine now mock:tokens=1');
    await waitReplyDone(page);
    assert.equal((await mockStats()).requests, 1);
    assert.equal((await mockStats()).last_body.messages.at(-1).content, 'fine now mock:tokens=1');
  });
});
