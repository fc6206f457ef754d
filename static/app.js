// The tokenrelay chat page: one WebSocket to the relay, speaking PROTOCOL.md version 1.
//
// Model output only ever reaches the page through markdown.js (DOM nodes, never innerHTML)
// or textContent. The conversation, the session id and the last seq seen are kept in
// sessionStorage, so a reload resumes the same session (PROTOCOL.md section 3) and a reply
// that was streaming carries on where it stopped.

import { renderMarkdown } from './markdown.js';

const STORE_SESSION = 'tokenrelay.session';
const STORE_STATE = 'tokenrelay.state';
// Reconnect backoff: exponential with full jitter (a uniform delay between 0 and the
// ceiling), so many clients dropped at once by a relay restart do not return in lockstep.
const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 30000;
const HANDSHAKE_TIMEOUT_MS = 10000;
const PING_INTERVAL_MS = 15000;
const PONG_TIMEOUT_MS = 10000;
// Longer than the relay's default first-token and token timeouts (30 s, section 7): the
// relay normally ends a silent generation itself; this only catches a chat that was lost
// with a dropped connection before the relay saw it.
const REPLY_WATCHDOG_MS = 75000;
const SAVE_DELAY_MS = 400;
// The relay's default --max-message-bytes (section 7). A larger frame makes the relay close
// the connection (1009), and a browser that is still sending it may only see the reset, so
// the page refuses it up front. A relay configured smaller is handled in onClosed().
const MAX_MESSAGE_BYTES = 65536;
const LARGE_REPLY_CHARS = 50000;
const LARGE_REPLY_RENDER_MS = 250;
const MAX_SPOKEN_CHARS = 2000;

// Errors that refuse a chat outright: no stream_end will follow them (section 2).
const REFUSALS = new Set(['bad_json', 'bad_request', 'unknown_type', 'busy', 'rate_limited', 'overloaded']);
const END_NOTES = {
  length: 'The reply hit the length limit.',
  cancelled: 'Stopped.',
};
const END_ERRORS = {
  upstream_error: 'The model server failed while answering.',
  timeout: 'The model server stopped answering in time.',
  shutdown: 'The relay is restarting; the reply was cut off.',
};

const $ = (id) => document.getElementById(id);

