// Drawing the state into the page: the buffer list, the lines of the open buffer, its topic and members. Text is
// always set as text (never as markup); links are made only for http(s) addresses.

import { formatRuns, linkify, nickHue } from './irc.js';
import { SERVER, typingIn } from './state.js';

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function nickElement(nick) {
  const node = element('span', 'nick', nick);
  node.style.setProperty('--hue', String(nickHue(nick)));
  return node;
}

/** Formatted text (bold, italics, the 16 colours …) with its links, as spans of classes (no inline styles). */
function richText(text) {
  const fragment = document.createDocumentFragment();
  for (const run of formatRuns(text)) {
    const classes = ['bold', 'italic', 'underline', 'strike', 'monospace'].filter((key) => run[key]).map((key) => `f-${key}`);
    if (run.fg !== undefined) classes.push(`fg-${run.fg}`);
    if (run.bg !== undefined) classes.push(`bg-${run.bg}`);
    if (classes.length === 0) {
      fragment.append(textWithLinks(run.text));
      continue;
    }
    const span = element('span', classes.join(' '));
    span.append(textWithLinks(run.text));
    fragment.append(span);
  }
  return fragment;
}

function textWithLinks(text) {
  const fragment = document.createDocumentFragment();
  for (const part of linkify(text)) {
    if (part.url) {
      const link = element('a', null, part.url);
      link.href = part.url;
      link.rel = 'noopener noreferrer nofollow';
      link.target = '_blank';
      fragment.append(link);
    } else {
      fragment.append(part.text);
    }
  }
  return fragment;
}

export class View {
  constructor(root, state, handlers) {
    this.state = state;
    this.handlers = handlers;
    this.list = root.querySelector('#buffers');
    this.lines = root.querySelector('#lines');
    this.topic = root.querySelector('#topic');
    this.title = root.querySelector('#title');
    this.members = root.querySelector('#members');
    this.status = root.querySelector('#status');
    this.typing = root.querySelector('#typing');
    this.lines.addEventListener('scroll', () => {
      if (this.lines.scrollTop === 0) this.handlers.scrolledToTop?.();
    });
  }

  setStatus(text) {
    this.status.textContent = text;
  }

  /** Who is typing in the buffer being read (said only when it changes, for screen readers). */
  renderTyping() {
    const buffer = this.state.buffers.get(this.state.active);
    const nicks = buffer ? typingIn(buffer) : [];
    const text = nicks.length === 0 ? '' : nicks.length === 1 ? `${nicks[0]} is typing…`
      : nicks.length <= 3 ? `${nicks.join(', ')} are typing…` : 'Several people are typing…';
    if (this.typing.textContent !== text) this.typing.textContent = text;
  }

  /** The peers panel: PearServ's lines, one item each. */
  renderPeers(lines) {
    const list = document.querySelector('#peers');
    list.replaceChildren(...lines.map((text) => element('li', null, text)));
  }

  /** The buffers in the list's order: the gateway, rooms, then conversations, each by name. */
  orderedBuffers() {
    return [...this.state.buffers.entries()].sort(([a, x], [b, y]) =>
      a === SERVER ? -1 : b === SERVER ? 1 : x.kind === y.kind ? a.localeCompare(b) : x.kind === 'channel' ? -1 : 1);
  }

  renderBuffers() {
    // Drawn again only when something it shows changed (not for every line of a busy room being read).
    const ordered = this.orderedBuffers();
    const signature = JSON.stringify([this.state.active, ordered.map(([key, b]) => [key, b.unread, b.mentions, b.joined])]);
    if (signature === this.listSignature) return;
    this.listSignature = signature;
    // The list is drawn again; the button the reader is on keeps the focus.
    const focused = document.activeElement?.closest?.('#buffers') ? document.activeElement.dataset.key : null;
    this.list.replaceChildren();
    for (const [key, buffer] of ordered) {
      const item = element('li');
      const button = element('button', 'buffer');
      button.type = 'button';
      button.dataset.key = key;
      button.append(element('span', 'name', buffer.kind === 'server' ? 'Gateway' : buffer.name));
      if (buffer.kind === 'channel' && !buffer.joined) button.append(element('span', 'visually-hidden', ' (left)'));
      if (buffer.unread > 0) {
        const badge = element('span', buffer.mentions > 0 ? 'badge mention' : 'badge', String(buffer.unread));
        badge.setAttribute('aria-label', `${buffer.unread} unread${buffer.mentions ? `, ${buffer.mentions} mentioning you` : ''}`);
        button.append(badge);
      }
      if (key === this.state.active) button.setAttribute('aria-current', 'page');
      if (buffer.kind === 'channel' && !buffer.joined) button.classList.add('parted');
      button.addEventListener('click', () => this.handlers.select(buffer.kind === 'server' ? SERVER : buffer.name));
      item.append(button);
      this.list.append(item);
      if (key === focused) button.focus();
    }
  }

