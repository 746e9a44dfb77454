// The browser client: a login form, then the chat (buffers, lines, members, input). Wires the connection, the state
// and the view together, and asks the gateway for history: the latest lines of a room when joined, older ones when
// scrolled back to, and what was missed after a reconnect.

import { Connection } from './connection.js';
import { interpret } from './commands.js';
import { ChatState, SERVER } from './state.js';
import { View } from './view.js';

const HISTORY_PAGE = 100;

function socketURL() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/irc`;
}

function timestamp(date) {
  return `timestamp=${date.toISOString()}`;
}

class App {
  constructor() {
    this.state = new ChatState();
    this.view = new View(document, this.state, {
      select: (name) => this.select(name),
      scrolledToTop: () => this.loadOlder(),
    });
    this.connection = null;
    this.loading = new Set();
    this.wasConnected = false;
    document.querySelector('#login').addEventListener('submit', (event) => {
      event.preventDefault();
      this.start(new FormData(event.target));
    });
    document.querySelector('#input').addEventListener('submit', (event) => {
      event.preventDefault();
      const field = document.querySelector('#text');
      this.typed(field.value);
      field.value = '';
    });
  }

  start(form) {
    const login = {
      nick: String(form.get('nick') || 'webuser').trim(),
      account: String(form.get('account') || '').trim(),
      password: String(form.get('password') || ''),
    };
    if (!login.account) login.account = login.nick;
    document.querySelector('#welcome').hidden = true;
    document.querySelector('#chat').hidden = false;
    this.connection = new Connection(socketURL(), login);
    this.connection.addEventListener('status', (event) => this.statusChanged(event.detail));
    this.connection.addEventListener('loginfailed', (event) => this.note(`Login failed: ${event.detail.text}`));
    this.connection.addEventListener('message', (event) => this.received(event.detail));
    this.connection.addEventListener('batch', (event) => {
      if (!event.detail.open) this.historyDone(event.detail.reference);
    });
    this.connection.start();
    this.render();
    document.querySelector('#text').focus();
  }

  statusChanged({ state, seconds }) {
    const text = {
      connecting: 'Connecting…',
      connected: 'Connected',
      disconnected: 'Disconnected',
      waiting: `Disconnected: trying again in ${seconds} s`,
    }[state];
    this.view.setStatus(text);
    if (state === 'connected') {
      if (this.wasConnected) this.catchUp();
      this.wasConnected = true;
    }
  }

  received({ message, inHistory }) {
    const change = this.state.apply(message, { inBatch: inHistory });
    if (change.joined) this.requestHistory(change.buffer, 'LATEST', '*');
    if (change.joined && this.pendingSelect && change.buffer.toLowerCase() === this.pendingSelect.toLowerCase()) {
      this.select(change.buffer);
      this.pendingSelect = null;
    }
    if (inHistory) return;
    this.render();
  }

  /** After a reconnect: every joined room's lines since its newest one shown (the client rejoins rooms itself). */
  catchUp() {
    for (const buffer of this.state.buffers.values()) {
      if (buffer.kind === 'channel' && buffer.joined) {
        buffer.joined = false;
        this.connection.send('JOIN', buffer.name);
      } else if (buffer.kind === 'query') {
        const since = this.state.newestTime(buffer);
        if (since) this.requestHistory(buffer.name, 'AFTER', timestamp(since));
      }
    }
  }

  requestHistory(target, subcommand, reference) {
    if (!this.connection.caps.has('draft/chathistory')) return;
    const key = `${target.toLowerCase()}`;
    if (this.loading.has(key)) return;
    this.loading.add(key);
    this.connection.send('CHATHISTORY', subcommand, target, reference, String(HISTORY_PAGE));
  }

  historyDone() {
    // A batch ended: its lines are in; draw once for the lot. Scrolling back that brought nothing older means the
    // buffer's history is all here.
    this.loading.clear();
    const olderLoaded = Boolean(this.olderRequest);
    if (this.olderRequest) {
      const buffer = this.olderRequest.buffer;
      if (buffer.lines.length === this.olderRequest.count) buffer.complete = true;
      this.olderRequest = null;
    }
    // Older lines keep the reader where they were; a room's latest lines show its end.
    this.render({ keepScroll: olderLoaded });
  }

  loadOlder() {
    const buffer = this.state.buffers.get(this.state.active);
    if (!buffer || buffer.kind === 'server' || buffer.complete) return;
    const oldest = this.state.oldestID(buffer);
    if (!oldest) return;
    this.olderRequest = { buffer, count: buffer.lines.length };
    this.requestHistory(buffer.name, 'BEFORE', `msgid=${oldest}`);
  }

  select(name) {
    this.state.buffer(name === SERVER ? SERVER : name);
    this.state.select(name);
    this.render();
    document.querySelector('#text').focus();
  }

  typed(input) {
    const buffer = this.state.buffers.get(this.state.active);
    const result = interpret(input, buffer);
    if (result.local) this.note(result.local);
    if (result.raw) this.connection.socket?.send(result.raw);
    for (const message of result.send) {
      if (!this.connection.sendMessage(message)) this.note('Not connected: the line was not sent.');
      // Without echo-message the server does not send our own line back: it is shown as sent.
      else if (message.command === 'PRIVMSG' && !this.connection.caps.has('echo-message')) {
        this.state.apply({ tags: {}, source: { nick: this.state.nick, user: 'me', host: 'me' }, command: 'PRIVMSG', params: message.params });
      }
    }
    if (result.open) this.select(result.open);
    else if (result.select && !result.select.startsWith('#')) this.select(result.select);
    else if (result.select) this.pendingSelect = result.select;
    this.render();
  }

  note(text) {
    this.state.addLine(this.state.buffers.get(this.state.active), { kind: 'error', time: new Date(), text });
    this.render();
  }

  render(options) {
    this.view.renderBuffers();
    this.view.renderBuffer(options);
  }
}

// The theme follows the system's unless the reader picks one; the choice is remembered.
const theme = localStorage.getItem('theme');
if (theme) document.documentElement.dataset.theme = theme;
document.querySelector('#theme').addEventListener('click', () => {
  const dark = document.documentElement.dataset.theme
    ? document.documentElement.dataset.theme === 'dark'
    : matchMedia('(prefers-color-scheme: dark)').matches;
  document.documentElement.dataset.theme = dark ? 'light' : 'dark';
  localStorage.setItem('theme', document.documentElement.dataset.theme);
});

new App();
