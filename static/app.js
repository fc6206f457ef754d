// The tokenrelay chat page: one WebSocket to the relay, speaking PROTOCOL.md version 1.
//
// Model output only ever reaches the page through markdown.js (DOM nodes, never innerHTML)
// or textContent. The session id lives in the URL fragment (#session=…), so the same
// conversation opens in another tab or on another device, and in sessionStorage for a
// reload of the address without it. Several pages may share a session, and each receives
// every frame (PROTOCOL.md section 3); a page that opens with nothing on screen draws the
// conversation from the relay's history and the log frames after it (section 4).

import { renderMarkdown } from './markdown.js';

const STORE_SESSION = 'tokenrelay.session';
const FRAGMENT_KEY = 'session';
// What a session id may look like (section 2: 1–128 characters, URL-safe): anything else
// in the fragment is not ours.
const SESSION_ID = /^[A-Za-z0-9._~-]{1,128}$/;
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
// The relay's default --max-message-bytes (section 7). A larger frame makes the relay close
// the connection (1009), and a browser that is still sending it may only see the reset, so
// the page refuses it up front. A relay configured smaller is handled in onClosed().
const MAX_MESSAGE_BYTES = 65536;
// Images go as data: URLs in the chat's content parts (section 2); the relay's default
// --max-image-bytes bounds their text in one message.
const MAX_IMAGE_BYTES = 8 * 1024 * 1024;
const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);
// What the page shows as an image: a data: URL of one of those types, or an https: URL.
const SHOWABLE_IMAGE = /^(?:data:image\/(?:png|jpeg|gif|webp);base64,|https:\/\/)/i;
const LARGE_REPLY_CHARS = 50000;
const LARGE_REPLY_RENDER_MS = 250;
const MAX_SPOKEN_CHARS = 2000;
// Close codes of section 3: this connection was the session's oldest past the relay's
// --max-connections-per-session; this connection fell behind what the log holds.
const CLOSE_TAKEN_OVER = 4001;
const CLOSE_TOO_SLOW = 4002;

// Errors that refuse a chat outright: no stream_end will follow them (section 2).
const REFUSALS = new Set(['bad_json', 'bad_request', 'unknown_type', 'busy', 'rate_limited', 'overloaded']);
// Frames of the session's log (and the errors kept in it): while the page waits for the
// history answer they are held back, to be applied above its through_seq (section 4).
const LOG_FRAMES = new Set(['user', 'token', 'reasoning', 'refusal', 'stream_end', 'error']);
const END_NOTES = {
  length: 'The reply hit the length limit.',
  cancelled: 'Stopped.',
  tool_calls: 'The model asked to call a tool, which this page cannot run.',
  content_filter: "The provider's content filter stopped the reply.",
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

// Sizes as the attachment previews and the image limit show them.
function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  // One decimal, without a trailing ".0": "1.2 MB", "8 MB", "12 KB".
  if (bytes < 1024 * 1024) return `${Number((bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0))} KB`;
  return `${Number((bytes / (1024 * 1024)).toFixed(1))} MB`;
}

// A message's content as the relay relays it: a string, or OpenAI content parts (section
// 2). The text parts joined, and one entry per image part: its URL when the page can show
// it, else '' (a placeholder).
function splitContent(content) {
  if (typeof content === 'string') return { text: content, images: [] };
  const texts = [];
  const images = [];
  if (Array.isArray(content)) {
    for (const p of content) {
      if (!p || typeof p !== 'object') continue;
      if (p.type === 'text' && typeof p.text === 'string') {
        texts.push(p.text);
      } else if (p.type === 'image_url') {
        const url = typeof p.image_url === 'string' ? p.image_url : p.image_url && p.image_url.url;
        images.push(typeof url === 'string' && SHOWABLE_IMAGE.test(url) ? url : '');
      }
    }
  }
  return { text: texts.join('\n'), images };
}

// A user message of the conversation; `images` only when it had some.
function userMessage(id, content, echoed) {
  const { text, images } = splitContent(content);
  const u = { role: 'user', id, content: text, echoed };
  if (images.length) u.images = images;
  return u;
}

