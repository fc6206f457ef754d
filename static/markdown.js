// Safe Markdown for model output.
//
// The text is parsed here and turned into DOM nodes with createElement/createTextNode only:
// nothing from the model ever reaches innerHTML, so a reply containing `<script>` or
// `<img onerror=…>` is shown as those characters. Raw HTML is not a Markdown feature we
// support; links are kept only for http, https and mailto URLs.
//
// renderMarkdown() is called again and again while a reply streams. Each top-level block
// remembers the source it was built from, and blocks whose source did not change keep their
// DOM nodes, so only the tail of the reply is rebuilt (text selections and focus in earlier
// blocks survive).

const SAFE_SCHEMES = new Set(['http:', 'https:', 'mailto:']);
const MAX_INLINE_DEPTH = 12;
// Searches for a closing delimiter stop after this many characters, so text full of
// unmatched `*` or backticks stays linear enough to re-render on every frame.
const MAX_EMPHASIS_SPAN = 4000;
const MAX_CODE_SPAN = 20000;

const FENCE_OPEN = /^( {0,3})(`{3,}|~{3,})(.*)$/;
const FENCE_CLOSE = /^ {0,3}(`{3,}|~{3,})[ \t]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const LIST_ITEM = /^( *)([-*+]|\d{1,9}[.)])(?:([ \t]+)(.*))?$/;
const TABLE_SEP = /^ {0,3}\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;
const ASCII_PUNCT = /[!-/:-@[-`{-~]/;

/** The URL when its scheme is allowed, else null. Relative URLs are refused: a reply has no
 *  base it could sensibly be relative to. */
export function safeUrl(raw) {
  let url;
  try {
    url = new URL(raw.trim());
  } catch {
    return null;
  }
  return SAFE_SCHEMES.has(url.protocol) ? url.href : null;
}

/** Renders `text` as Markdown into `container`, reusing unchanged leading blocks. */
export function renderMarkdown(text, container) {
  const blocks = parseBlocks(text.replace(/\r\n?/g, '\n').split('\n'));
  let keep = 0;
  const children = container.children;
  while (keep < blocks.length && keep < children.length && children[keep].mdSource === blocks[keep].src) {
    keep++;
  }
  while (container.lastChild && container.children.length > keep) container.lastChild.remove();
  for (let b = keep; b < blocks.length; b++) {
    const node = renderBlock(blocks[b]);
    node.mdSource = blocks[b].src;
    container.appendChild(node);
  }
}

/** Copies text to the clipboard; resolves true when it worked. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Clipboard API missing (insecure context) or refused: fall back to a selection copy.
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.className = 'offscreen';
    document.body.appendChild(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    area.remove();
    return ok;
  }
}

// ---------------------------------------------------------------------------------------
// Blocks

function isBlank(line) {
  return /^[ \t]*$/.test(line);
}

function indentOf(line) {
  let n = 0;
  while (n < line.length && line[n] === ' ') n++;
  return n;
}

function stripIndent(line, n) {
  let i = 0;
  while (i < n && i < line.length && line[i] === ' ') i++;
  return line.slice(i);
}

function startsBlock(line, interruptingParagraph) {
  if (FENCE_OPEN.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line)) return true;
  const m = LIST_ITEM.exec(line);
  if (!m || m[1].length > 3 || m[4] === undefined || m[4] === '') return false;
  // As in CommonMark, only an ordered list starting at 1 may interrupt a paragraph, so a line
  // that merely begins with a year ("2024. was…") stays text.
  if (interruptingParagraph && /^\d/.test(m[2])) return /^1[.)]$/.test(m[2]);
  return true;
}

function parseBlocks(lines) {
  const blocks = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (isBlank(line)) {
      i++;
      continue;
    }
    let m;
    if ((m = FENCE_OPEN.exec(line)) && !(m[2][0] === '`' && m[3].includes('`'))) {
      const indent = m[1].length;
      const fence = m[2];
      const lang = (m[3].trim().split(/\s+/)[0] || '').replace(/[^\w+#.-]/g, '');
      const body = [];
      let j = i + 1;
      let closed = false;
      for (; j < lines.length; j++) {
        const c = FENCE_CLOSE.exec(lines[j]);
        if (c && c[1][0] === fence[0] && c[1].length >= fence.length) {
          closed = true;
          break;
        }
        body.push(stripIndent(lines[j], indent));
      }
      const end = closed ? j + 1 : j;
      blocks.push({ type: 'code', lang, text: body.join('\n'), src: lines.slice(i, end).join('\n') });
      i = end;
      continue;
    }
    if ((m = HEADING.exec(line))) {
      blocks.push({ type: 'heading', level: m[1].length, text: m[2] || '', src: line });
      i++;
      continue;
    }
    if (RULE.test(line)) {
      blocks.push({ type: 'rule', src: line });
      i++;
      continue;
    }
    if (QUOTE.test(line)) {
      const inner = [];
      let j = i;
      while (j < lines.length && (m = QUOTE.exec(lines[j]))) {
        inner.push(m[1]);
        j++;
      }
      blocks.push({ type: 'quote', children: parseBlocks(inner), src: lines.slice(i, j).join('\n') });
      i = j;
      continue;
    }
    if ((m = LIST_ITEM.exec(line)) && m[1].length <= 3 && m[4] !== undefined) {
      i = parseList(lines, i, blocks);
      continue;
    }
    if (i + 1 < lines.length && line.includes('|') && TABLE_SEP.test(lines[i + 1]) &&
        lines[i + 1].includes('-')) {
      const header = splitRow(line);
      const aligns = splitRow(lines[i + 1]).map((c) =>
        c.startsWith(':') && c.endsWith(':') ? 'center' : c.endsWith(':') ? 'right' : c.startsWith(':') ? 'left' : '');
      if (aligns.length === header.length) {
        let j = i + 2;
        const rows = [];
        while (j < lines.length && !isBlank(lines[j]) && lines[j].includes('|')) {
          rows.push(splitRow(lines[j]));
          j++;
        }
        blocks.push({ type: 'table', header, aligns, rows, src: lines.slice(i, j).join('\n') });
        i = j;
        continue;
      }
    }
    // Paragraph: runs until a blank line or the start of another block.
    let j = i + 1;
    while (j < lines.length && !isBlank(lines[j]) && !startsBlock(lines[j], true) &&
           !(lines[j].includes('|') && j + 1 < lines.length && TABLE_SEP.test(lines[j + 1]) &&
             lines[j + 1].includes('-'))) {
      j++;
    }
    const text = lines.slice(i, j).map((l) => l.replace(/^[ \t]+/, '')).join('\n').replace(/[ \t]+$/, '');
    blocks.push({ type: 'paragraph', text, src: lines.slice(i, j).join('\n') });
    i = j;
  }
  return blocks;
}

function parseList(lines, start, blocks) {
  const first = LIST_ITEM.exec(lines[start]);
  const ordered = /^\d/.test(first[2]);
  const marker = ordered ? first[2].slice(-1) : first[2];
  const items = [];
  let loose = false;
  let current = null;
  let contentIndent = 0;
  let sawBlank = false;
  let i = start;
  for (; i < lines.length; i++) {
    const line = lines[i];
    const m = LIST_ITEM.exec(line);
    const sameList = m && m[1].length < 2 && m[4] !== undefined &&
                     (ordered ? /^\d/.test(m[2]) && m[2].slice(-1) === marker : m[2] === marker);
    if (sameList) {
      if (current && sawBlank) loose = true;
      const gap = m[3].length > 4 ? 1 : m[3].length;
      contentIndent = m[1].length + m[2].length + gap;
      current = { lines: [m[4]] };
      if (items.length === 0 && ordered) current.start = parseInt(m[2], 10);
      items.push(current);
      sawBlank = false;
      continue;
    }
    if (isBlank(line)) {
      // A blank line continues the list only when more of it follows.
      let k = i + 1;
      while (k < lines.length && isBlank(lines[k])) k++;
      if (k >= lines.length) break;
      const next = LIST_ITEM.exec(lines[k]);
      const nextSame = next && next[1].length < 2 && next[4] !== undefined &&
                       (ordered ? /^\d/.test(next[2]) && next[2].slice(-1) === marker : next[2] === marker);
      if (!nextSame && indentOf(lines[k]) < 2) break;
      current.lines.push('');
      sawBlank = true;
      continue;
    }
    const indent = indentOf(line);
    if (indent >= 2) {
      if (sawBlank) loose = true;
      current.lines.push(stripIndent(line, Math.min(indent, contentIndent)));
      sawBlank = false;
      continue;
    }
    if (!sawBlank && !startsBlock(line, true)) {
      current.lines.push(line); // lazy continuation of the item's paragraph
      continue;
    }
    break;
  }
  const src = lines.slice(start, i).join('\n');
  blocks.push({
    type: 'list',
    ordered,
    start: items[0].start,
    loose,
    items: items.map((it) => parseBlocks(it.lines)),
    src,
  });
  return i;
}

function splitRow(line) {
  let s = line.trim();
  if (s.startsWith('|')) s = s.slice(1);
  if (s.endsWith('|') && !s.endsWith('\\|')) s = s.slice(0, -1);
  const cells = [];
  let cur = '';
  let inCode = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === '\\' && s[i + 1] === '|') {
      cur += '|';
      i++;
    } else if (ch === '`') {
      inCode = !inCode;
      cur += ch;
    } else if (ch === '|' && !inCode) {
      cells.push(cur.trim());
      cur = '';
    } else {
      cur += ch;
    }
  }
  cells.push(cur.trim());
  return cells;
}

