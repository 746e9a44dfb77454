// The IRC connection over the gateway's WebSocket (`/irc`, `text.ircv3.net`): capability negotiation, SASL PLAIN
// login, PING answers, batches, and reconnecting with back-off after a network drop. Events out, lines in.

import { parse, serialize } from './irc.js';

/** Capabilities the client uses when the server offers them. */
export const WANTED_CAPS = [
  'message-tags', 'server-time', 'batch', 'echo-message', 'draft/chathistory', 'away-notify', 'multi-prefix',
  'account-tag', 'extended-join', 'sasl',
];

export class Connection extends EventTarget {
  /** `login`: { nick, account, password } (account and password may be empty: no login). */
  constructor(url, login) {
    super();
    this.url = url;
    this.login = login;
    this.socket = null;
    this.caps = new Set();
    this.batches = new Map(); // reference -> type
    this.registered = false;
    this.stopped = false;
    this.retry = 0;
    this.timer = null;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close(1000, 'bye');
  }

  open() {
    this.caps = new Set();
    this.batches.clear();
    this.registered = false;
    this.emit('status', { state: 'connecting' });
    const socket = new WebSocket(this.url, ['text.ircv3.net']);
    this.socket = socket;
    socket.addEventListener('open', () => {
      this.send('CAP', 'LS', '302');
      this.send('NICK', this.login.nick);
      this.send('USER', this.login.nick, '0', '*', this.login.nick);
    });
    socket.addEventListener('message', (event) => {
      if (typeof event.data !== 'string') return;
      for (const line of event.data.split(/\r?\n/)) if (line) this.received(line);
    });
    socket.addEventListener('close', () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.emit('status', { state: 'disconnected' });
      if (this.stopped) return;
      // Back off (1, 2, 4 … 30 s) and try again; catching up is the app's business once registered again.
      const delay = Math.min(30000, 1000 * 2 ** this.retry++);
      this.emit('status', { state: 'waiting', seconds: Math.round(delay / 1000) });
      this.timer = setTimeout(() => this.open(), delay);
    });
  }

  /** Sends one command; parameters are checked (no CR, LF or NUL). */
  send(command, ...params) {
    this.sendMessage({ command, params });
  }

  sendMessage(message) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(serialize(message));
    return true;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  received(line) {
    const message = parse(line);
    if (!message) return;
    const p = message.params;
    switch (message.command) {
      case 'PING':
        this.send('PONG', ...p);
        return;
      case 'CAP':
        this.capability(p);
        return;
      case 'AUTHENTICATE':
        if (p[0] === '+') {
          const { account, password } = this.login;
          const blob = `${account}\0${account}\0${password}`;
          this.send('AUTHENTICATE', btoa(String.fromCharCode(...new TextEncoder().encode(blob))));
        }
        return;
      case '903':
      case '904':
      case '905':
      case '906':
        if (message.command !== '903') this.emit('loginfailed', { text: p.slice(1).join(' ') });
        this.send('CAP', 'END');
        return;
      case '001':
        this.registered = true;
        this.retry = 0;
        this.emit('status', { state: 'connected' });
        break;
      case '433':
        if (!this.registered) this.send('NICK', `${this.login.nick}_`);
        break;
      case 'BATCH': {
        const reference = p[0] ?? '';
        if (reference.startsWith('+')) this.batches.set(reference.slice(1), p[1]);
        else this.batches.delete(reference.slice(1));
        this.emit('batch', { reference: reference.slice(1), type: p[1], open: reference.startsWith('+'), target: p[2] });
        return;
      }
      default:
        break;
    }
    const batch = message.tags.batch;
    const inHistory = batch !== undefined && this.batches.get(batch) === 'chathistory';
    this.emit('message', { message, inHistory });
  }

  capability(p) {
    const sub = p[1];
    if (sub === 'LS') {
      const more = p[2] === '*';
      for (const entry of (more ? p[3] : p[2]).split(' ')) if (entry) this.caps.add(entry.split('=')[0]);
      if (more) return;
      const wanted = WANTED_CAPS.filter((cap) => this.caps.has(cap) && (cap !== 'sasl' || this.login.password));
      this.caps = new Set();
      if (wanted.length) this.send('CAP', 'REQ', wanted.join(' '));
      else this.send('CAP', 'END');
    } else if (sub === 'ACK') {
      for (const cap of p[2].split(' ')) if (cap) this.caps.add(cap.replace(/^-/, ''));
      if (this.caps.has('sasl') && this.login.password) this.send('AUTHENTICATE', 'PLAIN');
      else this.send('CAP', 'END');
    } else if (sub === 'NAK') {
      this.send('CAP', 'END');
    }
  }
}