// The decoded size of a data: URL's bytes (for an image handed back to the composer).
function dataUrlBytes(url) {
  const comma = url.indexOf(',');
  return url.startsWith('data:') && comma > 0 ? Math.floor(((url.length - comma - 1) * 3) / 4) : null;
}

// An assistant message's content as text: a string, or OpenAI content parts; images show
// as a placeholder.
function plainText(content) {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((p) => {
    if (p && p.type === 'text' && typeof p.text === 'string') return p.text;
    return p && p.type === 'image_url' ? '[image]' : '';
  }).filter(Boolean).join('\n');
}

function sessionFromFragment() {
  const id = new URLSearchParams(location.hash.slice(1)).get(FRAGMENT_KEY);
  return id && SESSION_ID.test(id) ? id : null;
}

function sessionFromStorage() {
  try {
    const id = sessionStorage.getItem(STORE_SESSION);
    return id && SESSION_ID.test(id) ? id : null;
  } catch {
    return null;
  }
}

class ChatClient {
  constructor() {
    this.ws = null;
    // open: this socket has its session frame, so frames may be sent. connected: the
    // conversation on screen has caught up with the session too, so chats may be sent.
    this.open = false;
    this.connected = false;
    this.sessionId = sessionFromFragment() || sessionFromStorage();
    // synced: the screen shows this session's conversation up to lastSeq, so a reconnect
    // resumes from there; until then a connection loads it from history.
    this.synced = false;
    this.lastSeq = 0;
    this.historyWait = null; // { frames, redraw, firstSeq, relaySeq } while history is asked for
    this.catchUpTo = 0; // the relay's last_seq when it was asked for history
    this.lastSessionFrame = null;
    this.connects = 0;
    this.attempt = 0;
    this.msgs = [];
    this.ownChats = new Set(); // ids of the chats this page sent
    this.retries = new Set(); // ids of Retry chats: their question is the bubble they retry
    this.streaming = null; // id of the reply whose stream is open
    this.stopping = false;
    this.pendingCancel = null;
    this.pings = new Map(); // client timestamp -> performance.now() when sent
    this.rttMs = null;
    this.reconnectAt = 0;
    this.reconnectWhy = '';
    this.reconnectTimer = null;
    this.handshakeTimer = null;
    this.historyTimer = null;
    this.pingTimer = null;
    this.renderQueued = new Set();
    this.speech = new Map(); // reply -> text not yet announced to screen readers
    this.renderFrame = 0;
    this.lastActivity = performance.now();
    this.lastFrameAt = 0;
    this.takenOver = false;
    this.attachments = []; // images for the next message: { name, size, url (once read), el }

    this.ui = {
      messages: $('messages'),
      empty: $('empty'),
      chat: $('chat'),
      input: $('input'),
      attach: $('attach'),
      fileInput: $('file-input'),
      attachments: $('attachments'),
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
    this.updateComposer();
    setInterval(() => this.tick(), 1000);
    this.connect();
  }

  // ---- where the session id lives ----------------------------------------------------

  // The fragment makes the address of this tab the address of the conversation; the
  // storage keeps it for a reload of an address without one.
  saveSession() {
    try {
      if (this.sessionId) sessionStorage.setItem(STORE_SESSION, this.sessionId);
      else sessionStorage.removeItem(STORE_SESSION);
    } catch {
      // Storage unavailable: the fragment still carries the session.
    }
    const u = new URL(location.href);
    u.hash = this.sessionId ? `${FRAGMENT_KEY}=${encodeURIComponent(this.sessionId)}` : '';
    // replaceState, not location.hash: no history entry, no hashchange of our own.
    if (u.href !== location.href) history.replaceState(history.state, '', u.href);
  }

  // ---- connection --------------------------------------------------------------------

  url() {
    const u = new URL('ws', location.href);
    u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    u.search = '';
    u.hash = '';
    if (this.sessionId) {
      u.searchParams.set('session', this.sessionId);
      u.searchParams.set('last_seq', String(this.synced ? this.lastSeq : 0));
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
    this.open = false;
    this.connected = false;
    this.handshakeTimer = setTimeout(() => {
      if (this.ws === ws && !this.open) this.abandonSocket();
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
    this.open = false;
    this.connected = false;
    clearTimeout(this.handshakeTimer);
    clearTimeout(this.historyTimer);
    clearInterval(this.pingTimer);
    this.pings.clear();
    // Frames held back for a history answer were never applied: the next connection
    // asks again from the same place.
    this.historyWait = null;
    this.updateComposer();
    if (code === 1009 && this.streaming) {
      // The relay closes on a frame over its size limit (section 2); the chat never started.
      const m = this.findReply(this.streaming);
      if (m && !m.content && !m.reasoning) {
        const { text, images } = m.prompt != null ? splitContent(m.prompt) : { text: '', images: [] };
        m.status = 'error';
        m.error = {
          code: 'too_large',
          message: images.length
            ? 'This message is larger than the relay accepts. Shorten it or remove an image, and send it again.'
            : 'This message is larger than the relay accepts. Shorten it and send it again.',
        };
        // Retrying the same message would fail the same way: hand it back for editing instead.
        if (!this.ui.input.value && text) this.ui.input.value = text;
        if (!this.attachments.length) for (const url of images) if (url.startsWith('data:')) this.attachUrl(url);
        m.prompt = null;
        this.finishStreaming();
        this.refresh(m);
      }
    }
    if (code === CLOSE_TAKEN_OVER) {
      // The relay closed the session's oldest connection to make room for a newer one
      // (section 3). Coming back on our own would close another tab in turn, and that
      // one would do the same: only the user's click brings this tab back.
      this.takenOver = true;
      this.setConn('taken', 'Closed here: this chat is open in too many tabs');
      this.ui.reconnectNow.textContent = 'Use it here';
      this.ui.reconnectNow.hidden = false;
      return;
    }
    // Too slow (4002): the relay replays from the oldest frame it still holds, and
    // onSession redraws from history when that leaves a gap.
    this.scheduleReconnect(code === CLOSE_TOO_SLOW ? 'Fell behind' : '');
  }

  scheduleReconnect(why = '') {
    this.attempt++;
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(this.attempt, 16));
    const delay = Math.floor(Math.random() * ceiling);
    this.reconnectAt = performance.now() + delay;
    this.reconnectWhy = why;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
    this.ui.reconnectNow.textContent = 'Reconnect now';
    this.ui.reconnectNow.hidden = false;
    this.showReconnectCountdown();
  }

  showReconnectCountdown() {
    if (!this.reconnectTimer) return;
    const left = Math.max(0, Math.ceil((this.reconnectAt - performance.now()) / 1000));
    const why = navigator.onLine === false ? 'Offline' : this.reconnectWhy || 'Disconnected';
    this.setConn('reconnecting', `${why}, reconnecting`, left > 0 ? `in ${left} s` : '…');
  }

  setConn(state, text, detail = '') {
    this.ui.conn.dataset.state = state;
    if (this.ui.connText.textContent !== text) this.ui.connText.textContent = text;
    if (this.ui.connCountdown.textContent !== detail) this.ui.connCountdown.textContent = detail;
    if (state === 'connected' || state === 'connecting') this.ui.reconnectNow.hidden = true;
  }

  send(frame) {
    if (!this.ws || !this.open) return false;
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
    if (this.historyWait && LOG_FRAMES.has(f.type)) {
      // A relay that does not know `history` says so; then the log alone is the record.
      if (f.type === 'error' && f.code === 'unknown_type' && f.id == null) {
        this.onHistory({ messages: [], through_seq: 0 });
      } else {
        this.historyWait.frames.push(f);
      }
      return;
    }
    this.apply(f);
    this.checkCaughtUp();
  }

  apply(f) {
    switch (f.type) {
      case 'session':
        return this.onSession(f);
      case 'history':
        return this.onHistory(f);
      case 'user':
        return this.onUser(f);
      case 'token':
        return this.onText(f, 'content');
      case 'reasoning':
        return this.onText(f, 'reasoning');
      case 'refusal':
        return this.onText(f, 'refusal');
      case 'stream_end':
        return this.onStreamEnd(f);
      case 'pong':
        return this.onPong(f);
      case 'error':
        return this.onError(f);
      default:
        // Unknown frame types are for newer clients (section 2: both sides can grow); one
        // with a seq still counts, so a resume does not ask for it again.
        if (Number.isFinite(f.seq)) this.acceptSeq(f);
    }
  }

  onSession(f) {
    clearTimeout(this.handshakeTimer);
    this.open = true;
    this.connects++;
    this.attempt = 0;
    this.lastSessionFrame = f;
    this.lastActivity = performance.now();
    const previous = this.sessionId;
    const relaySeq = Number.isInteger(f.last_seq) ? f.last_seq : 0;
    const firstSeq = Number.isInteger(f.first_seq) ? f.first_seq : 0;
    this.catchUpTo = 0;
    if (f.resumed && f.session === previous) {
      // first_seq is the oldest frame the relay still holds; below it is gone for good.
      const gap = firstSeq > this.lastSeq + 1 && relaySeq >= firstSeq;
      if (!this.synced || gap) this.askHistory(firstSeq, relaySeq, this.synced);
    } else {
      this.sessionLost(previous);
      this.sessionId = f.session;
      this.lastSeq = 0;
      this.synced = true;
    }
    this.saveSession();
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.pingTick(), PING_INTERVAL_MS);
    this.sendPing();
    if (this.historyWait) this.setConn('connecting', 'Loading the conversation…');
    this.updateComposer();
  }

  // Section 4: the completed turns come from history, everything after its through_seq
  // from the log frames, which are held back until the answer is here.
  askHistory(firstSeq, relaySeq, redraw) {
    const ws = this.ws;
    this.historyWait = { frames: [], redraw, firstSeq, relaySeq };
    this.catchUpTo = firstSeq > 0 && relaySeq >= firstSeq ? relaySeq : 0;
    this.send({ type: 'history' });
    clearTimeout(this.historyTimer);
    this.historyTimer = setTimeout(() => {
      if (this.ws === ws && this.historyWait) this.abandonSocket();
    }, HANDSHAKE_TIMEOUT_MS);
  }

  onHistory(f) {
    const wait = this.historyWait;
    if (!wait) return; // not asked for on this connection
    clearTimeout(this.historyTimer);
    this.historyWait = null;
    const through = Number.isInteger(f.through_seq) && f.through_seq > 0 ? f.through_seq : 0;
    // A redraw after a gap keeps the screen when the gap lies within the running reply:
    // every completed turn is on it already.
    if (!wait.redraw || through > this.lastSeq) {
      this.clearScreen();
      this.drawHistory(Array.isArray(f.messages) ? f.messages : []);
      this.lastSeq = through;
    }
    this.synced = true;
    if (wait.firstSeq > this.lastSeq + 1 && wait.relaySeq >= wait.firstSeq) {
      this.notice('Part of the conversation could not be recovered after the reconnect.');
    }
    for (const frame of wait.frames) this.apply(frame);
    this.scrollToBottom(true);
    this.checkCaughtUp();
  }

  drawHistory(messages) {
    for (const h of messages) {
      if (!h || (h.role !== 'user' && h.role !== 'assistant')) continue;
      const id = h.id != null ? String(h.id) : randomId('h');
      const m = h.role === 'user'
        ? userMessage(id, h.content, true)
        : { role: 'assistant', id, prompt: null, content: plainText(h.content), reasoning: '', refusal: '', status: 'done',
            sentAt: null, firstAt: null, endAt: null };
      this.msgs.push(m);
      this.mount(m);
    }
  }

  // Live once the frames the relay held when this page asked for history are applied: a
  // reply running then is on screen, and a chat sent now comes after it.
  checkCaughtUp() {
    if (this.connected || !this.open || this.historyWait || this.lastSeq < this.catchUpTo) return;
    this.connected = true;
    this.synced = true;
    this.catchUpTo = 0;
    this.lastActivity = performance.now();
    this.setConn('connected', 'Connected');
    if (this.ui.composerError.dataset.kind === 'offline') this.composerError('');
    if (this.pendingCancel && this.pendingCancel === this.streaming) {
      this.send({ type: 'cancel', id: this.pendingCancel });
    }
    this.pendingCancel = null;
    this.updateComposer();
  }

  // The relay no longer knows the session (expired while we were away, or a relay
  // restart): whatever was streaming is lost, and the model will not see the earlier turns.
  sessionLost(previous) {
    if (!previous) return;
    const m = this.streaming && this.findReply(this.streaming);
    if (m) {
      m.status = 'error';
      m.error = { code: 'session_lost', message: 'The connection dropped for too long and the reply was lost.' };
      this.finishStreaming();
      this.refresh(m);
    }
    if (this.msgs.some((x) => x.role !== 'notice')) {
      this.notice('Reconnected with a new session: the relay had forgotten the old one, so earlier messages are not part of the conversation any more.');
    } else if (!this.synced) {
      this.notice('The relay no longer has this conversation (it expired, or the relay restarted): this is a new one.');
    }
  }

  acceptSeq(f) {
    if (!Number.isFinite(f.seq)) return true;
    // Seq numbers grow by one per user message, token or end marker across the session
    // (section 2): anything at or below what we already hold is a replayed duplicate.
    if (f.seq <= this.lastSeq) return false;
    this.lastSeq = f.seq;
    return true;
  }

  // A chat the relay accepted, from this page or another one on the session (section 2).
  // This page's own message is on screen already and keeps its place.
  onUser(f) {
    if (!this.acceptSeq(f)) return;
    const id = f.id != null ? String(f.id) : randomId('m');
    this.lastActivity = performance.now();
    const stick = this.nearBottom();
    const own = this.findUser(id);
    if (own) {
      own.echoed = true;
    } else if (!this.retries.has(id)) {
      const u = userMessage(id, f.content, true);
      this.msgs.push(u);
      this.mount(u);
      this.ui.live.replaceChildren();
    }
    if (!this.findReply(id)) this.addReply(id, null);
    if (!this.streaming) {
      this.streaming = id;
      this.stopping = false;
    }
    this.updateComposer();
    if (stick) this.scrollToBottom(true);
  }

  onText(f, field) {
    if (typeof f.content !== 'string' || !this.acceptSeq(f)) return;
    const m = this.replyFor(f.id);
    if (!m) return;
    this.lastActivity = performance.now();
    const wasEmpty = !m.content && !m.reasoning && !m.refusal;
    m[field] += f.content;
    if (field === 'content' && m.firstAt == null) m.firstAt = performance.now();
    if (wasEmpty || field !== 'content') this.refresh(m);
    this.queueRender(m);
    if (field === 'content') this.announce(m, f.content, false);
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
    let m = f.id ? this.findReply(String(f.id)) : null;
    // The log keeps an error just before its stream_end (section 2), so a resume replays
    // it: one for a reply that has ended, or (while catching up) for a reply this page
    // does not show, was told already.
    if (m && m.status !== 'streaming') return;
    if (!m && f.id && !this.connected) return;
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
    // A refused chat of ours may have raced one from another tab, whose reply runs on.
    if (REFUSALS.has(code) && !this.streaming) {
      const running = this.msgs.findLast((x) => x.role === 'assistant' && x.status === 'streaming' && !x.error);
      if (running) {
        this.streaming = running.id;
        this.updateComposer();
      }
    }
    this.refresh(m);
  }

  findUser(id) {
    for (let i = this.msgs.length - 1; i >= 0; i--) {
      const m = this.msgs[i];
      if (m.role === 'user' && m.id === id) return m;
    }
    return null;
  }

  findReply(id) {
    for (let i = this.msgs.length - 1; i >= 0; i--) {
      const m = this.msgs[i];
      if (m.role === 'assistant' && m.id === id) return m;
    }
    return null;
  }

  // The reply a frame belongs to; a frame for a message this page never saw (its user
  // frame is older than the log holds) gets a bubble of its own.
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
    const images = this.attachments;
    const hasText = !!text.trim();
    if ((!hasText && !images.length) || this.streaming) return;
    const bytes = new TextEncoder().encode(JSON.stringify({ type: 'chat', id: randomId('m'), content: hasText ? text : '' })).length;
    if (bytes > MAX_MESSAGE_BYTES) {
      this.composerError(`This message is ${Math.ceil(bytes / 1024)} KiB; the relay takes at most ${MAX_MESSAGE_BYTES / 1024} KiB. Shorten it and send it again.`);
      return;
    }
    if (images.some((a) => !a.url)) {
      this.composerError('An image is still being read: send again in a moment.');
      return;
    }
    if (this.imageTotalError()) return;
    if (!this.connected) {
      this.composerError('Not connected yet: your message stays here until the relay is back.', 'offline');
      return;
    }
    this.composerError('');
    // With images, the content is OpenAI content parts: the text first (if any), then one
    // part per image (section 2).
    const content = images.length
      ? [...(hasText ? [{ type: 'text', text }] : []),
         ...images.map((a) => ({ type: 'image_url', image_url: { url: a.url } }))]
      : text;
    if (this.startChat(content, true)) {
      this.ui.input.value = '';
      this.autoGrow();
      this.clearAttachments();
    }
  }

  // The question shows at once; the relay's user frame for it (same id) confirms it
  // rather than drawing it again (section 4). `content` is a string or content parts.
  startChat(content, showUser) {
    const id = randomId('m');
    if (!this.send({ type: 'chat', id, content })) return false;
    this.ownChats.add(id);
    if (showUser) {
      const u = userMessage(id, content, false);
      this.msgs.push(u);
      this.mount(u);
    }
    const m = this.addReply(id, content);
    m.sentAt = performance.now();
    this.streaming = id;
    this.stopping = false;
    this.lastActivity = performance.now();
    this.ui.live.replaceChildren();
    this.updateComposer();
    this.scrollToBottom(true);
    return true;
  }

  addReply(id, prompt) {
    const m = { role: 'assistant', id, prompt, content: '', reasoning: '', refusal: '', status: 'streaming',
                sentAt: null, firstAt: null, endAt: null };
    this.msgs.push(m);
    this.mount(m);
    return m;
  }

  stop() {
    if (!this.streaming || this.stopping) return;
    this.stopping = true;
    // Sent now if we can, else right after the reconnect (the generation keeps running on
    // the relay while we are away, section 3). Any tab of the session may stop its reply.
    if (!this.send({ type: 'cancel', id: this.streaming })) this.pendingCancel = this.streaming;
    this.updateComposer();
  }

  retry(m) {
    if (this.streaming || !this.connected || !m.prompt) return;
    if (m.error && m.error.until && Date.now() < m.error.until) return;
    if (this.startChat(m.prompt, false)) {
      this.retries.add(this.streaming);
      m.retried = true;
      this.refresh(m);
    }
  }

  newChat() {
    this.openSession(null);
    this.ui.input.focus();
  }

  // Shows another conversation: a fresh one (id null), or the one the fragment names.
  openSession(id) {
    // A reply this page asked for is abandoned with it; one another tab asked for runs on
    // for that tab.
    if (this.streaming && this.ownChats.has(this.streaming)) this.send({ type: 'cancel', id: this.streaming });
    this.detachSocket();
    this.open = false;
    this.connected = false;
    clearInterval(this.pingTimer);
    clearTimeout(this.historyTimer);
    clearTimeout(this.handshakeTimer);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.historyWait = null;
    this.ownChats.clear();
    this.sessionId = id;
    this.lastSeq = 0;
    this.synced = false;
    this.clearScreen();
    this.saveSession();
    this.attempt = 0;
    this.connect();
    this.updateComposer();
  }

  clearScreen() {
    this.msgs = [];
    this.retries.clear();
    this.streaming = null;
    this.stopping = false;
    this.pendingCancel = null;
    this.renderQueued.clear();
    this.speech.clear();
    for (const node of [...this.ui.messages.children]) if (node !== this.ui.empty) node.remove();
    this.ui.empty.hidden = false;
    this.ui.live.replaceChildren();
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
    if (!this.open) this.showReconnectCountdown();
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
      }
    }
    // A ping with nothing at all received since it went out, for longer than the timeout:
    // the connection is half-open (a dead NAT entry, a sleeping laptop), so find a live one.
    const now = performance.now();
    if (this.open && [...this.pings.values()].some((sent) => sent > this.lastFrameAt && now - sent > PONG_TIMEOUT_MS)) {
      this.abandonSocket();
    }
  }

  // ---- attached images -------------------------------------------------------------

  // Files from the picker or the clipboard: each shows as a preview at once and is read
  // into a data: URL, which is what the chat sends.
  addFiles(files) {
    const refused = [];
    for (const file of files) {
      if (!IMAGE_TYPES.has(file.type)) {
        refused.push(file.name || 'The pasted file');
        continue;
      }
      const a = { name: file.name || '', size: file.size, url: null, el: null };
      this.attachments.push(a);
      this.mountAttachment(a);
      const reader = new FileReader();
      reader.onload = () => {
        if (!this.attachments.includes(a)) return; // removed while it was read
        if (typeof reader.result !== 'string' || !reader.result.startsWith('data:')) {
          this.removeAttachment(a, false);
          this.composerError(`${a.name || 'The image'} could not be read.`);
          return;
        }
        a.url = reader.result;
        this.showAttachment(a);
        this.imageTotalError();
      };
      reader.onerror = () => {
        if (!this.attachments.includes(a)) return;
        this.removeAttachment(a, false);
        this.composerError(`${a.name || 'The image'} could not be read.`);
      };
      reader.readAsDataURL(file);
    }
    if (refused.length) {
      this.composerError(`${refused.join(', ')}: not a PNG, JPEG, GIF or WebP image.`);
    }
    this.relabelAttachments();
  }

  // An image that is a data: URL already (handed back after the relay refused a message).
  attachUrl(url) {
    const a = { name: '', size: dataUrlBytes(url), url, el: null };
    this.attachments.push(a);
    this.mountAttachment(a);
    this.showAttachment(a);
    this.relabelAttachments();
  }

  mountAttachment(a) {
    const li = document.createElement('li');
    li.className = 'attachment';
    li.dataset.state = 'loading';
    const thumb = document.createElement('img');
    thumb.className = 'attachment-thumb';
    thumb.decoding = 'async';
    const size = document.createElement('span');
    size.className = 'attachment-size';
    size.textContent = a.size != null ? formatSize(a.size) : '';
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'attachment-remove';
    remove.textContent = '×';
    remove.addEventListener('click', () => this.removeAttachment(a, true));
    li.append(thumb, size, remove);
    a.el = { li, thumb, size, remove };
    this.ui.attachments.appendChild(li);
    this.ui.attachments.hidden = false;
  }

  showAttachment(a) {
    a.el.thumb.src = a.url;
    a.el.li.dataset.state = 'ready';
  }

  // Labels by position ("image 2"), so they stay right as images come and go.
  relabelAttachments() {
    this.attachments.forEach((a, i) => {
      const what = `image ${i + 1}${a.name ? ` (${a.name})` : ''}`;
      a.el.thumb.alt = `Attached ${what}`;
      a.el.remove.setAttribute('aria-label', `Remove ${what}`);
      a.el.remove.title = `Remove ${what}`;
    });
    this.ui.attachments.hidden = this.attachments.length === 0;
  }

  removeAttachment(a, byUser) {
    const at = this.attachments.indexOf(a);
    if (at < 0) return;
    const hadFocus = a.el.li.contains(document.activeElement);
    this.attachments.splice(at, 1);
    a.el.li.remove();
    this.relabelAttachments();
    if (this.ui.composerError.dataset.kind === 'images' && !this.imageTotalError()) this.composerError('');
    // Focus goes to the next image's remove button, or the message box after the last one.
    if (byUser && hadFocus) {
      const next = this.attachments[Math.min(at, this.attachments.length - 1)];
      (next ? next.el.remove : this.ui.input).focus();
    }
  }

  clearAttachments() {
    this.attachments = [];
    this.ui.attachments.replaceChildren();
    this.ui.attachments.hidden = true;
    if (this.ui.composerError.dataset.kind === 'images') this.composerError('');
  }

  // The images' data: URLs together must stay within the relay's image limit; says so
  // and returns true when they do not.
  imageTotalError() {
    const total = this.attachments.reduce((n, a) => n + (a.url ? a.url.length : 0), 0);
    if (total <= MAX_IMAGE_BYTES) return false;
    this.composerError(`These images come to ${formatSize(total)} once encoded for sending; the relay takes at most ` +
                       `${formatSize(MAX_IMAGE_BYTES)} of images in one message. Remove one and send again.`, 'images');
    return true;
  }

  // ---- DOM ---------------------------------------------------------------------------

  bindUi() {
    const { input, composer, stop, newChat, reconnectNow, attach, fileInput } = this.ui;
    attach.addEventListener('click', () => fileInput.click());
    fileInput.addEventListener('change', () => {
      this.addFiles([...fileInput.files]);
      fileInput.value = ''; // the same file may be picked again
    });
    // Images pasted into the message box are attached; pasted text is pasted as usual.
    input.addEventListener('paste', (ev) => {
      const data = ev.clipboardData;
      if (!data) return;
      let files = [...(data.items || [])].filter((item) => item.kind === 'file')
        .map((item) => item.getAsFile()).filter(Boolean);
      if (!files.length) files = [...(data.files || [])];
      files = files.filter((f) => f.type.startsWith('image/'));
      if (!files.length) return;
      if (![...data.types].includes('text/plain')) ev.preventDefault();
      this.addFiles(files);
    });
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
    // An address with another session pasted into this tab's location bar opens that
    // conversation; one whose fragment was cleared gets this tab's back.
    window.addEventListener('hashchange', () => {
      const id = sessionFromFragment();
      if (id && id !== this.sessionId) this.openSession(id);
      else if (!id && this.sessionId) this.saveSession();
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
    const { input, send, stop, attach } = this.ui;
    const busy = !!this.streaming;
    const stopHadFocus = document.activeElement === stop;
    const inputHadFocus = document.activeElement === input;
    input.disabled = busy;
    attach.disabled = busy;
    send.hidden = busy;
    stop.hidden = !busy;
    stop.disabled = this.stopping;
    stop.textContent = this.stopping ? 'Stopping…' : 'Stop';
    send.disabled = !this.connected;
    send.title = this.connected ? '' : this.open ? 'Loading the conversation' : 'Waiting for the connection';
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
  }

  mount(m) {
    this.ui.empty.hidden = true;
    const article = document.createElement('article');
    article.className = `msg ${m.role}`;
    m.el = { root: article };
    if (m.role === 'user') {
      article.setAttribute('aria-label', 'You');
      if (m.images) {
        const gallery = document.createElement('div');
        gallery.className = 'user-images';
        m.images.forEach((url, i) => {
          const label = m.images.length > 1 ? `attached image ${i + 1}` : 'attached image';
          if (url) {
            const img = document.createElement('img');
            img.className = 'user-image';
            img.alt = label;
            img.decoding = 'async';
            img.referrerPolicy = 'no-referrer';
            img.src = url;
            gallery.appendChild(img);
          } else {
            // An image part whose URL this page does not load.
            const missing = document.createElement('span');
            missing.className = 'user-image-missing';
            missing.textContent = `[${label}]`;
            gallery.appendChild(missing);
          }
        });
        article.appendChild(gallery);
      }
      const body = document.createElement('div');
      body.className = 'body plain';
      body.textContent = m.content;
      body.hidden = !m.content && !!m.images;
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
      // The model declining to answer: shown as such, never as the answer.
      const refusal = document.createElement('div');
      refusal.className = 'refusal';
      refusal.setAttribute('role', 'note');
      const refusalLabel = document.createElement('strong');
      refusalLabel.textContent = 'The model declined: ';
      const refusalBody = document.createElement('span');
      refusalBody.className = 'refusal-body';
      refusal.append(refusalLabel, refusalBody);
      refusal.hidden = true;

      article.append(thinking, typing, refusal, body, note, error, figures);
      Object.assign(m.el, {
        thinking, summary, thinkingBody, typing, refusal, refusalBody, body, note, error, figures,
      });
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
    if (m.refusal) m.el.refusalBody.textContent = m.refusal;
  }

  refresh(m) {
    const e = m.el;
    if (!e || m.role !== 'assistant') return;
    const streaming = m.status === 'streaming';
    e.root.dataset.status = m.status;
    e.root.setAttribute('aria-busy', streaming ? 'true' : 'false');
    e.typing.hidden = !(streaming && !m.content && !m.reasoning && !m.refusal && !m.error);
    e.thinking.hidden = !m.reasoning;
    e.refusal.hidden = !m.refusal;
    if (m.refusal) e.refusalBody.textContent = m.refusal;
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
      open: this.open,
      connected: this.connected,
      synced: this.synced,
      connects: this.connects,
      streaming: this.streaming,
      msgs: this.msgs.map(({ el, ...rest }) => rest),
    };
  }
}

window.__chat = new ChatClient();