function el(tag, className) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  return node;
}

function renderBlock(block) {
  switch (block.type) {
    case 'code':
      return renderCode(block);
    case 'heading': {
      // Model headings sit inside a message, below the page's own h1/h2 structure.
      const h = el(`h${Math.min(6, block.level + 2)}`, 'md-heading');
      renderInline(block.text, h, 0, false);
      return h;
    }
    case 'rule':
      return el('hr');
    case 'quote': {
      const q = el('blockquote');
      for (const child of block.children) q.appendChild(renderBlock(child));
      return q;
    }
    case 'list': {
      const list = el(block.ordered ? 'ol' : 'ul');
      if (block.ordered && block.start !== undefined && block.start !== 1) list.start = block.start;
      for (const itemBlocks of block.items) {
        const li = el('li');
        for (const child of itemBlocks) {
          if (!block.loose && child.type === 'paragraph') {
            renderInline(child.text, li, 0, false);
          } else {
            li.appendChild(renderBlock(child));
          }
        }
        list.appendChild(li);
      }
      return list;
    }
    case 'table': {
      const wrap = el('div', 'table-wrap');
      const table = el('table');
      const thead = el('thead');
      const headRow = el('tr');
      block.header.forEach((cell, c) => {
        const th = el('th');
        th.scope = 'col';
        if (block.aligns[c]) th.style.textAlign = block.aligns[c];
        renderInline(cell, th, 0, false);
        headRow.appendChild(th);
      });
      thead.appendChild(headRow);
      table.appendChild(thead);
      const tbody = el('tbody');
      for (const row of block.rows) {
        const tr = el('tr');
        for (let c = 0; c < block.header.length; c++) {
          const td = el('td');
          if (block.aligns[c]) td.style.textAlign = block.aligns[c];
          renderInline(row[c] ?? '', td, 0, false);
          tr.appendChild(td);
        }
        tbody.appendChild(tr);
      }
      table.appendChild(tbody);
      wrap.appendChild(table);
      return wrap;
    }
    default: {
      const p = el('p');
      renderInline(block.text, p, 0, false);
      return p;
    }
  }
}