  renderBuffer({ keepScroll = false } = {}) {
    const buffer = this.state.buffers.get(this.state.active);
    if (!buffer) return;
    this.title.textContent = buffer.kind === 'server' ? 'Gateway' : buffer.name;
    this.renderTyping();
    this.topic.textContent = buffer.topic;
    const atBottom = this.lines.scrollHeight - this.lines.scrollTop - this.lines.clientHeight < 40;
    const previousHeight = this.lines.scrollHeight;
    // New lines at the end of the buffer shown are added (a screen reader hears only them, a selection stays);
    // anything else (another buffer, older lines, lines dropped) draws the buffer again.
    const appending = this.shown === buffer && buffer.lines[0] === this.firstShown && buffer.lines.length >= this.countShown
      && buffer.lines[this.countShown - 1] === this.lastShown;
    const from = appending ? this.countShown : 0;
    if (!appending) {
      this.lines.replaceChildren();
      this.day = '';
    }
    for (const line of buffer.lines.slice(from)) {
      const lineDay = dayFormat.format(line.time);
      if (lineDay !== this.day) {
        this.day = lineDay;
        this.lines.append(element('li', 'day', lineDay));
      }
      this.lines.append(this.lineElement(line));
    }
    this.firstShown = buffer.lines[0];
    this.lastShown = buffer.lines.at(-1);
    this.countShown = buffer.lines.length;
    if (keepScroll) this.lines.scrollTop = this.lines.scrollHeight - previousHeight;
    else if (atBottom || this.shown !== buffer) this.lines.scrollTop = this.lines.scrollHeight;
    this.shown = buffer;
    this.renderMembers(buffer);
  }

  lineElement(line) {
    const item = element('li', `line ${line.kind}${line.mention ? ' mention' : ''}${line.own ? ' own' : ''}`);
    const time = element('time', 'time', timeFormat.format(line.time));
    time.dateTime = line.time.toISOString();
    item.append(time, ' ');
    if (line.kind === 'action') {
      item.append('* ', nickElement(line.nick), ' ', richText(line.rich ?? line.text));
    } else if (line.kind === 'event' || line.kind === 'error') {
      item.append(textWithLinks(line.text));
    } else {
      const nick = nickElement(line.nick);
      const text = element('span', 'text');
      text.append(richText(line.rich ?? line.text));
      item.append(line.kind === 'notice' ? '-' : '<', nick, line.kind === 'notice' ? '- ' : '> ', text);
    }
    return item;
  }

  renderMembers(buffer) {
    this.members.replaceChildren();
    if (buffer.kind !== 'channel') return;
    const sorted = [...buffer.members.values()].sort((a, b) =>
      (b.prefix ? 1 : 0) - (a.prefix ? 1 : 0) || a.nick.localeCompare(b.nick, undefined, { sensitivity: 'base' }));
    for (const member of sorted) {
      const item = element('li', member.away ? 'member away' : 'member');
      // A member is a button: it opens a conversation with them (not with ourselves).
      const button = element('button', 'member-button');
      button.type = 'button';
      button.append(element('span', 'prefix', member.prefix), nickElement(member.nick));
      button.setAttribute('aria-label', `${member.nick}${member.away ? ' (away)' : ''}: write to them`);
      if (member.nick.toLowerCase() !== this.state.nick.toLowerCase()) {
        button.addEventListener('click', () => this.handlers.query?.(member.nick));
      } else {
        button.disabled = true;
      }
      item.append(button);
      this.members.append(item);
    }
  }
}
