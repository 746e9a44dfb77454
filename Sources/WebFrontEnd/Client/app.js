// The browser client: a login form, then the chat (buffers, lines, members, input). Wires the connection, the state
// and the view together, and asks the gateway for history: the latest lines of a room when joined, older ones when
// scrolled back to, and what was missed after a reconnect.

import { Connection } from './connection.js';
import { InputHistory, Session, chathistoryTargets, complete, interpret, serviceLines } from './commands.js';
import { fold } from './irc.js';
import { ChatState, SERVER } from './state.js';
import { View } from './view.js';

const HISTORY_PAGE = 100;

/** The browser's storage, or a stand-in that keeps nothing where it is blocked (reading `localStorage` then throws):
 * the page works without it, it only forgets between visits. */
const storage = (() => {
  try {
    const real = globalThis.localStorage;
    real.getItem('theme');
    return real;
  } catch {
    return { getItem: () => null, setItem: () => {} };
  }
})();

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
      query: (nick) => {
        this.select(nick);
        document.querySelector('#chat').classList.remove('members-open');
        document.querySelector('#show-members').setAttribute('aria-expanded', 'false');
      },
    });
    this.connection = null;
    this.loading = new Map(); // folded target -> { buffer, count, older, catchingUp }
    this.keys = new Map(); // folded channel -> the key it was joined with
    this.catchingUp = new Map(); // folded channel -> the time to catch up from, after a reconnect
    this.wasConnected = false;
    document.querySelector('#login').addEventListener('submit', (event) => {
      event.preventDefault();
      this.start(new FormData(event.target));
    });
    this.history = new InputHistory();
    this.completion = null;
    const field = document.querySelector('#text');
    document.querySelector('#input').addEventListener('submit', (event) => {
      event.preventDefault();
      this.send(field);
    });
    field.addEventListener('keydown', (event) => this.key(event, field));
    // The peers panel asks the gateway (PearServ) when opened, and every 20 seconds while it stays open.
    const panel = document.querySelector('#peers-panel');
    panel.addEventListener('toggle', () => {
      clearInterval(this.peersTimer);
      if (!panel.open) return;
      this.refreshPeers();
      this.peersTimer = setInterval(() => this.refreshPeers(), 20000);
    });
    document.querySelector('#refresh-peers').addEventListener('click', () => this.refreshPeers());
    // Desktop notifications of mentions and private messages while the page is not being looked at, once allowed.
    const notify = document.querySelector('#notify');
    if (globalThis.Notification && Notification.permission === 'default') {
      notify.hidden = false;
      notify.addEventListener('click', async () => {
        await Notification.requestPermission();
        notify.hidden = Notification.permission !== 'default';
      });
    }
    const showMembers = document.querySelector('#show-members');
    showMembers.addEventListener('click', () => {
      const open = document.querySelector('#chat').classList.toggle('members-open');
      showMembers.setAttribute('aria-expanded', String(open));
    });
    // What this browser remembers (never the password): the nick and account last used, and the rooms to go back to.
    const saved = Session.load(storage);
    if (saved.nick) document.querySelector('#nick').value = saved.nick;
    if (saved.account) document.querySelector('#account').value = saved.account;
    this.rejoin = saved.rooms;
    field.addEventListener('input', () => {
      this.fit(field);
      this.typingChanged(field.value);
    });
    this.typingTarget = null;
    this.typingSent = 0;
    // Typing notices expire by themselves: the line saying who types is redrawn every second.
    setInterval(() => this.view.renderTyping(), 1000);
  }

  start(form) {
    const login = {
      nick: String(form.get('nick') || 'webuser').trim(),
      account: String(form.get('account') || '').trim(),
      password: String(form.get('password') || ''),
    };
    if (!login.account) login.account = login.nick;
    document.querySelector('#password').value = '';
    Session.save(storage, { nick: login.nick, account: form.get('account') ? login.account : '', rooms: this.rejoin });
    document.querySelector('#welcome').hidden = true;
    document.querySelector('#chat').hidden = false;
    this.connection = new Connection(socketURL(), login);
    this.connection.addEventListener('status', (event) => this.statusChanged(event.detail));
    this.connection.addEventListener('loginfailed', (event) => this.note(`Login failed: ${event.detail.text}`));
    this.connection.addEventListener('message', (event) => this.received(event.detail));
    this.connection.addEventListener('batch', (event) => {
      if (!event.detail.open && event.detail.type === 'chathistory') this.historyDone(event.detail.target);
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
    if (state === 'disconnected' && !this.lostAt) this.lostAt = new Date();
    if (state === 'connected') {
      if (this.wasConnected) this.catchUp();
      else for (const room of this.rejoin) this.connection.send('JOIN', room);
      this.wasConnected = true;
    }
  }

  received({ message, inHistory, batchTarget }) {
    const request = batchTarget ? this.loading.get(fold(batchTarget)) : null;
    const change = this.state.apply(message, { inBatch: inHistory, batchTarget, catchingUp: Boolean(request?.catchingUp) });
    if (change.joined) this.remember(change.buffer, true);
    if (change.mention && !inHistory && document.hidden && globalThis.Notification?.permission === 'granted') {
      const line = this.state.find(change.buffer)?.lines.at(-1);
      if (line) {
        const shown = new Notification(change.buffer.startsWith('#') ? `${line.nick} in ${change.buffer}` : line.nick, { body: line.text, tag: change.buffer });
        shown.addEventListener('click', () => {
          globalThis.focus();
          this.select(change.buffer);
        });
      }
    }
    if (change.left) this.remember(change.buffer, false);
    if (change.joined) {
      // Back after a reconnect: what was said since the newest line shown; a first join: the latest lines.
      const since = this.catchingUp.get(fold(change.buffer));
      this.catchingUp.delete(fold(change.buffer));
      if (since) this.requestHistory(change.buffer, 'AFTER', timestamp(since), { catchingUp: true });
      else this.requestHistory(change.buffer, 'LATEST', '*');
    }
    if (change.joined && this.pendingSelect && fold(change.buffer) === fold(this.pendingSelect)) {
      this.select(change.buffer);
      this.pendingSelect = null;
    }
    // A history request the server refused (FAIL CHATHISTORY …) is over.
    if (change.failed === 'CHATHISTORY' && change.target) this.loading.delete(fold(change.target));
    if (inHistory) return;
    this.render();
  }

  /** After a reconnect: rooms are joined again (with their keys) and each asks for what was said since its newest
   * line; conversations ask for theirs too. */
  catchUp() {
    for (const buffer of this.state.buffers.values()) {
      const since = this.state.newestTime(buffer);
      if (buffer.kind === 'channel' && buffer.joined) {
        buffer.joined = false;
        if (since) this.catchingUp.set(fold(buffer.name), since);
        const key = this.keys.get(fold(buffer.name));
        this.connection.send('JOIN', ...(key ? [buffer.name, key] : [buffer.name]));
      } else if (buffer.kind === 'query' && since) {
        this.requestHistory(buffer.name, 'AFTER', timestamp(since), { catchingUp: true });
      }
    }
    this.findNewConversations();
  }

  /** After a reconnect: conversations someone started while we were away (CHATHISTORY TARGETS since the connection
   * was lost) are opened, with what they said. */
  async findNewConversations() {
    const lost = this.lostAt;
    this.lostAt = null;
    if (!lost || !this.connection.caps.has('draft/chathistory')) return;
    const from = new Date(lost.getTime() - 60000);
    let answer;
    try {
      answer = await this.connection.request('CHATHISTORY', 'TARGETS', timestamp(from), timestamp(new Date(Date.now() + 60000)), '50');
    } catch {
      return; // Not labeled, or no answer: the conversations show when their next line comes.
    }
    for (const target of chathistoryTargets(answer)) {
      if (target.startsWith('#') || target.startsWith('&') || this.state.find(target)) continue;
      this.state.buffer(target, 'query');
      this.requestHistory(target, 'AFTER', timestamp(from), { catchingUp: true });
    }
    this.render();
  }

  requestHistory(target, subcommand, reference, { older = false, catchingUp = false } = {}) {
    if (!this.connection.caps.has('draft/chathistory')) return;
    const key = fold(target);
    if (this.loading.has(key)) return;
    const buffer = this.state.buffer(target);
    this.loading.set(key, { buffer, count: buffer.lines.length, older, catchingUp, subcommand });
    this.connection.send('CHATHISTORY', subcommand, target, reference, String(HISTORY_PAGE));
  }

  historyDone(target) {
    // A batch ended: its lines are in; draw once for the lot.
    const request = target ? this.loading.get(fold(target)) : null;
    if (target) this.loading.delete(fold(target));
    if (request?.older && request.buffer.lines.length === request.count) request.buffer.complete = true;
    // Missed lines come in pages: a full page may not be all of them.
    if (request?.catchingUp && request.buffer.lines.length - request.count >= HISTORY_PAGE) {
      const since = this.state.newestTime(request.buffer);
      if (since) this.requestHistory(request.buffer.name, 'AFTER', timestamp(since), { catchingUp: true });
    }
    // Older lines keep the reader where they were; a room's latest lines show its end.
    this.render({ keepScroll: Boolean(request?.older) });
  }

  loadOlder() {
    const buffer = this.state.buffers.get(this.state.active);
    if (!buffer || buffer.kind === 'server' || buffer.complete) return;
    const oldest = this.state.oldestID(buffer);
    if (!oldest) return;
    this.requestHistory(buffer.name, 'BEFORE', `msgid=${oldest}`, { older: true });
  }

  select(name) {
    this.state.buffer(name === SERVER ? SERVER : name);
    this.state.select(name);
    this.render();
    document.querySelector('#text').focus();
  }

  /** Who this gateway is connected to, and how: PearServ's `peers`, answered as a labeled batch. */
  async refreshPeers() {
    if (!this.connection) return;
    let lines;
    try {
      const answer = await this.connection.request('PRIVMSG', 'PearServ', 'peers');
      lines = serviceLines(answer, 'PearServ');
    } catch (error) {
      lines = [`Could not ask the gateway (${error.message}).`];
    }
    this.view.renderPeers(lines);
  }

  /**
   * Tells the room (or person) we write to that we are typing (IRCv3 `+typing`, at most every three seconds), and
   * that we stopped when the input is emptied. Not for commands; not where the gateway does not take message tags.
   */
  typingChanged(text) {
    const buffer = this.state.buffers.get(this.state.active);
    if (!buffer || buffer.kind === 'server' || !this.connection?.caps.has('message-tags')) return;
    const typing = text.trim() !== '' && (!text.startsWith('/') || text.startsWith('//'));
    const now = Date.now();
    if (typing && (now - this.typingSent > 3000 || this.typingTarget !== buffer.name)) {
      this.typingSent = now;
      this.typingTarget = buffer.name;
      this.connection.sendMessage({ tags: { '+typing': 'active' }, command: 'TAGMSG', params: [buffer.name] });
    } else if (!typing && this.typingTarget) {
      this.connection.sendMessage({ tags: { '+typing': 'done' }, command: 'TAGMSG', params: [this.typingTarget] });
      this.typingTarget = null;
      this.typingSent = 0;
    }
  }

  /** Sends what is in the input; a paste too long to send stays there. */
  send(field) {
    const input = field.value;
    // A line sent ends our typing where it goes; a command sent from the input ends it explicitly.
    if (this.typingTarget && input.startsWith('/') && !input.startsWith('//')) this.typingChanged('');
    this.typingTarget = null;
    this.typingSent = 0;
    if (!this.typed(input)) {
      this.history.add(input);
      field.value = '';
      this.fit(field);
    }
  }

  /** Enter sends (Shift+Enter is a new line), Tab completes a nick, Up and Down go through what was sent (on the
   * first or last line), Alt+Up and Alt+Down change the room. */
  key(event, field) {
    if (event.key !== 'Tab') this.completion = null;
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      this.send(field);
    } else if (event.key === 'Tab' && !event.shiftKey && !event.altKey && !event.ctrlKey) {
      const completed = complete(field.value, field.selectionStart, this.nicksHere(), this.completion?.cycle);
      if (!completed) return;
      event.preventDefault();
      this.completion = completed;
      field.value = completed.text;
      field.setSelectionRange(completed.caret, completed.caret);
    } else if ((event.key === 'ArrowUp' || event.key === 'ArrowDown') && event.altKey) {
      event.preventDefault();
      this.selectNeighbour(event.key === 'ArrowUp' ? -1 : 1);
    } else if (event.key === 'ArrowUp' && !field.value.slice(0, field.selectionStart).includes('\n')
        || event.key === 'ArrowDown' && !field.value.slice(field.selectionEnd).includes('\n')) {
      const text = this.history.move(event.key === 'ArrowUp' ? -1 : 1, field.value);
      if (text === null) return;
      event.preventDefault();
      field.value = text;
      this.fit(field);
    }
  }

  /** The input grows with the lines in it (up to its maximum height). */
  fit(field) {
    field.style.height = 'auto';
    field.style.height = `${field.scrollHeight + 2}px`;
  }

  /** Nicks for completion in the room being read: the latest speakers first, then the other members. */
  nicksHere() {
    const buffer = this.state.buffers.get(this.state.active);
    if (!buffer) return [];
    const nicks = [];
    const seen = new Set([fold(this.state.nick)]);
    for (const line of [...buffer.lines].reverse()) {
      if (line.nick && !seen.has(fold(line.nick)) && (buffer.kind !== 'channel' || buffer.members.has(fold(line.nick)))) {
        seen.add(fold(line.nick));
        nicks.push(line.nick);
      }
    }
    const others = [...(buffer.members?.values() ?? [])].map((member) => member.nick).filter((nick) => !seen.has(fold(nick)));
    if (buffer.kind === 'query' && !seen.has(fold(buffer.name))) others.push(buffer.name);
    return nicks.concat(others.sort((a, b) => a.localeCompare(b)));
  }

  /** The room or conversation above or below the one being read, in the list's order. */
  selectNeighbour(step) {
    const ordered = this.view.orderedBuffers();
    const here = ordered.findIndex(([key]) => key === this.state.active);
    const [, next] = ordered[(here + step + ordered.length) % ordered.length] ?? [];
    if (next) this.select(next.kind === 'server' ? SERVER : next.name);
  }

  /** What a typed line means, done; returns whether it is to stay in the input (a paste too long to send). */
  typed(input) {
    const buffer = this.state.buffers.get(this.state.active);
    const result = interpret(input, buffer, this.state.nick);
    if (result.local) this.note(result.local);
    if (result.raw && !this.connection.sendRaw(result.raw)) this.note('Not connected, or not one line: nothing was sent.');
    for (const message of result.send) {
      if (message.command === 'JOIN' && message.params[1]) this.keys.set(fold(message.params[0]), message.params[1]);
    }
    for (const message of result.send) {
      let sent;
      try {
        sent = this.connection.sendMessage(message);
      } catch (error) {
        this.note(`Not sent: ${error.message}`);
        continue;
      }
      if (!sent) this.note('Not connected: the line was not sent.');
      // Without echo-message the server does not send our own line back: it is shown as sent.
      else if (message.command === 'PRIVMSG' && !this.connection.caps.has('echo-message')) {
        this.state.apply({ tags: {}, source: { nick: this.state.nick, user: 'me', host: 'me' }, command: 'PRIVMSG', params: message.params });
      }
    }
    if (result.open) this.select(result.open);
    else if (result.select && !result.select.startsWith('#')) this.select(result.select);
    else if (result.select) this.pendingSelect = result.select;
    this.render();
    return Boolean(result.keep);
  }

  note(text) {
    this.state.note(text);
    this.render();
  }

  /** The rooms to go back to after a reload: joined ones are added, left ones removed (public rooms by name; a
   * private room's key is not kept in the browser: it is joined again with its key or invite). */
  remember(room, joined) {
    const others = this.rejoin.filter((name) => fold(name) !== fold(room));
    const rooms = joined && !this.keys.has(fold(room)) ? [...others, room] : others;
    if (rooms.join(',') === this.rejoin.join(',')) return;
    this.rejoin = rooms;
    Session.save(storage, { ...Session.load(storage), rooms });
  }

  render(options) {
    this.view.renderBuffers();
    this.view.renderBuffer(options);
    // Unread lines elsewhere show in the tab's title, mentions first.
    let unread = 0, mentioned = 0;
    for (const buffer of this.state.buffers.values()) {
      unread += buffer.unread;
      mentioned += buffer.mentions;
    }
    document.title = mentioned > 0 ? `(${mentioned}!) PearIRC` : unread > 0 ? `(${unread}) PearIRC` : 'PearIRC';
  }
}

// The theme follows the system's unless the reader picks one; the choice is remembered.
const theme = storage.getItem('theme');
if (theme) document.documentElement.dataset.theme = theme;
document.querySelector('#theme').addEventListener('click', () => {
  const dark = document.documentElement.dataset.theme
    ? document.documentElement.dataset.theme === 'dark'
    : matchMedia('(prefers-color-scheme: dark)').matches;
  document.documentElement.dataset.theme = dark ? 'light' : 'dark';
  storage.setItem('theme', document.documentElement.dataset.theme);
  document.querySelector('#theme').setAttribute('aria-pressed', String(!dark));
});

new App();