function renderCode(block) {
  const wrap = el('div', 'codeblock');
  const bar = el('div', 'codeblock-bar');
  const lang = el('span', 'codeblock-lang');
  lang.textContent = block.lang || 'code';
  const copy = el('button', 'copy-button');
  copy.type = 'button';
  copy.textContent = 'Copy';
  copy.setAttribute('aria-label', block.lang ? `Copy ${block.lang} code` : 'Copy code');
  copy.addEventListener('click', async () => {
    const ok = await copyText(block.text);
    copy.textContent = ok ? 'Copied' : 'Copy failed';
    setTimeout(() => {
      copy.textContent = 'Copy';
    }, 1500);
  });
  bar.append(lang, copy);
  const pre = el('pre');
  pre.tabIndex = 0; // long lines scroll sideways: keyboard users need to reach the scroller
  const code = el('code');
  if (block.lang) code.className = `language-${block.lang}`;
  code.textContent = block.text;
  pre.appendChild(code);
  wrap.append(bar, pre);
  return wrap;
}

// ---------------------------------------------------------------------------------------
// Inlines

function isSpace(ch) {
  return ch === undefined || /\s/.test(ch);
}

function runLength(text, i, ch) {
  let n = 0;
  while (text[i + n] === ch) n++;
  return n;
}