function randomId(prefix) {
  const bytes = new Uint8Array(9);
  crypto.getRandomValues(bytes);
  return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function formatMs(ms) {
  if (ms < 1) return '<1 ms';
  if (ms < 10000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

function formatRate(perSecond) {
  return perSecond >= 100 ? `${Math.round(perSecond)}` : perSecond.toFixed(1);
}

// Text for the screen-reader live region: Markdown punctuation read aloud is noise.
function speakable(text) {
  return text.replace(/```[^\n]*/g, ' ').replace(/[*_#>`|~]+/g, ' ').replace(/\s+/g, ' ').trim();
}

class ChatClient {
  constructor() {
    this.ws = null;
    this.connected = false;
    this.sessionId = null;
    this.lastSeq = 0;
    this.lastSessionFrame = null;
    this.connects = 0;
    this.attempt = 0;
    this.msgs = [];
    this.streaming = null; // id of the reply whose stream is open
    this.stopping = false;
    this.pendingCancel = null;
    this.pings = new Map(); // client timestamp -> performance.now() when sent
    this.rttMs = null;
    this.reconnectAt = 0;
    this.reconnectTimer = null;
    this.handshakeTimer = null;
    this.pingTimer = null;
    this.saveTimer = null;
    this.renderQueued = new Set();
    this.speech = new Map(); // reply -> text not yet announced to screen readers
    this.renderFrame = 0;
    this.lastActivity = performance.now();
    this.lastFrameAt = 0;
    this.takenOver = false;

    this.ui = {
      messages: $('messages'),
      empty: $('empty'),
      chat: $('chat'),
      input: $('input'),
      send: $('send'),
      stop: $('stop'),
      composer: $('composer'),
      composerError: $('composer-error'),
      conn: $('conn'),
      connText: $('conn-text'),
      connCountdown: $('conn-countdown'),
      reconnectNow: $('reconnect-now'),
      rtt: $('rtt'),
      newChat: $('new-chat'),
      live: $('live'),
    };
    this.bindUi();
    this.restore();
    setInterval(() => this.tick(), 1000);
    this.connect();
  }

  // ---- persistence -------------------------------------------------------------------

  restore() {
    let state = null;
    try {
      this.sessionId = sessionStorage.getItem(STORE_SESSION);
      state = JSON.parse(sessionStorage.getItem(STORE_STATE) || 'null');
    } catch {
      state = null;
    }
    if (!this.sessionId || !state || state.session !== this.sessionId) return;
    // lastSeq and the texts are saved together, so what we ask the relay to replay on
    // resume starts exactly after the last text we still have.
    this.lastSeq = Number.isInteger(state.lastSeq) ? state.lastSeq : 0;
    for (const saved of state.msgs || []) {
      const m = { ...saved, sentAt: null, firstAt: null, endAt: null };
      this.msgs.push(m);
      this.mount(m);
      if (m.role === 'assistant' && m.status === 'streaming') this.streaming = m.id;
    }
    this.updateComposer();
    this.scrollToBottom(true);
  }

  save() {
    clearTimeout(this.saveTimer);
    this.saveTimer = null;
    const pick = (m) => {
      const { el, sentAt, firstAt, endAt, ...rest } = m;
      return rest;
    };
    try {
      if (this.sessionId) sessionStorage.setItem(STORE_SESSION, this.sessionId);
      else sessionStorage.removeItem(STORE_SESSION);
      sessionStorage.setItem(STORE_STATE, JSON.stringify({
        v: 1, session: this.sessionId, lastSeq: this.lastSeq, msgs: this.msgs.map(pick),
      }));
    } catch {
      // Over the storage quota: keep only the session, and ask for the whole log on resume.
      try {
        sessionStorage.setItem(STORE_STATE, JSON.stringify({ v: 1, session: this.sessionId, lastSeq: 0, msgs: [] }));
      } catch {
        // Storage unavailable: a reload starts over, nothing else breaks.
      }
    }
  }

  saveSoon() {
    if (!this.saveTimer) this.saveTimer = setTimeout(() => this.save(), SAVE_DELAY_MS);
  }

  // ---- connection --------------------------------------------------------------------

  url() {
    const u = new URL('ws', location.href);
    u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    u.search = '';
    u.hash = '';
    if (this.sessionId) {
      u.searchParams.set('session', this.sessionId);
      u.searchParams.set('last_seq', String(this.lastSeq));
    }
    // A relay run with --client-token accepts ?token=; a page opened as /?token=… passes it on.
    const token = new URLSearchParams(location.search).get('token');
    if (token) u.searchParams.set('token', token);
    return u.href;
  }

  connect() {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (this.ws) return;
    this.takenOver = false;
    this.setConn('connecting', this.attempt > 0 ? 'Reconnecting…' : 'Connecting…');
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.connected = false;
    this.handshakeTimer = setTimeout(() => {
      if (this.ws === ws && !this.connected) this.abandonSocket();
    }, HANDSHAKE_TIMEOUT_MS);
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.lastFrameAt = performance.now();
      this.onFrame(ev.data);
    };
    ws.onclose = (ev) => {
      if (this.ws === ws) this.onClosed(ev.code);
    };
  }

  // Drops the current socket without waiting for a closing handshake that may never come
  // (half-open connection), then reconnects.
  abandonSocket() {
    const ws = this.ws;
    if (!ws) return;
    this.detachSocket();
    this.onClosed(1006);
  }

  detachSocket() {
    const ws = this.ws;
    this.ws = null;
    if (!ws) return;
    ws.onmessage = null;
    ws.onclose = null;
    try {
      ws.close(1000);
    } catch {
      // already closing
    }
  }

  onClosed(code) {
    this.ws = null;
    this.connected = false;
    clearTimeout(this.handshakeTimer);
    clearInterval(this.pingTimer);
    this.pings.clear();
    this.updateComposer();
    if (code === 1009 && this.streaming) {
      // The relay closes on a frame over its size limit (section 2); the chat never started.
      const m = this.findReply(this.streaming);
      if (m && !m.content && !m.reasoning) {
        m.status = 'error';
        m.error = { code: 'too_large', message: 'This message is larger than the relay accepts. Shorten it and send it again.' };
        // Retrying the same text would fail the same way: hand it back for editing instead.
        if (!this.ui.input.value && m.prompt) this.ui.input.value = m.prompt;
        m.prompt = null;
        this.finishStreaming();
        this.refresh(m);
        this.save();
      }
    }
    if (code === 4001) {
      // Another tab resumed this session (section 3). Taking it back automatically would
      // make the two tabs steal it from each other forever.
      this.takenOver = true;
      this.setConn('taken', 'This chat is open in another tab');
      this.ui.reconnectNow.textContent = 'Use it here';
      this.ui.reconnectNow.hidden = false;
      return;
    }
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    this.attempt++;
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(this.attempt, 16));
    const delay = Math.floor(Math.random() * ceiling);
    this.reconnectAt = performance.now() + delay;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
    this.ui.reconnectNow.textContent = 'Reconnect now';
    this.ui.reconnectNow.hidden = false;
    this.showReconnectCountdown();
  }

  showReconnectCountdown() {
    if (!this.reconnectTimer) return;
    const left = Math.max(0, Math.ceil((this.reconnectAt - performance.now()) / 1000));
    const why = navigator.onLine === false ? 'Offline' : 'Disconnected';
    this.setConn('reconnecting', `${why}, reconnecting`, left > 0 ? `in ${left} s` : '…');
  }

  setConn(state, text, detail = '') {
    this.ui.conn.dataset.state = state;
    if (this.ui.connText.textContent !== text) this.ui.connText.textContent = text;
    if (this.ui.connCountdown.textContent !== detail) this.ui.connCountdown.textContent = detail;
    if (state === 'connected' || state === 'connecting') this.ui.reconnectNow.hidden = true;
  }

  send(frame) {
    if (!this.ws || !this.connected) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  sendPing() {
    const ts = Date.now();
    this.pings.set(ts, performance.now());
    this.send({ type: 'ping', timestamp: ts });
  }

  // ---- frames ------------------------------------------------------------------------

  onFrame(data) {
    let f;
    try {
      f = JSON.parse(data);
    } catch {
      return;
    }
    if (!f || typeof f !== 'object') return;
    switch (f.type) {
      case 'session':
        return this.onSession(f);
      case 'token':
        return this.onText(f, 'content');
      case 'reasoning':
        return this.onText(f, 'reasoning');
      case 'stream_end':
        return this.onStreamEnd(f);
      case 'pong':
        return this.onPong(f);
      case 'error':
        return this.onError(f);
      default:
        // Unknown frame types are for newer clients (section 2: both sides can grow).
    }
  }

  onSession(f) {
    clearTimeout(this.handshakeTimer);
    this.connected = true;
    this.connects++;
    this.attempt = 0;
    this.lastSessionFrame = f;
    this.lastActivity = performance.now();
    const previous = this.sessionId;
    if (f.resumed && f.session === previous) {
      // first_seq is the oldest frame the relay still holds; below it is gone for good.
      if (Number.isInteger(f.first_seq) && f.first_seq > this.lastSeq + 1 &&
          Number.isInteger(f.last_seq) && f.last_seq >= f.first_seq) {
        this.notice('Part of the conversation could not be recovered after the reconnect.');
      }
    } else {
      if (previous) this.sessionLost();
      this.sessionId = f.session;
      this.lastSeq = 0;
    }
    this.setConn('connected', 'Connected');
    if (this.ui.composerError.dataset.kind === 'offline') this.composerError('');
    this.save();
    if (this.pendingCancel && this.pendingCancel === this.streaming) {
      this.send({ type: 'cancel', id: this.pendingCancel });
    }
    this.pendingCancel = null;
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.pingTick(), PING_INTERVAL_MS);
    this.sendPing();
    this.updateComposer();
  }

  // The relay no longer knows the session (expired while we were away): whatever was
  // streaming is lost, and the model will not see the earlier turns.
  sessionLost() {
    const m = this.streaming && this.findReply(this.streaming);
    if (m) {
      m.status = 'error';
      m.error = { code: 'session_lost', message: 'The connection dropped for too long and the reply was lost.' };
      this.finishStreaming();
      this.refresh(m);
    }
    if (this.msgs.some((x) => x.role !== 'notice')) {
      this.notice('Reconnected with a new session: the relay had forgotten the old one, so earlier messages are not part of the conversation any more.');
    }
  }

  acceptSeq(f) {
    if (!Number.isFinite(f.seq)) return true;
    // Seq numbers grow by one per token across the session (section 2): anything at or
    // below what we already hold is a replayed duplicate.
    if (f.seq <= this.lastSeq) return false;
    this.lastSeq = f.seq;
    return true;
  }

  onText(f, field) {
    if (typeof f.content !== 'string' || !this.acceptSeq(f)) return;
    const m = this.replyFor(f.id);
    if (!m) return;
    this.lastActivity = performance.now();
    const wasEmpty = !m.content && !m.reasoning;
    m[field] += f.content;
    if (field === 'content' && m.firstAt == null) m.firstAt = performance.now();
    if (wasEmpty || field === 'reasoning') this.refresh(m);
    this.queueRender(m);
    if (field === 'content') this.announce(m, f.content, false);
    this.saveSoon();
  }

  onStreamEnd(f) {
    if (!this.acceptSeq(f)) return;
    const m = this.replyFor(f.id);
    if (!m) return;
    m.endAt = performance.now();
    m.reason = typeof f.reason === 'string' ? f.reason : 'stop';
    if (f.usage && typeof f.usage === 'object') m.usage = f.usage;
    if (f.timing && typeof f.timing === 'object') m.timing = f.timing;
    if (END_ERRORS[m.reason]) {
      m.status = 'error';
      if (!m.error) m.error = { code: m.reason, message: END_ERRORS[m.reason] };
    } else {
      m.status = 'done';
    }
    m.figures = this.figures(m);
    // The last tokens may still sit in a throttled render: the finished reply shows at once.
    this.renderQueued.delete(m);
    this.renderNow(m);
    if (this.streaming === m.id) this.finishStreaming();
    this.announce(m, '', true);
    this.refresh(m);
    this.save();
  }

  onPong(f) {
    const sent = this.pings.get(f.client_timestamp);
    this.pings.clear(); // any pong shows the connection is alive
    if (sent === undefined) return;
    this.rttMs = performance.now() - sent;
    this.ui.rtt.textContent = `RTT ${formatMs(this.rttMs)}`;
  }

  onError(f) {
    const code = typeof f.code === 'string' ? f.code : 'error';
    const message = typeof f.message === 'string' && f.message ? f.message : code;
    if (code === 'session_not_found') return; // a fresh session frame follows; onSession tells the user
    let m = f.id ? this.findReply(f.id) : null;
    if (!m && !f.id && REFUSALS.has(code) && this.streaming) {
      const current = this.findReply(this.streaming);
      if (current && !current.content) m = current;
    }
    const error = { code, message };
    if (Number.isFinite(f.retry_after_ms)) error.until = Date.now() + Math.max(0, f.retry_after_ms);
    if (!m) {
      this.notice(`Error (${code}): ${message}`, error);
      return;
    }
    m.error = error;
    if (REFUSALS.has(code)) m.status = 'error';
    // Input comes back on an error too; for upstream_error and timeout the relay's
    // stream_end follows and fills in the figures.
    if (this.streaming === m.id) this.finishStreaming();
    this.refresh(m);
    this.save();
  }

  findReply(id) {
    for (let i = this.msgs.length - 1; i >= 0; i--) {
      const m = this.msgs[i];
      if (m.role === 'assistant' && m.id === id) return m;
    }
    return null;
  }

  // The reply a frame belongs to; a frame for a message this page never saw (replayed
  // after the saved transcript was lost) gets a bubble of its own.
  replyFor(id) {
    let m = id != null ? this.findReply(String(id)) : this.streaming ? this.findReply(this.streaming) : null;
    if (!m) {
      m = this.addReply(id != null ? String(id) : randomId('r'), null);
      if (!this.streaming) this.streaming = m.id;
      this.updateComposer();
    }
    return m;
  }

  figures(m) {
    const t = m.timing || {};
    const ttft = m.sentAt != null && m.firstAt != null ? m.firstAt - m.sentAt
               : Number.isFinite(t.ttft_ms) ? t.ttft_ms : null;
    const generating = m.firstAt != null && m.endAt != null ? m.endAt - m.firstAt
                     : Number.isFinite(t.total_ms) && Number.isFinite(t.ttft_ms) ? t.total_ms - t.ttft_ms : null;
    const tokens = m.usage && Number.isFinite(m.usage.completion_tokens) ? m.usage.completion_tokens : null;
    const prompt = m.usage && Number.isFinite(m.usage.prompt_tokens) ? m.usage.prompt_tokens : null;
    const rate = tokens != null && generating != null && tokens > 0 ? tokens / (Math.max(generating, 1) / 1000) : null;
    return { ttft, rate, tokens, prompt };
  }

  // ---- actions -----------------------------------------------------------------------

  submit() {
    const text = this.ui.input.value;
    if (!text.trim() || this.streaming) return;
    const bytes = new TextEncoder().encode(JSON.stringify({ type: 'chat', id: randomId('m'), content: text })).length;
    if (bytes > MAX_MESSAGE_BYTES) {
      this.composerError(`This message is ${Math.ceil(bytes / 1024)} KiB; the relay takes at most ${MAX_MESSAGE_BYTES / 1024} KiB. Shorten it and send it again.`);
      return;
    }
    if (!this.connected) {
      this.composerError('Not connected yet: your message stays here until the relay is back.', 'offline');
      return;
    }
    this.composerError('');
    if (this.startChat(text, true)) {
      this.ui.input.value = '';
      this.autoGrow();
    }
  }

  startChat(text, showUser) {
    const id = randomId('m');
    if (!this.send({ type: 'chat', id, content: text })) return false;
    if (showUser) {
      const u = { role: 'user', id, content: text };
      this.msgs.push(u);
      this.mount(u);
    }
    const m = this.addReply(id, text);
    m.sentAt = performance.now();
    this.streaming = id;
    this.stopping = false;
    this.lastActivity = performance.now();
    this.ui.live.replaceChildren();
    this.updateComposer();
    this.scrollToBottom(true);
    this.save();
    return true;
  }

  addReply(id, prompt) {
    const m = { role: 'assistant', id, prompt, content: '', reasoning: '', status: 'streaming',
                sentAt: null, firstAt: null, endAt: null };
    this.msgs.push(m);
    this.mount(m);
    return m;
  }

  stop() {
    if (!this.streaming || this.stopping) return;
    this.stopping = true;
    // Sent now if we can, else right after the reconnect (the generation keeps running on
    // the relay while we are away, section 3).
    if (!this.send({ type: 'cancel', id: this.streaming })) this.pendingCancel = this.streaming;
    this.updateComposer();
  }

  retry(m) {
    if (this.streaming || !this.connected || !m.prompt) return;
    if (m.error && m.error.until && Date.now() < m.error.until) return;
    if (this.startChat(m.prompt, false)) {
      m.retried = true;
      this.refresh(m);
      this.save();
    }
  }

  newChat() {
    if (this.streaming) this.send({ type: 'cancel', id: this.streaming });
    this.detachSocket();
    this.connected = false;
    clearInterval(this.pingTimer);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.sessionId = null;
    this.lastSeq = 0;
    this.msgs = [];
    this.streaming = null;
    this.stopping = false;
    this.pendingCancel = null;
    for (const node of [...this.ui.messages.children]) if (node !== this.ui.empty) node.remove();
    this.ui.empty.hidden = false;
    this.ui.live.replaceChildren();
    this.save();
    this.attempt = 0;
    this.connect();
    this.updateComposer();
    this.ui.input.focus();
  }

  finishStreaming() {
    const hadFocus = document.activeElement === this.ui.stop || document.activeElement === document.body;
    this.streaming = null;
    this.stopping = false;
    this.pendingCancel = null;
    this.updateComposer();
    if (hadFocus) this.ui.input.focus();
  }

  pingTick() {
    // Keeps proxies from cutting an idle WebSocket and measures the round trip; tick()
    // gives up on a connection whose pong does not come back.
    this.sendPing();
  }

  tick() {
    if (!this.connected) this.showReconnectCountdown();
    for (const m of this.msgs) {
      if (m.error && m.error.until && m.el) this.refreshError(m);
    }
    if (this.streaming && this.connected && performance.now() - this.lastActivity > REPLY_WATCHDOG_MS) {
      const m = this.findReply(this.streaming);
      if (m) {
        m.status = 'error';
        m.error = { code: 'no_response', message: 'No answer arrived for this message.' };
        this.finishStreaming();
        this.refresh(m);
        this.save();
      }
    }
    // A ping with nothing at all received since it went out, for longer than the timeout:
    // the connection is half-open (a dead NAT entry, a sleeping laptop), so find a live one.
    const now = performance.now();
    if (this.connected && [...this.pings.values()].some((sent) => sent > this.lastFrameAt && now - sent > PONG_TIMEOUT_MS)) {
      this.abandonSocket();
    }
  }

  // ---- DOM ---------------------------------------------------------------------------

  bindUi() {
    const { input, composer, stop, newChat, reconnectNow } = this.ui;
    composer.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.submit();
    });
    input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && !ev.altKey && !ev.ctrlKey && !ev.metaKey) {
        ev.preventDefault();
        this.submit();
      }
    });
    input.addEventListener('input', () => {
      if (!this.ui.composerError.hidden) this.composerError('');
      this.autoGrow();
      this.updateComposer();
    });
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && this.streaming) {
        ev.preventDefault();
        this.stop();
      }
    });
    stop.addEventListener('click', () => this.stop());
    newChat.addEventListener('click', () => this.newChat());
    reconnectNow.addEventListener('click', () => {
      this.attempt = 0;
      this.connect();
    });
    window.addEventListener('online', () => {
      if (!this.ws && !this.takenOver) this.connect();
    });
    window.addEventListener('pagehide', () => this.save());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'hidden') this.save();
    });
  }

  composerError(text, kind = 'input') {
    const box = this.ui.composerError;
    box.textContent = text;
    box.hidden = !text;
    box.dataset.kind = text ? kind : '';
  }

  autoGrow() {
    const input = this.ui.input;
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, Math.round(window.innerHeight * 0.4))}px`;
  }

  updateComposer() {
    const { input, send, stop } = this.ui;
    const busy = !!this.streaming;
    const stopHadFocus = document.activeElement === stop;
    const inputHadFocus = document.activeElement === input;
    input.disabled = busy;
    send.hidden = busy;
    stop.hidden = !busy;
    stop.disabled = this.stopping;
    stop.textContent = this.stopping ? 'Stopping…' : 'Stop';
    send.disabled = !this.connected;
    send.title = this.connected ? '' : 'Waiting for the connection';
    if (busy && inputHadFocus) stop.focus();
    if (!busy && stopHadFocus) input.focus();
  }

  nearBottom() {
    const c = this.ui.chat;
    return c.scrollHeight - c.scrollTop - c.clientHeight < 80;
  }

  scrollToBottom(force) {
    if (force || this.nearBottom()) this.ui.chat.scrollTop = this.ui.chat.scrollHeight;
  }

  notice(text, error) {
    const n = { role: 'notice', id: randomId('n'), content: text, error };
    this.msgs.push(n);
    this.mount(n);
    this.scrollToBottom(true);
    this.save();
  }

  mount(m) {
    this.ui.empty.hidden = true;
    const article = document.createElement('article');
    article.className = `msg ${m.role}`;
    m.el = { root: article };
    if (m.role === 'user') {
      article.setAttribute('aria-label', 'You');
      const body = document.createElement('div');
      body.className = 'body plain';
      body.textContent = m.content;
      article.appendChild(body);
    } else if (m.role === 'notice') {
      article.setAttribute('role', m.error ? 'alert' : 'note');
      article.textContent = m.content;
    } else {
      article.setAttribute('aria-label', 'Assistant');
      article.dataset.id = m.id;

      const thinking = document.createElement('details');
      thinking.className = 'thinking';
      const summary = document.createElement('summary');
      const thinkingBody = document.createElement('div');
      thinkingBody.className = 'thinking-body';
      thinking.append(summary, thinkingBody);

      const typing = document.createElement('div');
      typing.className = 'typing';
      for (let i = 0; i < 3; i++) {
        const dot = document.createElement('span');
        dot.className = 'typing-dot';
        dot.setAttribute('aria-hidden', 'true');
        typing.appendChild(dot);
      }
      const typingText = document.createElement('span');
      typingText.className = 'sr-only';
      typingText.textContent = 'Assistant is typing';
      typing.appendChild(typingText);

      const body = document.createElement('div');
      body.className = 'body md';
      const note = document.createElement('p');
      note.className = 'msg-note';
      const error = document.createElement('div');
      error.className = 'msg-error';
      error.setAttribute('role', 'alert');
      const figures = document.createElement('p');
      figures.className = 'figures';

      article.append(thinking, typing, body, note, error, figures);
      Object.assign(m.el, { thinking, summary, thinkingBody, typing, body, note, error, figures });
    }
    this.ui.messages.appendChild(article);
    if (m.role === 'assistant') {
      this.refresh(m);
      this.renderNow(m);
    }
  }

  queueRender(m) {
    this.renderQueued.add(m);
    if (this.renderFrame) return;
    const big = m.content.length > LARGE_REPLY_CHARS;
    const run = () => {
      this.renderFrame = 0;
      const stick = this.nearBottom();
      for (const q of this.renderQueued) this.renderNow(q);
      this.renderQueued.clear();
      if (stick) this.scrollToBottom(true);
    };
    // Re-parsing a very long reply on every frame would starve the page; render it less often.
    this.renderFrame = big ? setTimeout(run, LARGE_REPLY_RENDER_MS) : requestAnimationFrame(run);
  }

  renderNow(m) {
    if (!m.el || !m.el.body) return;
    renderMarkdown(m.content, m.el.body);
    if (m.reasoning) m.el.thinkingBody.textContent = m.reasoning;
  }

  refresh(m) {
    const e = m.el;
    if (!e || m.role !== 'assistant') return;
    const streaming = m.status === 'streaming';
    e.root.dataset.status = m.status;
    e.root.setAttribute('aria-busy', streaming ? 'true' : 'false');
    e.typing.hidden = !(streaming && !m.content && !m.reasoning && !m.error);
    e.thinking.hidden = !m.reasoning;
    e.summary.textContent = streaming && !m.content ? 'Thinking…' : 'Thinking';
    if (m.reasoning) e.thinkingBody.textContent = m.reasoning;

    const note = m.status === 'done' ? END_NOTES[m.reason] : null;
    e.note.hidden = !note;
    e.note.textContent = note || '';

    this.refreshError(m);

    const f = m.figures;
    e.figures.hidden = !f;
    if (f) {
      const parts = [];
      if (f.ttft != null) parts.push(['ttft', `first token ${formatMs(f.ttft)}`, 'Time to first token']);
      if (f.rate != null) parts.push(['rate', `${formatRate(f.rate)} tok/s`, 'Tokens per second while generating']);
      if (f.tokens != null) {
        parts.push(['tokens', `${f.tokens} tokens`,
                    f.prompt != null ? `${f.tokens} reply tokens, ${f.prompt} prompt tokens (usage)` : 'Reply tokens (usage)']);
      }
      e.figures.replaceChildren();
      parts.forEach(([cls, text, title], i) => {
        if (i > 0) e.figures.append(' · ');
        const span = document.createElement('span');
        span.className = `figure-${cls}`;
        span.title = title;
        span.textContent = text;
        e.figures.appendChild(span);
      });
    }
  }

  refreshError(m) {
    const e = m.el;
    if (!e || !e.error) return;
    const err = m.error;
    e.error.hidden = !err;
    if (!err) {
      e.error.replaceChildren();
      return;
    }
    const waitMs = err.until ? err.until - Date.now() : 0;
    const waitS = Math.ceil(waitMs / 1000);
    let text = err.message;
    if (err.code === 'rate_limited') {
      text = waitS > 0 ? `Too many messages: try again in ${waitS} s.` : 'Too many messages: you can try again now.';
    } else if (err.code === 'overloaded' && waitS > 0) {
      text = `${err.message} Try again in ${waitS} s.`;
    }
    let msg = e.error.querySelector('.msg-error-text');
    let button = e.error.querySelector('button');
    if (!msg) {
      msg = document.createElement('span');
      msg.className = 'msg-error-text';
      button = document.createElement('button');
      button.type = 'button';
      button.className = 'button secondary retry';
      button.textContent = 'Retry';
      button.addEventListener('click', () => this.retry(m));
      e.error.append(msg, button);
    }
    if (msg.textContent !== text) msg.textContent = text;
    button.hidden = !m.prompt || !!m.retried;
    button.disabled = waitMs > 0;
    e.error.dataset.code = err.code;
    if (waitMs <= 0 && err.until) {
      delete err.until; // countdown done; stop ticking it
      msg.textContent = err.code === 'rate_limited' ? 'Too many messages: you can try again now.' : err.message;
    }
  }

  // Sentences go to the live region as they complete, the rest when the reply ends. Only
  // the new text is searched, and the reply itself is never read back here: regex or slice
  // on the growing reply would flatten it on every token, quadratic for a long reply.
  announce(m, chunk, final) {
    let state = this.speech.get(m);
    if (!state) {
      state = { parts: [], last: '' };
      this.speech.set(m, state);
    }
    let cut = -1;
    if (chunk) {
      const probe = state.last + chunk;
      const re = /[.!?…:](?=\s)|\n/g;
      let match;
      while ((match = re.exec(probe))) cut = match.index + match[0].length - state.last.length;
      state.last = chunk.slice(-1);
    }
    if (final) {
      state.parts.push(chunk);
      this.speak(state.parts.join(''));
      this.speech.delete(m);
    } else if (cut >= 0) {
      state.parts.push(chunk.slice(0, cut));
      this.speak(state.parts.join(''));
      state.parts = [chunk.slice(cut)];
    } else {
      state.parts.push(chunk);
    }
  }

  speak(text) {
    const words = speakable(text.length > MAX_SPOKEN_CHARS ? `${text.slice(0, MAX_SPOKEN_CHARS)} …` : text);
    if (!words) return;
    const p = document.createElement('p');
    p.textContent = words;
    this.ui.live.appendChild(p);
    while (this.ui.live.childElementCount > 40) this.ui.live.firstElementChild.remove();
  }

  /** A plain-data view of the conversation, for tests and debugging. */
  snapshot() {
    return {
      session: this.sessionId,
      lastSeq: this.lastSeq,
      connected: this.connected,
      connects: this.connects,
      streaming: this.streaming,
      msgs: this.msgs.map(({ el, ...rest }) => rest),
    };
  }
}

window.__chat = new ChatClient();