function findCodeClose(text, from, run) {
  const limit = Math.min(text.length, from + MAX_CODE_SPAN);
  let i = from;
  while (i < limit) {
    const j = text.indexOf('`', i);
    if (j < 0 || j >= limit) return -1;
    const n = runLength(text, j, '`');
    if (n === run) return j;
    i = j + n;
  }
  return -1;
}

// Finds a closing delimiter `delim` for emphasis opened just before `from`: not preceded by
// whitespace, and (for `_`) not followed by a word character, so snake_case stays text.
function findEmphasisClose(text, from, delim) {
  const limit = Math.min(text.length, from + MAX_EMPHASIS_SPAN);
  let i = from + 1;
  while (i < limit) {
    const j = text.indexOf(delim, i);
    if (j < 0 || j >= limit) return -1;
    const ch = delim[0];
    const before = runLength(text, j, ch);
    const exact = delim.length === 1 ? before === 1 : before >= 2;
    const leftOk = !isSpace(text[j - 1]);
    const after = text[j + delim.length];
    const rightOk = ch !== '_' || after === undefined || !/[\p{L}\p{N}_]/u.test(after);
    if (exact && leftOk && rightOk && j > from) return j;
    i = j + Math.max(1, before);
  }
  return -1;
}

function parseLinkAt(text, i) {
  // text[i] === '['
  let depth = 0;
  let j = i;
  for (; j < text.length && j - i < MAX_EMPHASIS_SPAN; j++) {
    const ch = text[j];
    if (ch === '\\') {
      j++;
    } else if (ch === '[') {
      depth++;
    } else if (ch === ']') {
      depth--;
      if (depth === 0) break;
    }
  }
  if (depth !== 0 || text[j] !== ']' || text[j + 1] !== '(') return null;
  const label = text.slice(i + 1, j);
  let k = j + 2;
  while (text[k] === ' ') k++;
  let href = '';
  if (text[k] === '<') {
    const close = text.indexOf('>', k);
    if (close < 0) return null;
    href = text.slice(k + 1, close);
    k = close + 1;
  } else {
    let parens = 0;
    const begin = k;
    for (; k < text.length; k++) {
      const ch = text[k];
      if (ch === '\\') {
        k++;
        continue;
      }
      if (/\s/.test(ch)) break;
      if (ch === '(') parens++;
      if (ch === ')') {
        if (parens === 0) break;
        parens--;
      }
    }
    href = text.slice(begin, k);
  }
  while (text[k] === ' ') k++;
  let title = '';
  if (text[k] === '"' || text[k] === "'") {
    const quote = text[k];
    const close = text.indexOf(quote, k + 1);
    if (close < 0) return null;
    title = text.slice(k + 1, close);
    k = close + 1;
    while (text[k] === ' ') k++;
  }
  if (text[k] !== ')') return null;
  return { label, href, title, end: k + 1 };
}

function appendLink(parent, href, labelText, title, depth, renderLabel) {
  const url = safeUrl(href);
  if (!url) {
    // Not a scheme we link to (javascript:, data:, relative…): keep the words, drop the link.
    const span = el('span', 'md-unsafe-link');
    if (renderLabel) renderInline(labelText, span, depth + 1, true);
    else span.textContent = labelText;
    parent.appendChild(span);
    return;
  }
  const a = el('a');
  a.href = url;
  a.target = '_blank';
  a.rel = 'noopener noreferrer';
  if (title) a.title = title;
  if (renderLabel) renderInline(labelText, a, depth + 1, true);
  else a.textContent = labelText;
  parent.appendChild(a);
}

function renderInline(text, parent, depth, inLink) {
  if (depth > MAX_INLINE_DEPTH) {
    parent.appendChild(document.createTextNode(text));
    return;
  }
  let buf = '';
  const flush = () => {
    if (buf) {
      parent.appendChild(document.createTextNode(buf));
      buf = '';
    }
  };
  let i = 0;
  const special = /[\\\n`[!<*_~]|https?:\/\//g;
  while (i < text.length) {
    // Plain text up to the next character that could start something is copied in one go.
    special.lastIndex = i;
    const next = special.exec(text);
    const stop = next ? next.index : text.length;
    if (stop > i) {
      buf += text.slice(i, stop);
      i = stop;
      if (i >= text.length) break;
    }
    const ch = text[i];
    if (ch === '\\' && i + 1 < text.length && ASCII_PUNCT.test(text[i + 1])) {
      buf += text[i + 1];
      i += 2;
      continue;
    }
    if (ch === '\n') {
      flush();
      parent.appendChild(el('br'));
      i++;
      continue;
    }
    if (ch === '`') {
      const run = runLength(text, i, '`');
      const close = findCodeClose(text, i + run, run);
      if (close >= 0) {
        flush();
        let code = text.slice(i + run, close).replace(/\n/g, ' ');
        if (code.length > 2 && code.startsWith(' ') && code.endsWith(' ') && code.trim() !== '') {
          code = code.slice(1, -1);
        }
        const c = el('code');
        c.textContent = code;
        parent.appendChild(c);
        i = close + run;
      } else {
        buf += '`'.repeat(run);
        i += run;
      }
      continue;
    }
    if (!inLink && (ch === '[' || (ch === '!' && text[i + 1] === '['))) {
      const image = ch === '!';
      const link = parseLinkAt(text, image ? i + 1 : i);
      if (link) {
        flush();
        // Images become links: loading a URL chosen by the model would leak the reader's
        // address to whoever the model was told to name.
        appendLink(parent, link.href, link.label || link.href, link.title, depth, !image);
        i = link.end;
        continue;
      }
    }
    if (!inLink && ch === '<') {
      const m = /^<((?:https?:\/\/|mailto:)[^\s<>]+)>/.exec(text.slice(i, i + 2048));
      if (m) {
        flush();
        appendLink(parent, m[1], m[1], '', depth, false);
        i += m[0].length;
        continue;
      }
    }
    if (!inLink && ch === 'h' && (i === 0 || !/[\w/:.@-]/.test(text[i - 1]))) {
      const m = /^https?:\/\/[^\s<>"'`]+/.exec(text.slice(i, i + 2048));
      if (m) {
        let url = m[0].replace(/[.,;:!?*_~]+$/, '');
        // A closing parenthesis belongs to the URL only when it has an opening partner inside.
        while (url.endsWith(')') && (url.match(/\(/g) || []).length < (url.match(/\)/g) || []).length) {
          url = url.slice(0, -1);
        }
        if (url.length > 'https://'.length) {
          flush();
          appendLink(parent, url, url, '', depth, false);
          i += url.length;
          continue;
        }
      }
    }
    if (ch === '*' || ch === '_' || ch === '~') {
      const run = runLength(text, i, ch);
      const delim = ch === '~' ? (run === 2 ? '~~' : null) : run === 2 ? ch + ch : run === 1 ? ch : null;
      const prev = text[i - 1];
      const next = text[i + run];
      // `_` opens only at a word boundary: snake_case and __dunder__ names stay text.
      const openOk = delim && !isSpace(next) &&
                     (ch !== '_' || prev === undefined || !/[\p{L}\p{N}_]/u.test(prev));
      if (openOk) {
        const close = findEmphasisClose(text, i + run, delim);
        if (close > i + run) {
          flush();
          const tag = ch === '~' ? 'del' : delim.length === 2 ? 'strong' : 'em';
          const node = el(tag);
          renderInline(text.slice(i + run, close), node, depth + 1, inLink);
          parent.appendChild(node);
          i = close + delim.length;
          continue;
        }
      }
      buf += ch.repeat(run);
      i += run;
      continue;
    }
    buf += ch;
    i++;
  }
  flush();
}
